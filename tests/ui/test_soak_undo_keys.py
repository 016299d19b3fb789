"""Found on a real display: after typing a number into the inspector and pressing Enter, Ctrl+Z did nothing
while the spin box kept the focus (its line edit claimed the key for a text undo it no longer had)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


@pytest.fixture
def inspector(qtbot, window):
    """The window's own inspector, so the window's Undo and Redo actions (and their keys) are the real ones."""
    window.session.edit("add", lambda g: g.add_node(window.registry.get("uitest.Picture"), "pic"))
    window.session.undo.clear()
    window.scene.select_nodes(["pic"])
    view = window.inspector
    qtbot.waitUntil(lambda: "strength" in view.editors, timeout=2000)
    return view


def strength(inspector) -> float:
    return inspector.session.graph.nodes["pic"].params["strength"]


def type_into_spin(qtbot, inspector, text: str):
    spin = inspector.editors["strength"].spin
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    spin.selectAll()
    QTest.keyClicks(spin, text)
    QTest.keyClick(spin, Qt.Key.Key_Return)
    return spin


def test_ctrl_z_in_a_focused_spin_box_undoes_the_committed_edit(qtbot, inspector):
    spin = type_into_spin(qtbot, inspector, "0.8")
    assert strength(inspector) == pytest.approx(0.8)
    assert spin.hasFocus()
    QTest.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert strength(inspector) == pytest.approx(0.5)  # the value before the edit
    spin = inspector.editors["strength"].spin  # the inspector may have rebuilt its rows
    assert spin.value() == pytest.approx(0.5)
    QTest.keyClick(spin, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert strength(inspector) == pytest.approx(0.8)


def test_ctrl_z_while_typing_still_undoes_the_typing_first(qtbot, inspector):
    line = inspector.editors["path"].line
    line.setFocus()
    qtbot.waitUntil(line.hasFocus, timeout=2000)
    QTest.keyClicks(line, "abc")
    before = inspector.session.undo.count()
    QTest.keyClick(line, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert line.text() in ("ab", "")  # the line edit's own undo took the key
    assert inspector.session.undo.count() == before


def test_typing_a_decimal_into_a_float_field_keeps_every_key(qtbot, inspector):
    """Each key commits and the value comes back; the echo rewrote "1" as "1.000", so "12.5" became 12."""
    spin = type_into_spin(qtbot, inspector, "0.85")
    assert strength(inspector) == pytest.approx(0.85)
    assert spin.text() == "0.850"
    assert inspector.session.undo.count() == 1  # the keys of one typing merge into one step
