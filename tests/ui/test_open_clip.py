"""A clip carries the graph it was made with: File > Open on the clip rebuilds it (an untitled graph)."""

from __future__ import annotations

import json

from studio.engine import Engine
from studio.graph import Graph, loads
from studio.media.verify import verify_file
from tests.ui.conftest import settle
from tests.ui.test_export_dialog import clip_node, export_and_wait, registry, render  # noqa: F401 (fixture)


def test_a_clip_exported_from_the_editor_opens_as_the_graph_it_was_made_with(window, qtbot, tmp_path):
    render(window, qtbot)
    window.session.set_param("clip", "seed", 9)  # edited after the render: the clip keeps the graph as it ran
    window.act_export.trigger()
    dialog = window.export_dialog
    dest = tmp_path / "take.mp4"
    dialog.destination.setText(str(dest))
    export_and_wait(dialog, qtbot)
    dialog.close()
    report = verify_file(dest, ["local"])
    assert report.ok and report.graph_document
    assert json.loads(report.graph_document)["nodes"][0]["params"]["seed"] == 3
    window.session.edit("Clear", lambda g: g.restore(Graph()))
    assert window.open_path(dest, confirmed=True)
    qtbot.waitUntil(lambda: "clip" in window.session.graph.nodes, timeout=30_000)
    settle()
    assert window.session.graph.nodes["clip"].params["seed"] == 3
    assert window.session.path is None and window.session.dirty  # untitled: saving asks where
    assert "rebuilt the graph of take.mp4 from its Content Credentials: valid and trusted" in \
        window.logs.log.toPlainText()


def test_a_clip_without_a_graph_says_so(window, qtbot, tmp_path):
    from studio.media.encode import encode_video
    from tests.media.clips import natural_clip

    plain = tmp_path / "plain.mp4"
    encode_video(natural_clip(4, 32, 32), 12, plain)
    errors = []
    window.files.show_error = lambda title, text: errors.append((title, text))
    window.open_path(plain, confirmed=True)
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    assert errors[0][0] == "No graph in this clip" and "no Content Credentials" in errors[0][1]


def test_a_headless_render_signs_the_graph_into_the_clip(registry, tmp_path):  # noqa: F811 (the fixture)
    g = Graph()
    g.add_node(registry.get("exporttest.Clip"), "clip", params={"seed": 4})
    g.add_node(registry.get("studio.Export"), "export", params={"path": "out.mp4"})
    g.connect("clip", "video", "export", "video")
    result = Engine(registry).run(g, base_dir=tmp_path)
    assert result.ok, result.failed
    clip = next((tmp_path / "renders").glob("out*.mp4"))
    back = loads(verify_file(clip, ["local"]).graph_document, registry)
    assert back.nodes["clip"].params["seed"] == 4 and [lk.dst for lk in back.links] == ["export"]
