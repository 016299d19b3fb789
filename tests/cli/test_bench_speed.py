"""`studio bench-speed GRAPH`: measures settings on the graph's model, remembers them, and 'balanced' follows."""

from __future__ import annotations

import json

import pytest

from studio.cli import main


@pytest.fixture(scope="module")
def deep_wan(tmp_path_factory):
    from tests.benchmarks.bench_step_cache import deeper_tiny

    return deeper_tiny("wan", tmp_path_factory.mktemp("bench-speed") / "deep-wan", layers=3)


def test_bench_speed_measures_remembers_and_balanced_uses_it(deep_wan, tmp_path, capsys, studio_home):
    from studio.graph import NodeRegistry, save_graph
    from tests.graphs import text_to_video

    registry = NodeRegistry.default()
    path = tmp_path / "clip.studio.json"
    save_graph(text_to_video(registry, deep_wan, steps=4, preview=False), path, registry)
    code = main(["bench-speed", str(path), "--seed", "5", "--json",
                 "--settings", "first_block@1e-6,first_block@1,nonsense@1"])
    assert code != 0 and "unknown speed setting 'nonsense@1'" in capsys.readouterr().err

    assert main(["bench-speed", str(path), "--seed", "5", "--json",
                 "--settings", "first_block@1e-6,first_block@1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seed"] == 5 and report["steps"] == 4 and report["clip"] == "32x32x9"
    exact, skipping = report["results"]
    assert exact["setting"] == "first_block@1e-06" and exact["psnr"] == 999.0 and exact["passed"]
    assert skipping["psnr"] < 999.0 and 0 < skipping["ssim"] < 1
    assert report["balanced"] in ("first_block@1e-06", "first_block@1", "off")  # the faster passing one
    memory = json.loads((studio_home / "data" / "speed-fidelity.json").read_text())
    (entry,) = memory["models"].values()
    assert set(entry["settings"]) == {"first_block@1e-06", "first_block@1"}
    assert entry["settings"]["first_block@1"]["seed"] == 5


def test_bench_speed_names_the_choice_when_a_graph_has_no_generate_node(tmp_path, capsys):
    from studio.graph import Graph, NodeRegistry, save_graph

    registry = NodeRegistry.default()
    graph = Graph()
    graph.add_node(registry.get("studio.Text"), "text", params={"prompt": "x"})
    path = tmp_path / "empty.studio.json"
    save_graph(graph, path, registry)
    assert main(["bench-speed", str(path)]) != 0
    assert "no node with a speed setting" in capsys.readouterr().err
