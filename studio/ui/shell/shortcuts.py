"""The keyboard shortcuts and canvas gestures, listed in Help > Keyboard Shortcuts."""

from __future__ import annotations

from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Gestures that are not menu actions (the canvas handles them itself).
CANVAS_GESTURES = [
    ("Add a node (search box)", "Tab  or  double-click the canvas"),
    ("Connect ports", "drag from a port to a port"),
    ("Add a node that fits a port", "drag from a port, release on empty canvas"),
    ("Move a link's end / disconnect", "drag from a connected input"),
    ("Insert a node into a link", "drag an unconnected node onto the link"),
    ("Rename a node or group", "double-click its title"),
    ("Cut links", "Ctrl + right-drag across them"),
    ("Add a reroute point", "double-click a link (drag it; Delete removes it)"),
    ("Resize a group", "drag its bottom-right corner"),
    ("Pan", "middle-drag  or  Space + drag"),
    ("Zoom to the cursor", "mouse wheel"),
    ("Frame all", "F"),
    ("Frame selected", "Shift+F"),
    ("Select several", "rubber-band drag, Shift- or Ctrl-click"),
    ("Nudge selection (one grid step; Alt: one pixel)", "arrow keys"),
    ("Open a graph or make a node from a file", "drop the file on the canvas"),
]


def transport_rows() -> list[tuple[str, str]]:
    """The timeline's transport keys, read from the timeline itself so the list never drifts."""
    try:
        from studio.ui.timeline.transport import KEYS
    except ImportError:  # the editor runs without the timeline too
        return []
    rows = []
    for key, (_method, _arg, what) in KEYS.items():
        rows.append((what, QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)))
    return rows


def action_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        if keys:
            rows.append((action.text().replace("&", "").rstrip("…."), "  or  ".join(keys)))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        sections = [("Menus and toolbar", action_rows(actions)), ("Canvas", CANVAS_GESTURES),
                    ("Timeline and viewer (click into them first: on the canvas Space pans and arrows nudge)",
                     transport_rows())]
        rows: list[tuple[str, str] | str] = []
        for title, found in sections:
            if found:
                rows += [title, *found]
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Action", "Keys / gesture"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        bold = QFont(table.font())
        bold.setBold(True)
        self.sections: dict[str, list[tuple[str, str]]] = {title: found for title, found in sections if found}
        for i, row in enumerate(rows):
            if isinstance(row, str):  # a section heading across both columns
                heading = QTableWidgetItem(row)
                heading.setFont(bold)
                table.setItem(i, 0, heading)
                table.setSpan(i, 0, 1, 2)
                continue
            what, keys = row
            table.setItem(i, 0, QTableWidgetItem(what))
            table.setItem(i, 1, QTableWidgetItem(keys))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(680, 640)
