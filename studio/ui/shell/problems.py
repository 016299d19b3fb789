"""Validation off the main thread: a large graph takes a noticeable time to check."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.engine.assets import missing_files
from studio.graph import Graph, NodeRegistry, validate
from studio.ui.shell.jobs import BackgroundJob


class ProblemChecker(QObject):
    """Validates a snapshot of the graph on a worker thread; the newest request wins."""

    found = Signal(list)  # [Problem], on the main thread

    def __init__(self, registry: NodeRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self._serial = 0
        self._busy = False
        self._pending: Graph | None = None
        self._base: Path | None = None

    def check(self, graph: Graph, base_dir: Path | None = None) -> None:
        """Validate ``graph`` and look for the files it reads (relative to ``base_dir``), off the main thread."""
        self._base = base_dir
        snapshot = graph.copy()
        if self._busy:
            self._pending = snapshot  # checked when the current one ends
            return
        self._start(snapshot)

    def _start(self, snapshot: Graph) -> None:
        self._busy = True
        self._serial += 1
        registry = self.registry
        base = self._base

        def work(_ctx: object) -> list:
            return validate(snapshot, registry) + missing_files(snapshot, registry, base)

        job = BackgroundJob(work, "validate", background=False, parent=self)
        job.succeeded.connect(self._deliver)
        job.failed.connect(lambda _why: self._deliver([]))  # a bug in validation must not take the editor down
        job.finished.connect(job.deleteLater)
        job.start()

    def _deliver(self, problems: list) -> None:
        self._busy = False
        if self._pending is not None:
            snapshot, self._pending = self._pending, None
            self._start(snapshot)
            return
        self.found.emit(problems)

    def wait_idle(self, timeout_ms: int = 5000) -> bool:
        """For tests: process events until no check is running."""
        from PySide6.QtCore import QDeadlineTimer
        from PySide6.QtWidgets import QApplication

        deadline = QDeadlineTimer(timeout_ms)
        while (self._busy or self._pending is not None) and not deadline.hasExpired():
            QApplication.processEvents()
        return not self._busy
