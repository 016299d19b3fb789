"""`studio validate` and `studio render` on a shot list with bad rows: every bad row is named, with the shot's
row, name and what to do, before the model loads (a render used to load it, then stop at the first bad row)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from studio.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def bad_copy(tmp_path: Path) -> Path:
    data = json.loads((EXAMPLES / "shots.studio.json").read_text())
    rows = next(n for n in data["nodes"] if n["id"] == "shots")["params"]["shots"]
    rows[1]["prompt"] = ""
    rows[3]["seconds"] = 0
    data["links"] = [lk for lk in data["links"] if lk["from"][0] != "character_b"]
    for png in EXAMPLES.glob("character-*.png"):
        shutil.copy(png, tmp_path / png.name)
    path = tmp_path / "bad.studio.json"
    path.write_text(json.dumps(data))
    return path


EXPECTED = [
    "node 'shots', parameter 'shots': shot 2 ('descent') needs a prompt (say what the shot shows)",
    "node 'shots', parameter 'shots': shot 3 ('enter') shows character 'b', but no picture is connected to "
    "'character_b' (connect a Reference Image, or clear the shot's character)",
    "node 'shots', parameter 'shots': shot 4 ('lift') needs a length in 'seconds' above 0 and up to 120 (got 0)",
    "node 'shots', parameter 'shots': shot 6 ('farewell') shows character 'b', but no picture is connected to "
    "'character_b' (connect a Reference Image, or clear the shot's character)",
]


def test_validate_names_every_bad_row(tmp_path, capsys):
    assert main(["validate", str(bad_copy(tmp_path))]) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    for line in EXPECTED:
        assert line in text, text


def test_render_stops_on_the_rows_before_loading_the_model(tmp_path, capsys):
    code = main(["render", str(bad_copy(tmp_path)), "-o", str(tmp_path / "clip.mp4"), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and not (tmp_path / "clip.mp4").exists()
    assert "4 problem(s)" in err and all(line in err for line in EXPECTED), err
    assert "model " not in err, err  # no node ran: the timings table would list the Load Model node
