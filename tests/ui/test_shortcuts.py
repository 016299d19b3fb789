"""Keys do what they say, once: no two actions share a key, redo answers Ctrl+Shift+Z and Ctrl+Y, and Esc in a
popup closes the popup instead of cancelling the render."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import settle
from tests.ui.test_render import build


def test_no_two_actions_share_a_key(window):
    seen: dict[str, str] = {}
    for action in window.all_actions:
        for sequence in action.shortcuts():
            key = sequence.toString()
            assert key not in seen, f"{key} is bound to both '{seen[key]}' and '{action.text()}'"
            seen[key] = action.text()


def test_redo_answers_both_usual_keys(window, qtbot):
    keys = {s.toString() for s in window.act_redo.shortcuts()}
    assert {"Ctrl+Shift+Z", "Ctrl+Y"} <= keys
    for combo in ((Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),
                  (Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)):
        window.session.edit("add", lambda g: g.add_node(window.registry.get("test.Number")))
        count = len(window.session.graph.nodes)
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert len(window.session.graph.nodes) == count - 1
        QTest.keyClick(window.view, *combo)
        assert len(window.session.graph.nodes) == count


def test_esc_in_the_node_search_closes_it_and_the_render_goes_on(window, qtbot):
    build(window, 400)
    window.act_render.trigger()
    qtbot.waitUntil(lambda: window.renderer.running, timeout=5000)
    window.view.open_search()
    settle()
    assert window.view.search.isVisible()
    QTest.keyClick(window.view.search.edit, Qt.Key.Key_Escape)
    settle()
    assert not window.view.search.isVisible()
    assert window.renderer.running and not window.renderer.handle.cancel_token.cancelled
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Escape)  # on the canvas, Esc still cancels
    qtbot.waitUntil(lambda: not window.renderer.running, timeout=10_000)
    assert window.renderer.handle.result.status == "cancelled"
