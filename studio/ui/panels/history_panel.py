"""The History panel: every finished render with its thumbnail; open one in the viewer, compare it with the
clip on screen, or put its graph back on the canvas (one undo step)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QMenu, QVBoxLayout, QWidget

from studio.errors import StudioError
from studio.graph import loads
from studio.media.render_history import HistoryRecord, RenderHistory
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.session import EditSession

log = logging.getLogger(__name__)
ICON = QSize(96, 64)


def pixmap(frame: np.ndarray) -> QPixmap:
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    return QPixmap.fromImage(QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class HistoryPanel(QWidget):
    """Lists ``history`` newest first. ``show_clip(frames, fps, title)`` and ``compare_clip(...)`` put a proxy
    in the viewer (the window wires them to the timeline); reading the folder happens off the main thread."""

    listed = Signal(list)  # [HistoryRecord], newest first, each time the list is (re)read

    def __init__(self, session: EditSession, history_for: Callable[[], RenderHistory],
                 show_clip: Callable[[np.ndarray, float, str], None],
                 compare_clip: Callable[[np.ndarray, float, str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.history_for = session, history_for
        self.show_clip, self.compare_clip = show_clip, compare_clip
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.ListMode)
        self.list.setIconSize(ICON)
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)  # two selected: compare them
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemActivated.connect(lambda item: self.open(item.data(Qt.ItemDataRole.UserRole)))
        self.note = QLabel("")
        self.note.setObjectName("ParamHelp")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        self.records: list[HistoryRecord] = []
        self._job: BackgroundJob | None = None
        self.refresh()

    # ---- listing
    def refresh(self) -> BackgroundJob:
        """Read the history folder (records and thumbnails) off the main thread, then list it."""
        history = self.history_for()

        def read(_ctx: object) -> tuple[RenderHistory, list[tuple[HistoryRecord, np.ndarray | None]]]:
            return history, [(r, history.thumbnail(r)) for r in history.records()]

        self._job = BackgroundJob(read, "history", background=False, parent=self)
        self._job.succeeded.connect(self._fill)
        self._job.start()
        return self._job

    def _fill(self, found: tuple[RenderHistory, list[tuple[HistoryRecord, np.ndarray | None]]]) -> None:
        history, rows = found
        self.history = history
        self.records = [r for r, _ in rows]
        self.list.setUpdatesEnabled(False)
        self.list.clear()
        for record, thumb in rows:
            item = QListWidgetItem(record.describe())
            item.setData(Qt.ItemDataRole.UserRole, record.number)
            item.setToolTip(f"{record.label}\n{record.frames} frames · {record.size[0]}x{record.size[1]} · "
                            f"{record.fps:g} fps" + "".join(f"\nwrote {w}" for w in record.written))
            if thumb is not None:
                item.setIcon(QIcon(pixmap(thumb)))
            self.list.addItem(item)
        self.list.setUpdatesEnabled(True)
        self.listed.emit(self.records)
        where = history.folder
        self.note.setText(f"{len(rows)} render(s) kept in {where}. Double-click: show it; right-click: compare, "
                          "restore its graph." if rows else
                          f"Every finished render is kept here (in {where}).")

    def record(self, number: int) -> HistoryRecord | None:
        return next((r for r in self.records if r.number == number), None)

    # ---- actions
    def open(self, number: int) -> bool:
        record = self.record(number)
        proxy = self.history.proxy(record) if record is not None else None
        if record is None or proxy is None:
            self.note.setText(f"render #{number}: its clip is no longer kept (the history's size cap); "
                              "its graph can still be restored")
            return False
        self.show_clip(proxy, record.fps or 16.0, record.describe())
        return True

    def compare(self, number: int) -> bool:
        record = self.record(number)
        proxy = self.history.proxy(record) if record is not None else None
        if record is None or proxy is None:
            return False
        self.compare_clip(proxy, record.fps or 16.0, record.describe())
        return True

    def restore_graph(self, number: int) -> bool:
        """Put the graph this render ran back on the canvas, as one undo step."""
        record = self.record(number)
        text = self.history.graph_text(record) if record is not None else None
        if record is None or text is None:
            if record is not None:
                self.note.setText(f"render #{number}: its graph is no longer kept")
            return False
        base = Path(self.session.path).parent if self.session.path else None
        try:
            graph = loads(text, self.session.registry, base)
        except StudioError as exc:
            self.note.setText(f"render #{number}: its graph cannot be restored: {exc}")
            return False
        self.session.edit(f"Restore the graph of render #{number}", lambda g: g.restore(graph))
        return True

    def compare_pair(self, first: int, second: int) -> bool:
        """Show render ``first`` and compare it with render ``second`` (wipe or side by side in the viewer)."""
        return self.open(first) and self.compare(second)

    def _menu(self, pos) -> None:  # noqa: ANN001
        item = self.list.itemAt(pos)
        if item is None:
            return
        number = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        chosen = [i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems()]
        if len(chosen) == 2:
            first, second = sorted(chosen)
            menu.addAction(f"Compare #{first} with #{second}", lambda: self.compare_pair(first, second))
        menu.addAction("Show in Viewer", lambda: self.open(number))
        menu.addAction("Compare with the Clip on Screen", lambda: self.compare(number))
        menu.addSeparator()
        menu.addAction("Restore This Graph", lambda: self.restore_graph(number))
        menu.popup(self.list.viewport().mapToGlobal(pos))
