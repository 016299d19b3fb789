"""Keyframes and prompt schedules edit as a table in the inspector: cells, rows, bad values, undo."""

from __future__ import annotations

import pytest

from nodes.camera import camera_path
from studio.graph import NodeRegistry
from tests.ui.conftest import settle, ui_registry


@pytest.fixture
def registry() -> NodeRegistry:
    reg = ui_registry()
    reg.register(camera_path)
    return reg


def keyframes(window) -> list[dict]:
    return window.session.graph.nodes["cam"].params["keyframes"]


def col(table, name: str) -> int:
    return [c.name for c in table.columns].index(name)


def test_camera_keyframes_edit_as_a_table(window):
    window.session.edit("add", lambda g: g.add_node(camera_path, "cam", params={"preset": "keyframes"}))
    window.scene.select_nodes(["cam"])
    settle()
    editor = window.inspector.editors["keyframes"]
    table = editor.table
    assert table is not None and not editor.text.isVisible()
    before = [dict(k) for k in keyframes(window)]
    assert table.table.rowCount() == len(before) and table.table.columnCount() == 9

    table.table.item(1, col(table, "zoom")).setText("1.5")
    settle()
    assert keyframes(window)[1]["zoom"] == 1.5
    assert keyframes(window)[1]["pan_x"] == before[1]["pan_x"]  # the rest of the record is kept

    table.table.item(1, col(table, "pan_x")).setText("")  # empty: the field is left out
    settle()
    assert "pan_x" not in keyframes(window)[1]

    table.table.item(0, col(table, "zoom")).setText("lots")  # does not parse: nothing is committed
    settle()
    assert keyframes(window)[0] == before[0]
    assert table.error.isVisible() and "row 1" in table.error.text() and "number" in table.error.text()
    table.table.item(0, col(table, "zoom")).setText(f"{before[0].get('zoom', 1.0):g}")
    settle()
    assert not table.error.isVisible()

    combo = table.table.cellWidget(2, col(table, "ease"))
    combo.setCurrentText("hold")
    settle()
    assert keyframes(window)[2]["ease"] == "hold"

    # (clear first: a modifier key left down by another test would make selectRow extend the selection)
    table.table.clearSelection()
    table.table.selectRow(2)
    table.add_row()
    settle()
    assert len(keyframes(window)) == len(before) + 1
    assert keyframes(window)[3] == {"time": before[2]["time"] + 1.0}
    table.table.clearSelection()
    table.table.selectRow(0)
    assert {i.row() for i in table.table.selectedIndexes()} == {0}
    table.remove_rows()
    settle()
    assert len(keyframes(window)) == len(before)

    # Each change was one undo step: undoing them all gives back the original keyframes, shown in the table.
    stack = window.session.undo
    while stack.canUndo() and keyframes(window) != before:
        stack.undo()
        settle()
    assert keyframes(window) == before
    shown = [table.table.item(r, col(table, "time")).text() for r in range(table.table.rowCount())]
    assert shown == [f"{k['time']:g}" for k in before]


def test_the_json_toggle_shows_the_text_and_edits_from_it_update_the_table(window):
    window.session.edit("add", lambda g: g.add_node(camera_path, "cam", params={"preset": "keyframes"}))
    window.scene.select_nodes(["cam"])
    settle()
    editor = window.inspector.editors["keyframes"]
    editor.json_toggle.setChecked(True)
    settle()
    assert editor.text.isVisible()
    editor.text.setPlainText('[{"time": 0, "zoom": 1}, {"time": 2.5, "zoom": 2, "extra": "kept"}]')
    settle()
    assert keyframes(window)[1] == {"time": 2.5, "zoom": 2, "extra": "kept"}
    assert editor.table.table.rowCount() == 2
    editor.table.table.item(1, col(editor.table, "zoom")).setText("3")
    settle()
    assert keyframes(window)[1] == {"time": 2.5, "zoom": 3.0, "extra": "kept"}
