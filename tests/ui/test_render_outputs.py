"""Renders from the editor write inside the graph's output folder, numbered, and say where they went; the
inspector's file picker for a node that writes keeps a name inside that folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.engine import RunFinished
from studio.graph import NodeRegistry, ParamSpec, PortSpec, node
from studio.values import Generation, Video
from tests.ui.conftest import settle, ui_registry


@node("uitest.Clip", title="Clip", category="Inputs", outputs=[PortSpec("video", "VIDEO")],
      params=[ParamSpec("seed", "int", 0, minimum=0, maximum=100)])
def clip(ctx, seed):
    return Video(np.full((4, 32, 32, 3), seed, np.uint8), 8.0, Generation(model="test"))


@pytest.fixture
def registry() -> NodeRegistry:
    from nodes.output import save_video

    reg = ui_registry()
    reg.register(clip)
    reg.register(save_video)
    return reg


def build(window) -> str:
    def edit(g):
        g.add_node(window.registry.get("uitest.Clip"), node_id="clip")
        g.add_node(window.registry.get("studio.SaveVideo"), node_id="save", params={"path": "take.mp4"})
        g.connect("clip", "video", "save", "video")

    window.session.edit("build", edit)
    return "save"


def render(window, qtbot, draft: bool = False) -> None:
    done: list = []
    window.renderer.event.connect(lambda ev: done.append(ev) if isinstance(ev, RunFinished) else None)
    window.render(draft=draft)
    qtbot.waitUntil(lambda: bool(done), timeout=20_000)
    settle()


def test_a_render_writes_into_renders_beside_the_graph_numbered_and_says_so(window, qtbot, tmp_path):
    build(window)
    window.session.save(tmp_path / "shot.studio.json")
    render(window, qtbot)
    assert (tmp_path / "renders" / "take.mp4").exists()
    window.session.set_param("clip", "seed", 9)
    render(window, qtbot)
    assert (tmp_path / "renders" / "take_0002.mp4").exists()
    log = window.logs.log.toPlainText()
    assert f"save: wrote {tmp_path / 'renders' / 'take_0002.mp4'}" in log
    assert f"wrote {tmp_path / 'renders' / 'take_0002.mp4'}" in window.statusBar().currentMessage()
    render(window, qtbot, draft=True)
    assert (tmp_path / "renders" / "take_draft.mp4").exists()
    renders = sorted(p.name for p in (tmp_path / "renders").iterdir())
    assert renders == [".studio-history", "take.mp4", "take_0002.mp4", "take_draft.mp4"]  # the history beside them


def test_an_untitled_graph_renders_into_the_default_folder(window, qtbot, studio_home):
    build(window)
    render(window, qtbot)
    assert (Path(studio_home) / "renders" / "take.mp4").exists()


def test_the_file_picker_keeps_a_name_inside_the_output_folder(window, qtbot, tmp_path, monkeypatch):
    build(window)
    window.session.save(tmp_path / "shot.studio.json")
    window.inspector.show_node("save")
    editor = window.inspector.editors["path"]
    picked = {"path": str(tmp_path / "renders" / "takes" / "a.mp4")}
    shown: list = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (picked["path"], ""))
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: shown.append(a[2]))
    editor._browse()
    assert window.session.graph.nodes["save"].params["path"] == "takes/a.mp4"
    picked["path"] = str(tmp_path / "elsewhere.mp4")
    editor._browse()
    assert window.session.graph.nodes["save"].params["path"] == "takes/a.mp4"
    assert shown and str(tmp_path / "renders") in shown[0]
