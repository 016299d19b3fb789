"""The Queue panel: each render waiting, running or ended, with its progress, ETA and a cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.shell.queue import ENDED, QUEUED, RUNNING, QueuedRender, RenderQueue

COLUMNS = ("#", "Render", "State", "ETA", "")
REFRESH_MS = 500  # ETAs tick down twice a second; progress arrives with the engine's events


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600} h {seconds // 60 % 60:02d}"


class QueuePanel(QWidget):
    """Lists the render queue; the ✕ on a row cancels that render only."""

    def __init__(self, queue: RenderQueue, cancel_entry, parent: QWidget | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.queue, self.cancel_entry = queue, cancel_entry
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 40), (2, 150), (3, 64), (4, 34)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(col, width)
        self.summary = QLabel("")
        self.summary.setObjectName("ParamHelp")
        self.clear_button = QPushButton("Clear Finished")
        self.clear_button.clicked.connect(queue.clear_ended)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self._rows: dict[int, int] = {}  # entry number -> row
        self._bars: dict[int, QProgressBar] = {}
        queue.listed.connect(self.rebuild)
        queue.changed.connect(self.show_entry)
        self._tick = QTimer(self)
        self._tick.setInterval(REFRESH_MS)
        self._tick.timeout.connect(self._refresh_etas)
        self._tick.start()
        self.rebuild()

    def rebuild(self) -> None:
        entries = self.queue.entries
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(entries))
        self._rows = {e.number: row for row, e in enumerate(entries)}
        self._bars = {}
        for row, entry in enumerate(entries):
            self.table.setItem(row, 0, QTableWidgetItem(str(entry.number)))
            what = QTableWidgetItem(entry.label)
            what.setToolTip(entry.label)
            self.table.setItem(row, 1, what)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            self.table.setCellWidget(row, 2, bar)
            self._bars[entry.number] = bar
            self.table.setItem(row, 3, QTableWidgetItem(""))
            cancel = QToolButton()
            cancel.setText("✕")
            cancel.setToolTip(f"Cancel render {entry.number} (only this one)")
            cancel.clicked.connect(lambda _=False, n=entry.number: self.cancel_entry(n))
            self.table.setCellWidget(row, 4, cancel)
            self._fill(row, entry)
        self.table.setUpdatesEnabled(True)
        self._refresh_etas()

    def show_entry(self, entry: QueuedRender) -> None:
        row = self._rows.get(entry.number)
        if row is not None:
            self._fill(row, entry)
            self._summarise()

    def _fill(self, row: int, entry: QueuedRender) -> None:
        bar = self._bars[entry.number]
        bar.setValue(round(entry.fraction() * 1000))
        if entry.state == RUNNING and entry.total:
            text = f"{entry.node}: step {entry.step}/{entry.total}"
        elif entry.state in ENDED and entry.seconds is not None and entry.state != "cancelled":
            text = f"{entry.state} · {entry.seconds:.1f} s"
        else:
            text = entry.state
        bar.setFormat(text)
        bar.setToolTip(entry.message or text)
        cancel = self.table.cellWidget(row, 4)
        if cancel is not None:
            cancel.setEnabled(entry.state in (QUEUED, RUNNING))

    def _refresh_etas(self) -> None:
        now = time.monotonic()
        for entry in self.queue.entries:
            row = self._rows.get(entry.number)
            item = self.table.item(row, 3) if row is not None else None
            if item is not None:
                item.setText("" if entry.state in ENDED else clock(self.queue.eta(entry, now)))
        self._summarise()

    def _summarise(self) -> None:
        waiting = self.queue.waiting()
        running = self.queue.running
        last = self.queue.eta(self.queue.entries[-1]) if waiting and self.queue.entries else None
        if running is None and not waiting:
            self.summary.setText("Nothing rendering. Ctrl+Enter renders; while a render runs it queues another.")
        else:
            self.summary.setText(f"{1 if running else 0} rendering · {waiting} waiting"
                                 + (f" · all done in {clock(last)}" if last is not None else ""))
