"""Time to a first clip, guarded without timing: what `studio demo` imports, the garbage collector's pause
while the model stack loads, and OpenMP's sleeping waits asked for before torch loads
(tests/benchmarks/bench_first_clip.py measures the seconds)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import warmup

ROOT = Path(__file__).resolve().parents[2]

# The demo in a fresh interpreter, as `studio demo` runs it (studio.cli.program.main), recording every
# collection the cyclic garbage collector starts and whether a model had been loaded by then (the loader
# freezes what exists once it is in), then the modules that came in and the clip's verification.
DEMO = r"""
import gc, json, os, sys
loaded = [False]
collections = []

def on_collect(phase, info):
    if phase == "start":
        loaded[0] = loaded[0] or gc.get_freeze_count() > 0
        collections.append([info["generation"], loaded[0]])

gc.callbacks.append(on_collect)
omp_at_torch = []

class SeesTorch:  # notes the OpenMP wait policy as torch starts to load (libgomp reads it then)
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not omp_at_torch:
            omp_at_torch.append(os.environ.get("GOMP_SPINCOUNT"))
        return None

sys.meta_path.insert(0, SeesTorch())
from studio.cli import main
at_main = len(collections)
rc = main(["demo", "-o", sys.argv[1], "--overwrite", "--quiet"])
gc.callbacks.remove(on_collect)
from studio.media.verify import verify_file
report = verify_file(sys.argv[1])
print("RESULT " + json.dumps({
    "rc": rc, "modules": sorted(sys.modules), "collections": collections[at_main:],
    "gc_enabled": gc.isenabled(), "frozen_after": gc.get_freeze_count(),
    "valid": report.valid, "watermark": report.watermark is not None and report.watermark.matches_manifest,
    "omp_at_torch": omp_at_torch,
}))
"""


@pytest.fixture
def gc_restored():
    """Whatever a test does to the collector, the next test finds it enabled and unfrozen."""
    yield
    warmup.end_gc_pause()
    gc.enable()
    gc.unfreeze()


def test_pause_holds_collection_until_resumed_then_freezes_and_thaws(gc_restored):
    assert warmup.pause_gc() is True
    assert not gc.isenabled()
    assert warmup.pause_gc() is False  # a second pause is the same pause
    before = gc.get_freeze_count()
    warmup.resume_gc()
    assert gc.isenabled()
    assert gc.get_freeze_count() > before  # what the pause saw made (modules, a model) is left alone from now
    warmup.end_gc_pause()
    assert gc.isenabled() and gc.get_freeze_count() == 0  # collectable again in a long-lived process


def test_resume_without_a_pause_changes_nothing(gc_restored):
    """The model loader resumes after every load: in the editor (which never pauses) that must do nothing."""
    warmup.resume_gc()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()  # someone else's choice is theirs
    warmup.resume_gc()
    warmup.end_gc_pause()
    assert not gc.isenabled()


def test_cycles_made_during_a_pause_are_collected_after_it(gc_restored):
    class Node:
        pass

    warmup.pause_gc()
    a, b = Node(), Node()
    a.other, b.other = b, a
    import weakref

    gone = weakref.ref(a)
    del a, b
    warmup.end_gc_pause()
    gc.collect()
    assert gone() is None


@pytest.mark.slow
def test_demo_loads_without_collections_imports_no_editor_and_signs(tmp_path):
    """`studio demo`: from the command's start no collection runs until the model is in (before this change
    about 1,300 ran during the imports, 7 of them full), collection runs again after it, nothing of the editor, the farm or the
    timeline export is imported, and the clip it writes verifies, watermark included."""
    out = tmp_path / "first-clip.mp4"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    proc = subprocess.run([sys.executable, "-c", DEMO, str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["rc"] == 0 and out.is_file()
    before_load = [gen for gen, loaded in result["collections"] if not loaded]
    assert before_load == []
    assert any(loaded for _gen, loaded in result["collections"])  # collecting again once the model is in
    assert result["gc_enabled"] and result["frozen_after"] == 0
    tops = {name.split(".")[0] for name in result["modules"]}
    assert not tops & {"PySide6", "pyqtgraph", "ray", "opentimelineio"}
    assert "studio.ui" not in result["modules"] and "studio.farm" not in result["modules"]
    assert result["valid"] and result["watermark"]
    assert result["omp_at_torch"] == ["10000"]  # set before torch (and libgomp) loaded


# A command in a fresh interpreter, then the OpenMP wait policy it left and whether it imported torch.
COMMAND = r"""
import json, os, sys
from studio.cli import program
rc = program.main(sys.argv[1:])
print("RESULT " + json.dumps({"rc": rc, "omp": os.environ.get("GOMP_SPINCOUNT"), "torch": "torch" in sys.modules}))
"""


def _command(args: list[str], **env_extra: str) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", **env_extra)
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if name not in env_extra:
            env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", COMMAND, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line[len("RESULT "):])


def test_render_asks_for_sleeping_waits_before_torch_loads(tmp_path):
    """A render (here one that stops at a missing graph, before torch loads) sets the wait policy; a command
    that loads no model leaves the environment alone. (The demo test above sees it set as torch loads.)"""
    rendered = _command(["render", str(tmp_path / "missing.studio.json"), "-q"])
    assert rendered["rc"] != 0 and not rendered["torch"]
    assert rendered["omp"] == "10000"
    assert _command(["validate", str(tmp_path / "missing.studio.json")])["omp"] is None


def test_a_chosen_wait_policy_is_kept(tmp_path):
    chosen = ["render", str(tmp_path / "missing.studio.json"), "-q"]
    assert _command(chosen, OMP_WAIT_POLICY="PASSIVE")["omp"] is None  # a policy chosen: no spin count added
    assert _command(chosen, GOMP_SPINCOUNT="5")["omp"] == "5"


def test_nothing_is_set_once_torch_is_imported(monkeypatch):
    import torch  # noqa: F401 - this process has it now: libgomp has read its settings already

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert warmup.short_spin_waits() is False
    assert "GOMP_SPINCOUNT" not in os.environ


EDITOR = r"""
import json, os, sys
from studio.cli import program
program.open_editor = lambda path: print("RESULT " + json.dumps({"omp": os.environ.get("GOMP_SPINCOUNT"),
                                                                 "torch": "torch" in sys.modules})) or 0
program.main(sys.argv[1:])
"""


def test_the_editor_asks_for_sleeping_waits_before_anything_starts(tmp_path):
    # The editor renders with torch too (its warm-up imports it a second after launch).
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, "-c", EDITOR, str(tmp_path / "a.studio.json")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    assert json.loads(line[len("RESULT "):]) == {"omp": "10000", "torch": False}
