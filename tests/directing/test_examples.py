"""The directing example graphs load, validate and render (on the tiny model, at a tiny size)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.engine import Engine
from studio.graph import NodeRegistry, load_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
TINY = {"width": 32, "height": 32, "steps": 4, "fps": 8.0, "preview": False}  # 4: a guide at 0.25 runs 1


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


@pytest.mark.parametrize("name, frames", [
    pytest.param("camera-move", 9, marks=pytest.mark.slow),  # its nodes are covered in test_render
    pytest.param("prompt-schedule", 17, marks=pytest.mark.slow),
    pytest.param("beat-zoom", 0, marks=pytest.mark.slow),  # audio, signal and camera covered in test_render
])
def test_example_renders(registry, tiny_ti2v, tmp_path, name, frames):
    graph_file = tmp_path / f"{name}.studio.json"
    shutil.copy(EXAMPLES / f"{name}.studio.json", graph_file)
    shutil.copy(EXAMPLES / "song.ogg", tmp_path / "song.ogg")  # the song the example ships with
    graph = load_graph(graph_file, registry)
    graph.set_param("model", "source", str(tiny_ti2v))
    for key, value in {**TINY, "num_frames": frames}.items():
        graph.set_param("generate", key, value)
    if "export" in graph.nodes:
        graph.set_param("export", "sign", False)
        graph.set_param("export", "watermark", False)
    if "audio" in graph.nodes:
        graph.set_param("audio", "fps", 8.0)
    result = Engine(registry).run(graph, base_dir=tmp_path)
    assert result.ok, result.failed
    video = result.outputs["generate"]["video"]
    assert video.frames.shape[1:] == (32, 32, 3)
    if name == "beat-zoom":
        assert video.num_frames == 17  # 2.1 s of song at 8 fps, as 4k+1
        assert (tmp_path / "renders" / "beat-zoom.mp4").is_file()  # in the graph's output folder
