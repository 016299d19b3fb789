"""Fixtures for editor tests: a toy node library (fast, no torch) and a ready main window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from studio.graph import NodeRegistry, ParamSpec, PortSpec, node
from tests import toy_nodes


@node("uitest.Picture", title="Picture", category="Inputs", outputs=[PortSpec("image", "IMAGE")],
      params=[ParamSpec("path", "path", "", file_filter="Images (*.png *.jpg)"),
              ParamSpec("strength", "float", 0.5, minimum=0.0, maximum=1.0, help="How much of it shows."),
              ParamSpec("mode", "enum", "fit", choices=("fit", "fill")),
              ParamSpec("tint", "color", "#ff8800"),
              ParamSpec("seed", "seed", 3, minimum=0, maximum=2**63 - 1)])
def picture(ctx, path, strength, mode, tint, seed):
    return path


@node("uitest.ShowImage", title="Show Image", category="Output", inputs=[PortSpec("image", "IMAGE")],
      outputs=[PortSpec("image", "IMAGE")], is_output=True)
def show_image(ctx, image):
    return image


def ui_registry() -> NodeRegistry:
    registry = toy_nodes.registry()
    registry.register(picture)
    registry.register(show_image)
    return registry


@pytest.fixture(autouse=True)
def empty_clipboard_after(qapp):
    """Qt's offscreen platform crashes at exit when the clipboard still owns data: empty it."""
    yield
    qapp.clipboard().clear()


@pytest.fixture
def registry() -> NodeRegistry:
    return ui_registry()


@pytest.fixture
def window(qtbot, registry, monkeypatch):
    from studio.ui.shell import files
    from studio.ui.shell.window import MainWindow

    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    monkeypatch.setattr(files, "ask_stop_renders", lambda *a: True)
    # a modal question would hang the test: a test that meets one says how it answers
    monkeypatch.setattr(files, "ask_overwrite_changed",
                        lambda *a: (_ for _ in ()).throw(AssertionError("asked whether to overwrite")))
    win = MainWindow(registry, autosave_ms=200, timeline=False)  # the timeline has tests of its own
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.view.resetTransform()
    win.view.centerOn(0, 0)
    yield win
    if win.renderer.running:
        win.renderer.cancel()
        win.renderer.wait(5)


def settle() -> None:
    """Let queued work run (the inspector follows the selection on the next event-loop turn)."""
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    QApplication.processEvents()


def view_point(win, scene_pos: QPointF) -> QPoint:
    return win.view.mapFromScene(scene_pos)


def drag(win, start: QPointF, end: QPointF, steps: int = 6) -> None:
    """A left-button drag on the canvas between two scene points, with moves in between."""
    vp = win.view.viewport()
    a, b = view_point(win, start), view_point(win, end)
    QTest.mouseMove(vp, a)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
