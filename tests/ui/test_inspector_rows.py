"""The inspector's record table on a Shot List: shots added, removed and moved, each one undo step, and the
selected row reported (the timeline outlines that shot)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nodes.sequence import shot_list
from studio.ui.inspector.inspector import Inspector
from studio.ui.shell.session import EditSession

SHOTS = [{"name": n, "prompt": f"a {n} shot", "seconds": 1.0} for n in ("a", "b", "c", "d")]


@pytest.fixture
def inspector(qtbot, registry):
    registry.register(shot_list)
    session = EditSession(registry)
    session.edit("add", lambda g: g.add_node(shot_list, "shots", params={"shots": [dict(s) for s in SHOTS]}))
    session.undo.clear()
    view = Inspector(session)
    qtbot.addWidget(view)
    view.resize(520, 700)
    view.show()
    view.show_node("shots")
    qtbot.waitExposed(view)
    return view


def names(inspector) -> list[str]:
    return [r.get("name") for r in inspector.session.graph.nodes["shots"].params["shots"]]


def table(inspector):
    return inspector.editors["shots"].table


def test_moving_rows_is_one_undo_step_each_and_keeps_them_selected(inspector):
    rows, undo = table(inspector), inspector.session.undo
    rows.table.selectRow(2)
    rows.up_button.click()
    assert names(inspector) == ["a", "c", "b", "d"] and undo.count() == 1
    rows.up_button.click()  # straight after: still its own step (a merge window must not join them)
    assert names(inspector) == ["c", "a", "b", "d"] and undo.count() == 2
    assert {i.row() for i in rows.table.selectedIndexes()} == {0}
    rows.up_button.click()  # already first: nothing happens, nothing to undo
    assert undo.count() == 2
    rows.down_button.click()
    assert names(inspector) == ["a", "c", "b", "d"] and undo.count() == 3
    undo.undo()
    assert names(inspector) == ["c", "a", "b", "d"]
    undo.undo()
    undo.undo()
    assert names(inspector) == ["a", "b", "c", "d"]
    assert [rows.table.item(r, 0).text() for r in range(4)] == ["a", "b", "c", "d"]  # the table follows
    undo.redo()
    assert names(inspector) == ["a", "c", "b", "d"]
    # every field of a row travels with it, the ones the table shows and the ones it does not
    assert inspector.session.graph.nodes["shots"].params["shots"][1] == SHOTS[2]


def test_a_block_of_rows_moves_together_and_alt_arrows_move_it(inspector, qtbot):
    rows = table(inspector)
    rows.select_rows([1, 2])
    rows.down_button.click()
    assert names(inspector) == ["a", "d", "b", "c"]
    assert {i.row() for i in rows.table.selectedIndexes()} == {2, 3}
    rows.table.setFocus()
    QTest.keyClick(rows.table, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert names(inspector) == ["a", "b", "c", "d"] and inspector.session.undo.count() == 2


def test_adding_and_removing_shots_undo_one_at_a_time(inspector):
    rows, undo = table(inspector), inspector.session.undo
    rows.table.selectRow(0)
    rows.add_button.click()
    assert names(inspector) == ["a", None, "b", "c", "d"] and undo.count() == 1
    rows.select_rows([3, 4])
    rows.remove_button.click()
    assert names(inspector) == ["a", None, "b"] and undo.count() == 2
    undo.undo()
    assert names(inspector) == ["a", None, "b", "c", "d"]
    undo.undo()
    assert names(inspector) == ["a", "b", "c", "d"]


def test_the_selected_row_is_reported_with_its_node_and_parameter(inspector):
    chosen = []
    inspector.record_chosen.connect(lambda nid, param, row: chosen.append((nid, param, row)))
    rows = table(inspector)
    rows.table.selectRow(3)
    assert chosen[-1] == ("shots", "shots", 3)
    rows.select_rows([0, 1])
    assert chosen[-1] == ("shots", "shots", -1)  # several: no one shot
    rows.table.selectRow(1)
    assert chosen[-1] == ("shots", "shots", 1)
