"""A table for a list parameter of records (camera keyframes, prompt schedule entries, shots): one row per record.

Cells follow the parameter's declared columns; an empty cell leaves the field out of the record (a keyframe
then keeps the previous one's value). Fields the table does not show are kept as they are. Every change that
parses is one undoable commit; a cell that does not parse turns red and commits nothing. Adding, removing and
moving rows (the buttons, or Alt+Up/Down) are one commit each, so each undoes on its own. A row that validation
finds wrong (a shot without a length) is marked while the problem stands: tinted, a warning sign on its number,
the problem as its tooltip (``mark_rows``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph import Column

BAD = QColor("#6b2630")  # a cell that does not parse
MARKED = QColor("#47242c")  # a row that parses but breaks the parameter's rules (validation's problem)
ROW_H = 22


def _cell_text(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "float" and isinstance(value, int | float):
        return f"{value:g}"
    return str(value)


def _parse(column: Column, text: str) -> tuple[bool, Any]:
    """(ok, value); value None means: leave the field out."""
    text = text.strip()
    if not text:
        return True, None
    if column.kind == "float":
        try:
            value = float(text)
        except ValueError:
            return False, f"'{column.name}' takes a number"
        return (True, value) if math.isfinite(value) else (False, f"'{column.name}' takes a finite number")
    if column.kind == "int":
        try:
            return True, int(text)
        except ValueError:
            return False, f"'{column.name}' takes a whole number"
    return True, text


class RecordTable(QWidget):
    """Edits a list of dicts through ``commit(list)``; ``show_records`` displays one without committing.
    ``row_selected`` says which row is selected (-1: none or several), e.g. for the timeline to outline a shot."""

    row_selected = Signal(int)

    def __init__(self, columns: tuple[Column, ...], commit: Callable[[list], None]) -> None:
        super().__init__()
        self.columns = columns
        self._commit = commit
        self._records: list[dict] = []
        self._quiet = False
        self._holding = False  # rows being replaced: the selection is said once the node has them
        self._marks: dict[int, str] = {}  # row (0-based) -> what validation says is wrong with it
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(3)
        self.table = QTableWidget(0, len(columns))
        self.table.setObjectName("RecordTable")
        self.table.setHorizontalHeaderLabels([c.name for c in columns])
        for i, column in enumerate(columns):
            header = self.table.horizontalHeaderItem(i)
            if header is not None and column.help:
                header.setToolTip(column.help)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(ROW_H)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemChanged.connect(self._edited)
        outer.addWidget(self.table)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        # Short labels, their words in the tooltips: with "+ Row" and "− Row" the row of buttons made the
        # inspector wider than its dock for Load Model (a horizontal scroll bar, text cut at the edge).
        self.add_button = QToolButton(text="+")
        self.add_button.setToolTip("Add a row after the selected one (or at the end)")
        self.add_button.clicked.connect(self.add_row)
        self.remove_button = QToolButton(text="−")
        self.remove_button.setToolTip("Remove the selected rows")
        self.remove_button.clicked.connect(self.remove_rows)
        self.up_button = QToolButton(text="↑")
        self.up_button.setToolTip("Move the selected records up (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.move_rows(-1))
        self.down_button = QToolButton(text="↓")
        self.down_button.setToolTip("Move the selected records down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.move_rows(1))
        for key, by in (("Alt+Up", -1), ("Alt+Down", 1)):
            shortcut = QShortcut(QKeySequence(key), self.table)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda by=by: self.move_rows(by))
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.error = QLabel()
        self.error.setObjectName("Problem")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.up_button)
        buttons.addWidget(self.down_button)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        outer.addWidget(self.error)

    # ---- model -> table
    def show_records(self, value: Any) -> None:
        records = [dict(r) if isinstance(r, dict) else {} for r in value] if isinstance(value, list) else []
        if records == self._records and self.table.rowCount() == len(records):
            return
        self._records = records
        self._quiet = True
        try:
            self.table.setRowCount(len(records))
            for row, record in enumerate(records):
                for col, column in enumerate(self.columns):
                    self._fill(row, col, column, record.get(column.name))
            self._fit_height()
        finally:
            self._quiet = False
        self._paint_marks()  # refilled cells: the marks go back on
        self.error.hide()
        self._selection_changed()

    def mark_rows(self, marks: dict[int, str]) -> None:
        """Mark the rows validation finds wrong ({0-based row: message}), clearing the others' marks."""
        if marks != self._marks:
            self._marks = dict(marks)
            self._paint_marks()

    def marked_rows(self) -> dict[int, str]:
        return {row: text for row, text in self._marks.items() if row < self.table.rowCount()}

    def _paint_marks(self) -> None:
        self._quiet = True  # a cell's colour changing is no edit
        try:
            for row in range(self.table.rowCount()):
                text = self._marks.get(row)
                header = QTableWidgetItem(str(row + 1))
                if text:  # an icon: the theme's header colour overrides an item's own text colour
                    header.setIcon(self.table.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
                    header.setToolTip(text)
                self.table.setVerticalHeaderItem(row, header)
                for col in range(self.table.columnCount()):
                    item = self.table.item(row, col)
                    if item is not None and item.background().color() != BAD:  # a cell's own error shows first
                        item.setBackground(QBrush(MARKED) if text else QBrush())
                        item.setToolTip(text or "")
                    widget = self.table.cellWidget(row, col)
                    if widget is not None:
                        widget.setToolTip(text or "")
        finally:
            self._quiet = False

    def _fill(self, row: int, col: int, column: Column, value: Any) -> None:
        if column.kind == "enum":
            combo = QComboBox()
            combo.addItems(["", *column.choices])
            combo.setCurrentText("" if value is None else str(value))
            combo.currentTextChanged.connect(lambda _t, r=row: self._edited_row(r))
            self.table.setCellWidget(row, col, combo)
            return
        item = QTableWidgetItem(_cell_text(column, value))
        if column.kind in ("float", "int"):
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.setItem(row, col, item)

    def _fit_height(self) -> None:
        rows = max(2, min(self.table.rowCount(), 8))
        header = self.table.horizontalHeader().sizeHint().height() or ROW_H
        # room for the horizontal scroll bar too: nine keyframe columns do not fit a narrow dock
        scroll = self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(header + rows * ROW_H + scroll + 6)

    # ---- table -> model
    def _edited(self, item: QTableWidgetItem) -> None:
        if not self._quiet:
            self._edited_row(item.row())

    def _edited_row(self, _row: int) -> None:
        if self._quiet:
            return
        records, problems = self.read()
        if problems:
            self.error.setText("; ".join(problems))
            self.error.show()
            return
        self.error.hide()
        self._records = records
        self._commit(records)

    def read(self) -> tuple[list[dict], list[str]]:
        """The records the table shows (unshown fields kept), and what does not parse."""
        records: list[dict] = []
        problems: list[str] = []
        for row in range(self.table.rowCount()):
            record = dict(self._records[row]) if row < len(self._records) else {}
            for col, column in enumerate(self.columns):
                if column.kind == "enum":
                    combo = self.table.cellWidget(row, col)
                    text = combo.currentText() if isinstance(combo, QComboBox) else ""
                    ok, value = True, (text or None)
                else:
                    item = self.table.item(row, col)
                    ok, value = _parse(column, item.text() if item else "")
                    if item is not None:
                        self._quiet = True
                        mark = self._marks.get(row)
                        item.setBackground(QBrush(BAD) if not ok else QBrush(MARKED) if mark else QBrush())
                        item.setToolTip(value if not ok else mark or "")
                        self._quiet = False
                if not ok:
                    problems.append(f"row {row + 1}: {value}")
                elif value is None:
                    record.pop(column.name, None)
                else:
                    record[column.name] = value
            records.append(record)
        return records, problems

    def add_row(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        at = rows[-1] + 1 if rows else self.table.rowCount()
        records, problems = self.read()
        if problems:
            return
        records.insert(at, self._new_record(records, at))
        self._replace(records, [at])
        self._start_editing(at)

    def _new_record(self, records: list[dict], at: int) -> dict:
        """A new row that is usable as it is. A keyframe or schedule entry goes a second after the one before;
        a shot (a table with a prompt and a length) copies the length, prompt and character of the shot
        before, so the list still renders (an empty row failed the render with "needs a prompt") and
        the director only has to say what the new shot shows."""
        names = {c.name for c in self.columns}
        before = records[at - 1] if at > 0 else (records[0] if records else {})
        new: dict = {}
        if "time" in names and records:
            t = before.get("time")
            new["time"] = round(float(t) + 1.0, 3) if isinstance(t, int | float) else 0.0
        if {"prompt", "seconds"} <= names:  # (no name: an unnamed shot is called by its row, "shot 4")
            seconds = before.get("seconds")
            new["seconds"] = seconds if isinstance(seconds, int | float) and not isinstance(seconds, bool) else 1.0
            for field in ("prompt", "character"):
                if field in names and isinstance(before.get(field), str) and before[field]:
                    new[field] = before[field]
        return new

    def _start_editing(self, row: int) -> None:
        """Put the cursor in the new shot's prompt: what the director types next."""
        names = [c.name for c in self.columns]
        if "prompt" in names and "seconds" in names:
            item = self.table.item(row, names.index("prompt"))
            if item is not None:
                self.table.setCurrentItem(item)
                self.table.editItem(item)

    def remove_rows(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if not rows:
            return
        records, problems = self.read()
        if problems:
            return
        kept = [r for i, r in enumerate(records) if i not in rows]
        self._replace(kept, [min(rows[0], len(kept) - 1)] if kept else [])  # the row that took their place

    def move_rows(self, by: int) -> None:
        """Move the selected records one place up (-1) or down (1), keeping them selected: one commit."""
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        count = self.table.rowCount()
        if not rows or (by < 0 and rows[0] == 0) or (by > 0 and rows[-1] == count - 1):
            return
        records, problems = self.read()
        if problems:
            return
        order = list(range(count))
        for row in rows if by < 0 else reversed(rows):  # a block moves together past its neighbour
            order[row], order[row + by] = order[row + by], order[row]
        self._replace([records[i] for i in order], [row + by for row in rows])

    def _replace(self, records: list[dict], select: list[int]) -> None:
        """Show and commit ``records`` (one undo step), then select the rows ``select``. The selection is said
        (``row_selected``) only once the node holds the new rows: the timeline reads the node's rows to find
        the shot to outline, and told before the commit it outlined the shot of the old rows there (a moved
        shot outlined its neighbour, a removed one stayed outlined)."""
        self._holding = True
        try:
            self._records = []  # force a refill
            self.show_records(records)
            self._records = records
            self._commit(records)
            self.select_rows(select)
        finally:
            self._holding = False
        self._selection_changed()

    def select_rows(self, rows: list[int]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row in rows:
            self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def select_row(self, row: int, column: str | None = None) -> bool:
        """Select ``row`` alone and scroll the table to it, to the cell of field ``column`` when the table has
        one (a problem's bad field: "seconds" sits off to the right in a narrow inspector); False when there is
        no such row."""
        if not 0 <= row < self.table.rowCount():
            return False
        self.table.selectRow(row)
        names = [c.name for c in self.columns]
        col = names.index(column) if column in names else 0
        self.table.scrollTo(self.table.model().index(row, col))
        if col:
            self.table.setCurrentIndex(self.table.model().index(row, col))  # the cell to type in next
            # and the keys go to it: clicking the problem left them with the Problems list, so the value typed
            # next went nowhere (seen on a real display)
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        return True

    def _selection_changed(self) -> None:
        if self._holding:
            return
        rows = {i.row() for i in self.table.selectedIndexes()}
        self.row_selected.emit(next(iter(rows)) if len(rows) == 1 else -1)
