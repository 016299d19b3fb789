"""The bottom dock: validation problems (click to find the node, and the table row a problem is in) and the
log of runs and messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPlainTextEdit, QTabWidget, QWidget

from studio.graph import Problem

LOG_LINES = 5000
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # (parameter, 0-based row) of a problem in a table's row
COLUMN_ROLE = Qt.ItemDataRole.UserRole + 2  # the field of that row the problem is about, or ""


def table_row(problem: Problem) -> tuple[str, int] | None:
    """(parameter, 0-based row) when the problem is in one row of a table parameter (a shot without a length);
    the row's field it is about is ``problem.column``."""
    where = problem.where or ""
    if problem.row is None or not (where.startswith("parameter '") and where.endswith("'")):
        return None
    return where[len("parameter '"):-1], problem.row - 1


class _LogBridge(QObject):
    line = Signal(str, int)


class QtLogHandler(logging.Handler):
    """Forwards log records from any thread to the log panel (signals cross threads safely).

    ``route(text, level)``, when set, is offered each line first, on the thread that logged it; it returns True
    when it takes the line (the window's render controller takes lines logged during a render, and delivers
    them in order with the render's events: engine events wait up to a frame to be merged, so a line sent on its
    own showed "shot 6/7: rendering" above "render started", or after "render ok", seen in the soak)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.bridge = _LogBridge()
        self.route: Callable[[str, int], bool] | None = None
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if self.route is not None and self.route(text, record.levelno):
                return
            self.bridge.line.emit(text, record.levelno)
        except RuntimeError:  # the panel is gone (window closed)
            pass


class LogPanel(QTabWidget):
    node_activated = Signal(str)
    # node, parameter, 0-based row, the row's field ("" for the whole row): after node_activated, for such a problem
    row_activated = Signal(str, str, int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problems = QListWidget(self)
        self.problems.setAlternatingRowColors(True)
        self.problems.itemActivated.connect(self._activate)
        self.problems.itemClicked.connect(self._activate)
        self.log = QPlainTextEdit(self)
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("Render messages and warnings appear here.")
        self.addTab(self.problems, "Problems")
        self.addTab(self.log, "Log")
        self.handler = QtLogHandler()
        self.handler.bridge.line.connect(self.append, Qt.ConnectionType.QueuedConnection)
        for name in ("studio", "nodes"):
            logger = logging.getLogger(name)
            logger.addHandler(self.handler)
            # `studio GRAPH` opens the editor without the CLI's logging set-up: the root logger's WARNING then
            # dropped the INFO lines this panel is for ("shot 4/6 'lift': rendering (its prompt changed)", the
            # model loaded, a cache eviction) before any handler saw them (seen on a real display)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        self.set_problems([])

    def detach_logging(self) -> None:
        logging.getLogger("studio").removeHandler(self.handler)
        logging.getLogger("nodes").removeHandler(self.handler)

    def append(self, text: str, level: int = logging.INFO) -> None:
        stamp = time.strftime("%H:%M:%S")
        prefix = "⚠ " if level >= logging.WARNING else ""
        self.log.appendPlainText(f"{stamp}  {prefix}{text}")

    def set_problems(self, problems: list[Problem]) -> None:
        self.problems.clear()
        if not problems:
            item = QListWidgetItem("No problems: the graph is ready to render.")
            item.setForeground(QColor("#7fbf8a"))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.problems.addItem(item)
        for problem in problems:
            item = QListWidgetItem(str(problem))
            item.setForeground(QColor("#ff8a80" if problem.kind != "missing_input" else "#f2c14e"))
            item.setData(Qt.ItemDataRole.UserRole, problem.node_id)
            item.setData(ROW_ROLE, table_row(problem))
            item.setData(COLUMN_ROLE, problem.column or "")
            self.problems.addItem(item)
        self.setTabText(0, f"Problems ({len(problems)})" if problems else "Problems")

    def _activate(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_activated.emit(node_id)
            row = item.data(ROW_ROLE)
            if row:
                self.row_activated.emit(node_id, row[0], row[1], item.data(COLUMN_ROLE) or "")
