"""`studio render` of unchanged work, run again (a new process: a new session), returns the clip already in
the output folder: no second numbered copy, and the model does not load."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def studio_render(graph: Path, *extra: str) -> str:
    done = subprocess.run([sys.executable, "-m", "studio.cli", "render", str(graph), *extra],
                          capture_output=True, text=True, timeout=600, cwd=graph.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_render_twice_writes_one_clip_and_loads_no_model_the_second_time(tmp_path):
    data = json.loads((ROOT / "resources/examples/first-clip.studio.json").read_text())
    # without its Preview node, the clip is all the graph makes (a Preview still needs the frames)
    data["nodes"] = [n for n in data["nodes"] if n["id"] != "preview"]
    data["links"] = [lk for lk in data["links"] if lk["to"][0] != "preview"]
    graph = tmp_path / "clip.studio.json"
    graph.write_text(json.dumps(data))

    first = studio_render(graph)
    clip = tmp_path / "renders" / "first-clip.mp4"
    stamp = clip.stat().st_mtime_ns
    second = studio_render(graph)
    assert not re.search(r"^\s+model\s+cached$", first, re.M)
    for name in ("model", "generate", "export"):
        assert re.search(rf"^\s+{name}\s+cached$", second, re.M), second
    assert f"already there: {clip} (the same clip" in second and "wrote" not in second
    assert sorted(p.name for p in clip.parent.iterdir() if p.is_file()) == ["first-clip.mp4"]
    assert clip.stat().st_mtime_ns == stamp

    studio_render(graph, "--overwrite")  # asked to write: it writes, in place
    assert sorted(p.name for p in clip.parent.iterdir() if p.is_file()) == ["first-clip.mp4"]
    assert clip.stat().st_mtime_ns != stamp
