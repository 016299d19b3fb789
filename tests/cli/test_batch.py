"""Jobs as data (seed ranges, sweeps, their product, a JSON round trip) and `studio render --seeds/--sweep`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.cli import main
from studio.engine.jobs import Job, Override, make_jobs, parse_seeds, parse_sweep, tag_for, tagged
from studio.errors import StudioError
from studio.graph import NodeRegistry, dumps, load_graph
from studio.paths import RESOURCES

EXAMPLE = RESOURCES / "examples" / "first-clip.studio.json"


@pytest.fixture(scope="module")
def registry() -> NodeRegistry:
    return NodeRegistry.default()


@pytest.fixture
def graph_file(tmp_path) -> Path:
    path = tmp_path / "g.studio.json"
    shutil.copy(EXAMPLE, path)
    return path


@pytest.mark.parametrize("text, seeds", [("1-4", [1, 2, 3, 4]), ("1,3,7", [1, 3, 7]), ("1-3,9,2", [1, 2, 3, 9]),
                                         (" 5 ", [5])])
def test_seed_ranges(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, message", [("4-1", "runs backwards"), ("1-x", "not a seed or a range"),
                                           ("", "not a seed or a range"), ("0-99999", "more than")])
def test_bad_seed_ranges_say_why(text, message):
    with pytest.raises(StudioError, match=message):
        parse_seeds(text)


def test_sweeps_and_seeds_make_the_cartesian_product(graph_file, registry):
    graph = load_graph(graph_file, registry)
    sweeps = [parse_sweep("generate.guidance=3,5,7"), parse_sweep("text.prompt=a red circle,a blue square")]
    jobs = make_jobs(dumps(graph, registry), graph, registry, seeds=[1, 2], sweeps=sweeps,
                     base_dir=graph_file.parent)
    assert len(jobs) == 3 * 2 * 2 and [j.index for j in jobs] == list(range(1, 13))
    assert [str(o) for o in jobs[0].overrides] == ["generate.guidance=3", "text.prompt=a red circle",
                                                   "generate.seed=1"]
    assert [str(o) for o in jobs[-1].overrides] == ["generate.guidance=7", "text.prompt=a blue square",
                                                    "generate.seed=2"]
    assert len({j.tag for j in jobs}) == 12  # every job writes its own name
    built, _ = jobs[5].build(registry)
    assert built.nodes["generate"].params["guidance"] == 5.0 and built.nodes["generate"].params["seed"] == 2
    assert built.nodes["export"].params["path"] == "first-clip_guidance5-prompta_red_circle-seed2.mp4"
    assert graph.nodes["generate"].params["seed"] == 7  # the document itself is untouched


def test_a_bad_sweep_value_fails_the_batch_before_any_job(graph_file, registry):
    graph = load_graph(graph_file, registry)
    with pytest.raises(StudioError, match="--sweep 'generate.steps=9999'.*above the maximum"):
        make_jobs(dumps(graph, registry), graph, registry, sweeps=[parse_sweep("generate.steps=4,9999")])


def test_a_job_is_plain_data_that_survives_a_round_trip(graph_file, registry):
    graph = load_graph(graph_file, registry)
    (job,) = make_jobs(dumps(graph, registry), graph, registry, seeds=[3], base_dir=graph_file.parent)
    data = json.loads(json.dumps(job.to_dict()))
    assert Job.from_dict(data) == job
    data["graph"] = data["graph"].replace("a red circle", "a red square")  # changed on the way
    with pytest.raises(StudioError, match="does not match its hash"):
        Job.from_dict(data)


def test_names_and_tags():
    assert tagged("clip.mp4", "seed3") == "clip_seed3.mp4" and tagged("clip.mp4", "") == "clip.mp4"
    assert tag_for([Override("a", "seed", "1"), Override("b", "seed", "1")]) == "seed1"
    assert tag_for([Override("g", "guidance", "2.5")]) == "guidance2.5"


@pytest.mark.slow
def test_render_seeds_writes_one_versioned_clip_per_job(capsys, graph_file):
    renders = graph_file.parent / "renders"
    renders.mkdir()
    (renders / "first-clip_seed2.mp4").write_bytes(b"someone else's file")  # never replaced
    code = main(["render", str(graph_file), "--seeds", "1-2", "--set", "generate.steps=1", "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("job 1/2  generate.seed=1  ") and lines[0].endswith(" s")
    assert str(renders / "first-clip_seed1.mp4") in lines[0]
    assert str(renders / "first-clip_seed2_0002.mp4") in lines[1]  # the next version, not a replacement
    assert (renders / "first-clip_seed2.mp4").read_bytes() == b"someone else's file"
    assert sorted(p.name for p in renders.iterdir() if p.is_file()) == [
        "first-clip_seed1.mp4", "first-clip_seed2.mp4", "first-clip_seed2_0002.mp4"]


def test_render_refuses_a_sweep_on_a_missing_node(capsys, graph_file):
    code = main(["render", str(graph_file), "--sweep", "gen.guidance=3,5"])
    _, err = capsys.readouterr()
    assert code == 2 and "no node 'gen'" in err


def test_farm_refuses_a_batch_whose_asset_is_missing_before_starting(capsys, graph_file):
    doc = json.loads(graph_file.read_text())
    doc["nodes"].append({"id": "ref", "type": "studio.ReferenceImage", "position": [0, 400],
                         "params": {"path": "pictures/hero.png", "fit": "crop"}})
    doc["links"].append({"from": ["ref", "image"], "to": ["generate", "image"]})
    graph_file.write_text(json.dumps(doc))
    code = main(["render", str(graph_file), "--seeds", "1-2", "--farm", "local"])
    _, err = capsys.readouterr()
    assert code == 2
    assert f"node 'ref': file '{graph_file.parent / 'pictures' / 'hero.png'}' of parameter 'path' does not exist" in err
    assert "farm:" not in err  # refused before any Ray started


def test_farm_without_ray_says_how_to_install_it(capsys, graph_file, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as on an install without the [farm] extra
    code = main(["render", str(graph_file), "--seeds", "1-2", "--farm", "local"])
    _, err = capsys.readouterr()
    assert code == 2 and "the farm needs Ray" in err and "pip install 'studio[farm]'" in err
