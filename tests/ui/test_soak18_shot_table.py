"""The Shot List's table as a director uses it (found on a real display, soak of issue 18): a moved or added row
is selected only once the node holds the new order, and a new shot renders as it is."""

from __future__ import annotations

import numpy as np

from nodes.sequence import SHOT_COLUMNS
from studio.directing.shots import parse_shots
from studio.ui.inspector.records import RecordTable
from studio.values import Picture
from tests.ui.conftest import settle

ROWS = [
    {"name": "opening", "prompt": "a red circle moves right", "seconds": 1.0, "seed": 1, "character": "a"},
    {"name": "enter", "prompt": "a blue square moves left", "seconds": 1.5, "seed": 3, "character": "b"},
    {"name": "close-up", "prompt": "a red circle grows", "seconds": 1.0, "seed": 5, "character": "a"},
]


class Node:
    """What the inspector's commit does: the node holds the rows; the selection is read against them (as the
    timeline's ``choose_shot_row`` does, to outline the selected shot)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = [dict(r) for r in rows]
        self.seen: list[str | None] = []  # the shot name the node has at each selected row

    def commit(self, rows: list) -> None:
        self.rows = [dict(r) for r in rows]

    def selected(self, row: int) -> None:
        self.seen.append(self.rows[row].get("name", f"row {row + 1}") if 0 <= row < len(self.rows) else None)


def make(qtbot, rows=ROWS) -> tuple[RecordTable, Node]:
    node = Node(rows)
    table = RecordTable(SHOT_COLUMNS, node.commit)
    qtbot.addWidget(table)
    table.show_records(node.rows)
    table.row_selected.connect(node.selected)
    table.show()
    return table, node


def test_a_moved_shot_is_selected_as_itself_not_as_the_shot_that_was_there(qtbot):
    table, node = make(qtbot)
    table.select_rows([2])
    node.seen.clear()
    table.move_rows(-1)  # close-up moves up to row 2
    settle()
    assert [r["name"] for r in node.rows] == ["opening", "close-up", "enter"]
    # the timeline outlines the shot the node has at the selected row: close-up, never 'enter'
    assert node.seen and node.seen[-1] == "close-up" and "enter" not in node.seen


def test_an_added_shot_is_selected_as_itself_and_renders_as_it_is(qtbot):
    table, node = make(qtbot)
    table.select_rows([1])
    node.seen.clear()
    table.add_row()
    settle()
    assert len(node.rows) == 4
    new = node.rows[2]
    assert node.seen and node.seen[-1] == "row 3"  # the new shot, not 'close-up', which was row 3 before
    # as long as the shot before, same prompt and character: the list parses (it renders); the render and
    # the timeline call it by its row ("shot 3") until it is named
    assert "name" not in new and new["seconds"] == 1.5 and new["prompt"] == ROWS[1]["prompt"]
    assert new.get("character") == "b" and "seed" not in new and "transition" not in new
    pictures = {slot: Picture(np.zeros((8, 8, 3), np.uint8)) for slot in "ab"}
    plan = parse_shots(node.rows, 0, pictures)
    assert len(plan.shots) == 4
    # the director types the new shot's prompt at once
    assert table.table.currentColumn() == [c.name for c in SHOT_COLUMNS].index("prompt")
    assert table.table.currentRow() == 2


def test_a_first_shot_added_to_an_empty_list_renders(qtbot):
    table, node = make(qtbot, rows=[])
    table.add_row()
    settle()
    assert node.rows == [{"seconds": 1.0}]  # a prompt still to type; the length is there


def test_a_removed_shot_is_not_the_one_said_selected(qtbot):
    table, node = make(qtbot)
    table.select_rows([1])
    node.seen.clear()
    table.remove_rows()  # 'enter' goes; 'close-up' takes its row and its selection
    settle()
    assert [r["name"] for r in node.rows] == ["opening", "close-up"]
    assert node.seen and node.seen[-1] == "close-up" and "enter" not in node.seen
    assert {i.row() for i in table.table.selectedIndexes()} == {1}
