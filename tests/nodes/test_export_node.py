"""The Export node in a real render: a signed, watermarked MP4 that `studio verify` accepts."""

from __future__ import annotations

import json

import av
import pytest

from studio.cli import main
from studio.engine import CancelToken, Engine, NodeProgress
from studio.graph import Graph, NodeRegistry, save_graph


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


def export_graph(registry, model_dir, name: str = "clip.mp4") -> Graph:
    g = Graph()
    g.add_node(registry.get("studio.LoadModel"), "model", params={"source": str(model_dir)})
    g.add_node(registry.get("studio.Text"), "text", params={"prompt": "a blue square moves up"})
    g.add_node(registry.get("studio.GenerateVideo"), "generate",
               params={"num_frames": 17, "width": 64, "height": 64, "steps": 2, "seed": 4, "fps": 16.0})
    g.add_node(registry.get("studio.Export"), "export", params={"path": name})
    g.connect("model", "model", "generate", "model")
    g.connect("text", "prompt", "generate", "prompt")
    g.connect("generate", "video", "export", "video")
    return g


def test_export_node_writes_a_signed_clip_that_verifies(capsys, registry, tiny_wan, tmp_path):
    dest = tmp_path / "renders" / "out" / "clip.mp4"  # the graph's name, inside its output folder
    graph_path = tmp_path / "g.studio.json"
    save_graph(export_graph(registry, tiny_wan, "out/clip.mp4"), graph_path, registry)
    assert main(["render", str(graph_path), "-q"]) == 0
    capsys.readouterr()
    with av.open(str(dest)) as container:
        stream = container.streams.video[0]
        assert sum(1 for _ in container.decode(stream)) == 17
        assert (stream.width, stream.height) == (64, 64)

    assert main(["verify", str(dest), "--json"]) == 0
    untrusted = json.loads(capsys.readouterr().out)
    assert untrusted["valid"] and not untrusted["trusted"] and not untrusted["tampered"]
    assert main(["verify", str(dest), "--json", "--trust-local"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trusted"]
    assert report["generation"]["prompts"] == ["a blue square moves up"]
    assert report["generation"]["seed"] == 4
    assert report["generation"]["graph_hash"].startswith("sha256:")
    assert report["watermark"]["found"] and report["watermark"]["matches_manifest"]

    data = bytearray(dest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one media byte
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    assert main(["verify", str(tampered)]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def test_cancelled_export_leaves_no_file(registry, tiny_wan, tmp_path):
    engine = Engine(registry)
    token = CancelToken()

    def listener(event):
        if isinstance(event, NodeProgress) and event.node_id == "export" and event.step == 3:
            token.cancel()

    result = engine.run(export_graph(registry, tiny_wan), listener=listener, cancel=token, base_dir=tmp_path)
    assert result.status == "cancelled"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_timestamp_authority_out_of_reach_fails_the_node_with_a_sentence(registry, tiny_wan, tmp_path):
    """The local identity takes the node's timestamp URL too; an authority that cannot be reached (a closed
    port here) fails the Export node saying so, and leaves no file."""
    graph = export_graph(registry, tiny_wan)
    graph.set_param("export", "timestamp_url", "http://127.0.0.1:9/")
    result = Engine(registry).run(graph, base_dir=tmp_path)
    assert result.status == "failed"
    failure = result.failed["export"]
    assert "timestamp authority http://127.0.0.1:9/ could not be reached" in failure
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
