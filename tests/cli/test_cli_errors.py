"""The command line refuses bad input with a clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.cli import main
from studio.paths import RESOURCES

EXAMPLE = RESOURCES / "examples" / "first-clip.studio.json"


@pytest.fixture
def graph_file(tmp_path) -> Path:
    path = tmp_path / "g.studio.json"
    shutil.copy(EXAMPLE, path)
    return path


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_validate_ok_and_examples_are_valid(capsys):
    for example in sorted((RESOURCES / "examples").glob("*.studio.json")):
        code, out, _ = run_cli(capsys, "validate", example)
        assert code == 0 and "OK" in out


def test_validate_lists_every_problem(capsys, tmp_path):
    doc = json.loads(EXAMPLE.read_text())
    doc["links"] = [lk for lk in doc["links"] if lk["to"] != ["generate", "prompt"]]
    doc["nodes"][2]["params"]["steps"] = 100000
    doc["nodes"].append({"id": "oops", "type": "studio.Txt", "position": [0, 0], "params": {}})
    path = tmp_path / "bad.studio.json"
    path.write_text(json.dumps(doc))
    code, out, _ = run_cli(capsys, "validate", path)
    assert code == 1
    assert "3 problem(s)" in out
    assert "node 'generate', input 'prompt': required PROMPT input is not connected" in out
    assert "node 'generate', parameter 'steps': 100000 is above the maximum 500" in out
    assert "unknown node type 'studio.Txt' (did you mean 'studio.Text'?)" in out


@pytest.mark.parametrize(
    "content, expected",
    [("{", "not valid JSON"), ('{"format": "studio.graph", "version": 7}', "newer Studio")],
)
def test_render_refuses_malformed_files(capsys, tmp_path, content, expected):
    path = tmp_path / "broken.studio.json"
    path.write_text(content)
    code, _, err = run_cli(capsys, "render", path)
    assert code == 2 and expected in err and str(path) in err


def test_render_missing_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "render", tmp_path / "nope.studio.json")
    assert code == 2 and "no such graph file" in err


@pytest.mark.parametrize(
    "override, expected",
    [
        ("generate.seed", "is not NODE.PARAM=VALUE"),
        ("nobody.seed=1", "no node 'nobody'"),
        ("generate.colour=1", "has no parameter 'colour'"),
        ("generate.steps=many", "'many' is not a valid int"),
        ("generate.steps=0", "0 is below the minimum 1"),
        ("model.device=tpu", "must be one of auto, cpu, cuda, mps"),
    ],
)
def test_render_refuses_bad_overrides(capsys, graph_file, override, expected):
    code, _, err = run_cli(capsys, "render", graph_file, "--set", override)
    assert code == 2 and expected in err


def test_render_reports_a_failing_node_and_exits_non_zero(capsys, graph_file, tmp_path):
    code, _, err = run_cli(capsys, "render", graph_file, "--set", f"model.source={tmp_path / 'no-model'}",
                           "-o", tmp_path / "out.mp4", "-q")
    assert code == 1
    assert "error: node 'model':" in err
    assert not (tmp_path / "out.mp4").exists()


def test_nodes_lists_ports_and_parameters(capsys):
    code, out, _ = run_cli(capsys, "nodes", "--json")
    specs = {s["type"]: s for s in json.loads(out)}
    assert {"studio.Text", "studio.ReferenceImage", "studio.LoadModel", "studio.GenerateVideo",
            "studio.Preview", "studio.SaveVideo"} <= set(specs)
    gen = specs["studio.GenerateVideo"]
    assert [p["name"] for p in gen["inputs"]] == ["model", "prompt", "image", "guide", "camera_guide"]
    assert next(p for p in gen["params"] if p["name"] == "steps")["max"] == 500


def test_missing_reference_image_names_the_node_and_the_file(capsys, tmp_path):
    doc = json.loads(EXAMPLE.read_text())
    doc["nodes"].append({"id": "ref", "type": "studio.ReferenceImage", "position": [0, 400],
                         "params": {"path": "pictures/hero.png", "fit": "crop"}})
    doc["links"].append({"from": ["ref", "image"], "to": ["generate", "image"]})
    path = tmp_path / "with-ref.studio.json"
    path.write_text(json.dumps(doc))
    code, _, err = run_cli(capsys, "render", path, "-o", tmp_path / "x.mp4", "-q")
    assert code == 1
    assert "node 'ref'" in err and str(tmp_path / "pictures" / "hero.png") in err
    assert "does not exist" in err
