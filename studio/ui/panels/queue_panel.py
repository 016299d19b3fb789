"""The Queue panel: each render waiting, running or ended, with its progress, ETA and a cancel button, and where
new renders go: this machine or a render farm (Local / Farm: local Ray / Farm at an address). A farm render's
row also shows its clip as it takes shape (a strip of four frames from the worker's preview): it runs on
another machine, so the timeline, which shows this machine's render, cannot."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.shell import theme
from studio.ui.shell.queue import CANCELLED, ENDED, FAILED, QUEUED, RUNNING, QueuedRender, RenderQueue, clock

COLUMNS = ("#", "Render", "Clip", "State", "ETA", "")
NUMBER, LABEL, CLIP, STATE, ETA, CANCEL = range(len(COLUMNS))
STRIP_FRAMES, STRIP_H = 4, 24  # a farm render's clip: four frames, as tall as a row
REFRESH_MS = 500  # ETAs tick down twice a second; progress arrives with the engine's events
# An ended render's bar is full whatever became of it: a failed or cancelled one takes the canvas's colour for
# that state, or a queue of forty failures read as forty successes at a glance (seen in a soak under Xvfb)
ENDED_COLORS = {FAILED: theme.STATE_COLORS["failed"], CANCELLED: theme.STATE_COLORS["cancelled"]}


class QueuePanel(QWidget):
    """Lists the render queue; the ✕ on a row cancels that render only."""

    def __init__(self, queue: RenderQueue, cancel_entry, parent: QWidget | None = None,  # noqa: ANN001
                 choose_target: Callable[[str], None] | None = None) -> None:
        super().__init__(parent)
        self.queue, self.cancel_entry, self.choose_target = queue, cancel_entry, choose_target
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(LABEL, QHeaderView.ResizeMode.Stretch)
        # room for "node: pass 1 of 2: … · step 3/20"; the clip column for four square frames
        for col, width in ((NUMBER, 40), (CLIP, STRIP_FRAMES * STRIP_H + 8), (STATE, 300), (ETA, 64),
                           (CANCEL, 34)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(col, width)
        self.summary = QLabel("")
        self.summary.setObjectName("ParamHelp")
        self.clear_button = QPushButton("Clear Finished")
        self.clear_button.clicked.connect(queue.clear_ended)
        self.target = QComboBox()
        self.target.setToolTip("Where new renders run: this machine's engine, or Ray workers of a render farm "
                               "(needs pip install 'studio[farm]'; the farm starts in the background)")
        self.target.addItem("Render here", "")
        self.target.addItem("Farm: local Ray", "local")
        self.target.addItem("Farm at address…", None)
        self.target.activated.connect(self._target_chosen)
        self.target.setVisible(choose_target is not None)
        self.farm_note = QLabel("")
        self.farm_note.setObjectName("ParamHelp")
        bar = QHBoxLayout()
        bar.addWidget(self.target)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.farm_note)
        self.farm_note.hide()
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

    def _target_chosen(self, index: int) -> None:
        address = self.target.itemData(index)
        if address is None:  # an address of the person's: ray://head:10001, auto
            address, ok = QInputDialog.getText(self, "Render on a farm", "Ray address (ray://HOST:10001, auto, "
                                               "local):", text="ray://")
            address = address.strip()
            if not ok or not address:
                self.target.setCurrentIndex(0)
                address = ""
            else:
                self.target.setItemText(index, f"Farm at {address}")
                self.target.setItemData(index, address)
                self.target.addItem("Farm at another address…", None)
        self.set_target(address)

    def set_target(self, address: str) -> None:
        """Send new renders here ("") or to the farm at ``address``; the farm starts now, in the background."""
        found = self.target.findData(address)
        if found >= 0:
            self.target.setCurrentIndex(found)
        if self.choose_target is not None:
            self.choose_target(address)
        if not address:
            self.farm_note.hide()

    def show_farm_status(self, text: str) -> None:
        self.farm_note.setText(text)
        self.farm_note.show()

    def rebuild(self) -> None:
        entries = self.queue.entries
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(entries))
        self._rows = {e.number: row for row, e in enumerate(entries)}
        self._bars = {}
        for row, entry in enumerate(entries):
            self.table.setItem(row, NUMBER, QTableWidgetItem(str(entry.number)))
            what = QTableWidgetItem(entry.label)
            what.setToolTip(entry.label)
            self.table.setItem(row, LABEL, what)
            clip = QLabel()
            clip.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setCellWidget(row, CLIP, clip)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            self.table.setCellWidget(row, STATE, bar)
            self._bars[entry.number] = bar
            self.table.setItem(row, ETA, QTableWidgetItem(""))
            cancel = QToolButton()
            cancel.setText("✕")
            cancel.setToolTip(f"Cancel render {entry.number} (only this one)")
            cancel.clicked.connect(lambda _=False, n=entry.number: self.cancel_entry(n))
            self.table.setCellWidget(row, CANCEL, cancel)
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
            text = entry.doing()
        elif entry.state in ENDED and entry.seconds is not None and entry.state != "cancelled":
            text = f"{entry.state} · {entry.seconds:.1f} s"
        else:
            text = entry.state
        bar.setFormat(text)
        bar.setToolTip(entry.message or text)
        color = ENDED_COLORS.get(entry.state)
        if bar.property("state_color") != color:
            palette = QPalette(self.palette())
            if color is not None:
                palette.setColor(QPalette.ColorRole.Highlight, QColor(color))
            bar.setPalette(palette)
            bar.setProperty("state_color", color)
        clip = self.table.cellWidget(row, CLIP)
        if isinstance(clip, QLabel) and entry.preview is not None and clip.property("shown") is not entry.preview:
            clip.setPixmap(strip_pixmap(entry.preview))
            clip.setProperty("shown", entry.preview)
        cancel = self.table.cellWidget(row, CANCEL)
        if cancel is not None:
            cancel.setEnabled(entry.state in (QUEUED, RUNNING))

    def _refresh_etas(self) -> None:
        etas = self.queue.etas(time.monotonic())
        for entry in self.queue.entries:
            row = self._rows.get(entry.number)
            item = self.table.item(row, ETA) if row is not None else None
            if item is not None:
                item.setText("" if entry.state in ENDED else clock(etas.get(entry.number)))
        self._summarise(etas)

    def _summarise(self, etas: dict[int, float | None] | None = None) -> None:
        waiting = self.queue.waiting()
        running = self.queue.running
        if waiting and etas is None:
            etas = self.queue.etas()
        last_waiting = next((e for e in reversed(self.queue.entries) if e.state == QUEUED), None)
        last = etas.get(last_waiting.number) if last_waiting is not None and etas else None
        if running is None and not waiting:
            self.summary.setText("Nothing rendering. Ctrl+Enter renders; while a render runs it queues another.")
        else:
            self.summary.setText(f"{1 if running else 0} rendering · {waiting} waiting"
                                 + (f" · all done in {clock(last)}" if last is not None else ""))


def strip_pixmap(frames: np.ndarray, count: int = STRIP_FRAMES, height: int = STRIP_H) -> QPixmap:
    """``count`` frames spread over the clip (first to last), side by side, each scaled to ``height``."""
    picked = frames[np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)]
    strip = np.ascontiguousarray(np.concatenate(list(picked), axis=1)[..., :3])
    h, w = strip.shape[:2]
    image = QImage(strip.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image.scaledToHeight(height, Qt.TransformationMode.SmoothTransformation))
