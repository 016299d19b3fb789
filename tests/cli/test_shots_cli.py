"""`studio render GRAPH --shots 3,7` on a sequence (tiny Wan pipeline): only the picked shots render, each line
says what happened to a shot and why, and the exported clip with its per-shot editor timeline holds them; in a
second process the shots rendered by the first come from the shot store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import opentimelineio as otio
import pytest

from studio.cli import main
from studio.graph import Graph, NodeRegistry, save_graph

ROWS = [
    {"name": "one", "prompt": "a red circle moves left", "seconds": 1.0, "seed": 1},
    {"name": "two", "prompt": "a blue square moves up", "seconds": 1.0, "seed": 2},
    {"name": "three", "prompt": "a blue square grows", "seconds": 1.0, "seed": 3, "transition": "continue"},
    {"name": "four", "prompt": "a green circle shrinks", "seconds": 0.5, "seed": 4},
]


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


@pytest.fixture
def graph_file(tmp_path, registry, tiny_ti2v):
    g = Graph()
    g.add_node(registry.get("studio.LoadModel"), "model", params={"source": str(tiny_ti2v)})
    g.add_node(registry.get("studio.ShotList"), "shots", params={"shots": ROWS})
    g.add_node(registry.get("studio.GenerateSequence"), "sequence",
               params={"width": 32, "height": 32, "fps": 8.0, "steps": 2, "preview": False})
    g.add_node(registry.get("studio.Export"), "export",
               params={"path": "seq.mp4", "sign": False, "watermark": False, "timeline": True})
    g.connect("model", "model", "sequence", "model")
    g.connect("shots", "shots", "sequence", "shots")
    g.connect("sequence", "video", "export", "video")
    path = tmp_path / "seq.studio.json"
    save_graph(g, path, registry)
    return path


def shot_lines(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.strip().startswith("shot ")]


def test_only_the_picked_shots_render_and_each_line_says_why(graph_file, tmp_path, capsys):
    out = tmp_path / "picked.mp4"
    assert main(["render", str(graph_file), "--shots", "2,3", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    lines = shot_lines(err)
    assert any(line.startswith("shot 1/4 'one': left out: not in only_shots (2,3)") for line in lines), err
    assert any(line.startswith("shot 2/4 'two': rendering (first run)") for line in lines), err
    assert any(line.startswith("shot 3/4 'three': rendering (first run)") for line in lines), err
    assert any(line.startswith("shot 4/4 'four': left out") for line in lines), err
    assert any("done in" in line and "left]" in line for line in lines), err  # the overall ETA
    assert "rendered 2 of 4 shots" in err and "2 left out" in err
    timeline = otio.adapters.read_from_file(str(out.with_suffix(".otio")))
    clips = list(timeline.tracks[0])
    assert [c.name for c in clips] == ["two", "three"]
    assert [c.source_range.duration.to_frames() for c in clips] == [8, 8]
    assert [c.metadata["studio"]["prompt"] for c in clips] == [ROWS[1]["prompt"], ROWS[2]["prompt"]]
    assert [c.metadata["studio"]["seed"] for c in clips] == [2, 3]


def studio_process(*args: str) -> subprocess.CompletedProcess:
    """``studio`` in a process of its own (the same STUDIO_HOME: the same shot store)."""
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], env=dict(os.environ), capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_a_second_process_takes_the_first_ones_shots_from_the_store(graph_file, tmp_path):
    first = studio_process("render", str(graph_file), "--shots", "1,2", "-o", str(tmp_path / "first.mp4"))
    assert first.returncode == 0, first.stderr
    assert "rendered 2 of 4 shots (1, 2)" in first.stderr, first.stderr

    second = studio_process("render", str(graph_file), "--shots", "4", "-o", str(tmp_path / "second.mp4"))
    assert second.returncode == 0, second.stderr
    lines = shot_lines(second.stderr)
    assert any(line.startswith("shot 1/4 'one': unchanged, from the shot store") for line in lines), second.stderr
    assert any(line.startswith("shot 2/4 'two': unchanged, from the shot store") for line in lines), second.stderr
    assert any(line.startswith("shot 3/4 'three': left out") for line in lines), second.stderr
    assert any(line.startswith("shot 4/4 'four': rendering (first run)") for line in lines), second.stderr
    assert "rendered 1 of 4 shots (4); 0 unchanged from the memo, 2 from the shot store; 1 left out" in second.stderr
    timeline = otio.adapters.read_from_file(str(tmp_path / "second.otio"))
    assert [c.name for c in timeline.tracks[0]] == ["one", "two", "four"]

    # an edit in a third process: that shot and the one continuing it render, nothing else, each saying why
    graph = json.loads(graph_file.read_text())
    rows = next(n for n in graph["nodes"] if n["id"] == "shots")["params"]["shots"]
    rows[1]["prompt"] = "a yellow square moves up"
    graph_file.write_text(json.dumps(graph))
    third = studio_process("render", str(graph_file), "-o", str(tmp_path / "third.mp4"))
    assert third.returncode == 0, third.stderr
    assert "rendered 2 of 4 shots (2, 3); 0 unchanged from the memo, 2 from the shot store" in third.stderr
    assert "shot 2/4 'two': rendering (prompt changed ('a blue square moves up' -> 'a yellow square moves up'))" \
        in third.stderr, third.stderr
    assert "shot 3/4 'three': rendering (first run)" in third.stderr  # never rendered after shot 2 before


def test_a_picked_continue_shot_without_the_shot_before_starts_afresh_and_says_so(graph_file, tmp_path, capsys):
    assert main(["render", str(graph_file), "--shots", "3", "-o", str(tmp_path / "three.mp4")]) == 0
    err = capsys.readouterr().err
    assert "shot 3/4 'three': rendering (first run; it continues shot 2, which is not in this render: it " \
           "starts afresh)" in err, err


@pytest.mark.parametrize("shots, words", [("9", "there is no shot 9: the shot list has 4 shot(s)"),
                                          ("2-x", "'2-x' is not a shot number or range")])
def test_a_bad_pick_names_the_shots(graph_file, capsys, shots, words):
    assert main(["render", str(graph_file), "--shots", shots]) != 0
    assert words in capsys.readouterr().err


def test_shots_on_a_graph_without_a_sequence_is_refused(tmp_path, capsys):
    from studio.paths import RESOURCES

    graph = json.loads((RESOURCES / "examples" / "first-clip.studio.json").read_text())
    path = tmp_path / "clip.studio.json"
    path.write_text(json.dumps(graph))
    assert main(["render", str(path), "--shots", "1"]) != 0
    assert "the graph has no sequence to pick shots from" in capsys.readouterr().err


def test_the_step_bar_names_the_shot_and_its_step_not_the_reason():
    from studio.cli.progress import bar_text

    assert bar_text("shot 2/6 'descent': rendering (first run; it continues shot 1)") == "shot 2/6 'descent'"
    assert bar_text("shot 2/6 'descent': step 3/6") == "shot 2/6 'descent' step 3/6"
    assert bar_text("pass 1 of 2: camera guide") == "pass 1 of 2: camera guide" and bar_text("") == "steps"
