"""A problem in one row of a Shot List (a shot without a length) leads to its row: clicking it in Problems selects
the node and that row of its table in the Inspector, and the row stays marked while the problem stands."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nodes.sequence import shot_list
from studio.graph import Problem
from studio.ui.inspector.records import MARKED
from studio.ui.shell.logdock import table_row

SHOTS = [{"name": n, "prompt": f"a red circle, {n}", "seconds": 1.0} for n in
         ("opening", "drift", "enter", "lift", "turn", "close", "hold", "rise", "fall", "end")]
BAD = 7  # 0-based: the eighth row, below the table's fold (it shows 8 rows at most, minus its header)


@pytest.fixture
def shots_window(window, registry):
    registry.register(shot_list)
    rows = [dict(r) for r in SHOTS]
    rows[BAD]["seconds"] = 0
    s = window.session
    s.edit("add", lambda g: g.add_node(shot_list, "shots", position=(0.0, 0.0), params={"shots": rows}))
    s.edit("add", lambda g: g.add_node(registry.get("uitest.Picture"), "pic", position=(400.0, 0.0)))
    window.scene.select_nodes(["pic"])
    window.refresh_problems()
    assert window.checker.wait_idle()
    return window


def problem_item(window, text: str):
    found = [window.logs.problems.item(i) for i in range(window.logs.problems.count())
             if text in window.logs.problems.item(i).text()]
    assert len(found) == 1, [window.logs.problems.item(i).text() for i in range(window.logs.problems.count())]
    return found[0]


def shot_table(window):
    return window.inspector.editors["shots"].table


def test_clicking_a_rows_problem_selects_its_row_and_the_row_is_marked_until_fixed(shots_window, qtbot):
    win = shots_window
    item = problem_item(win, "shot 8 ('rise') needs a length")
    problems = win.logs.problems
    problems.scrollToItem(item)
    QTest.mouseClick(problems.viewport(), Qt.MouseButton.LeftButton, pos=problems.visualItemRect(item).center())
    qtbot.waitUntil(lambda: win.inspector.node_id == "shots"
                    and {i.row() for i in shot_table(win).table.selectedIndexes()} == {BAD}, timeout=3000)
    assert win.scene.selected_node_ids() == ["shots"]
    records = shot_table(win)
    table = records.table
    # the problem's field is the current cell, scrolled to: "seconds" sits right of the prompt in the table
    seconds = [c.name for c in records.columns].index("seconds")
    assert table.currentIndex().row() == BAD and table.currentIndex().column() == seconds
    assert table.hasFocus()  # the keys a person types next go to that cell, not to the Problems list
    assert table.viewport().rect().contains(table.visualRect(table.model().index(BAD, seconds)).center())
    # scrolled to: the row (at its bad cell, checked above) inside the table's viewport, the table inside the
    # inspector's
    top_left = records.mapTo(win.inspector.widget(), records.rect().topLeft())
    shown = win.inspector.viewport().rect().translated(0, win.inspector.verticalScrollBar().value())
    assert shown.contains(top_left)
    # marked: a sign on its number, a tint, the problem as tooltip; the other rows are not
    assert list(records.marked_rows()) == [BAD] and "needs a length" in records.marked_rows()[BAD]
    assert not table.verticalHeaderItem(BAD).icon().isNull()
    assert "needs a length" in table.verticalHeaderItem(BAD).toolTip()
    assert table.item(BAD, 0).background().color() == MARKED and "needs a length" in table.item(BAD, 1).toolTip()
    assert table.verticalHeaderItem(0).icon().isNull() and table.item(0, 0).background().color() != MARKED
    # the director gives the shot a length: the mark goes, and comes back with an undo
    table.item(BAD, seconds).setText("2")
    qtbot.waitUntil(lambda: not records.marked_rows(), timeout=3000)
    assert table.verticalHeaderItem(BAD).icon().isNull() and not table.item(BAD, 0).toolTip()
    assert table.item(BAD, 0).background().color() != MARKED
    win.session.undo.undo()
    qtbot.waitUntil(lambda: list(records.marked_rows()) == [BAD], timeout=3000)
    assert table.item(BAD, seconds).text() == "0"


def test_a_marked_row_moves_with_its_shot(shots_window, qtbot):
    win = shots_window
    win.select_shot("shots", BAD)
    qtbot.waitUntil(lambda: win.inspector.node_id == "shots"
                    and {i.row() for i in shot_table(win).table.selectedIndexes()} == {BAD}, timeout=3000)
    records = shot_table(win)
    records.up_button.click()
    qtbot.waitUntil(lambda: list(records.marked_rows()) == [BAD - 1], timeout=3000)
    assert "('rise')" in records.marked_rows()[BAD - 1]


def test_a_problem_without_a_row_finds_only_its_node():
    assert table_row(Problem("shots", "parameter 'shots'", "the shot list is empty", "bad_row", None)) is None
    assert table_row(Problem("gen", "input 'model'", "needs a link", "missing_input")) is None
    assert table_row(Problem("shots", "parameter 'shots'", "x", "bad_row", 3)) == ("shots", 2)


def test_the_inspector_still_shows_a_nodes_problems_outside_its_tables(shots_window, registry, qtbot):
    win = shots_window
    win.session.edit("add", lambda g: g.add_node(registry.get("uitest.ShowImage"), "show", position=(0.0, 300.0)))
    win.scene.select_nodes(["show"])
    qtbot.waitUntil(lambda: win.inspector.node_id == "show", timeout=3000)
    label = win.inspector.general_problems
    assert not label.isHidden() and "image" in label.text()
