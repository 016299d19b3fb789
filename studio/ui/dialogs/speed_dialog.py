"""Generate Video's "Measure…" button: what `studio bench-speed` does, in the editor. Each speed setting renders
the node's shot at its seed and is compared with the exact render (speedup, PSNR, SSIM); the results are kept
for the model, and 'balanced' then means the fastest setting that kept 25 dB. The work runs off the main
thread on an engine of its own (the editor's renders go on); rows appear as each setting finishes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.graph import Graph, NodeRegistry
from studio.ui.shell.jobs import BackgroundJob, JobContext

COLUMNS = ("Setting", "Speedup", "PSNR", "SSIM", "Keeps 25 dB")


class _Rows(QObject):
    """Carries each finished setting from the worker thread to the dialog (queued to the main thread)."""

    measured = Signal(object)


class SpeedDialog(QDialog):
    """Measure the speed settings of one Generate node; ``job`` is the measuring work (None once it ended)."""

    def __init__(self, graph: Graph, registry: NodeRegistry, node_id: str, base_dir: Path | None,
                 settings: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Measure speed settings")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.note = QLabel(f"Rendering '{node_id}' exactly, then with each setting, at the same seed. The editor "
                           "stays usable; the first render also loads the model.")
        self.note.setObjectName("ParamHelp")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self.resize(620, 380)
        self.results: list[Any] = []
        self.verdict = ""
        self._rows = _Rows(self)
        self._rows.measured.connect(self._add_row)
        snapshot = graph.copy()  # later edits on the canvas do not reach a measurement under way

        def work(ctx: JobContext):  # noqa: ANN202 - a GraphBench and what 'balanced' now means
            from studio.runtime import fidelity

            bench = fidelity.bench_graph(snapshot, registry, settings, node_id=node_id, base_dir=base_dir,
                                         on_result=self._rows.measured.emit, is_cancelled=ctx.cancelled)
            return bench, fidelity.resolve("balanced", bench.model)

        self.job: BackgroundJob | None = BackgroundJob(work, "speed", parent=self)
        self.job.succeeded.connect(self._done)
        self.job.failed.connect(lambda why: self._ended(f"The measurement stopped: {why}"))
        self.job.cancelled.connect(lambda: self._ended("Cancelled: the settings measured so far are not kept."))
        self.job.start()

    def _add_row(self, result: Any) -> None:
        self.results.append(result)
        row = self.table.rowCount()
        self.table.insertRow(row)
        if result.error:
            cells = (result.setting, "—", "—", "—", f"refused: {result.error}")
        else:
            shown = "identical" if math.isinf(result.psnr) else f"{result.psnr:.1f} dB"
            cells = (result.setting, f"{result.speedup:.2f}x", shown, f"{result.ssim:.3f}",
                     "yes" if result.passed else "no")
        for col, text in enumerate(cells):
            self.table.setItem(row, col, QTableWidgetItem(text))

    def _done(self, answer: tuple[Any, Any]) -> None:
        _bench, balanced = answer
        why = balanced.why.removeprefix("balanced: ")
        self.verdict = f"Kept for this model. 'balanced' now means {balanced.setting}: {why}."
        self._ended(self.verdict)

    def _ended(self, text: str) -> None:
        self.note.setText(text)
        self.job = None
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)  # still wired to reject

    def reject(self) -> None:
        if self.job is not None:  # Cancel: stop at the next step, then close
            self.job.cancel()
            self.job.finished.connect(super().reject)
            self.note.setText("Cancelling at the next step…")
            return
        super().reject()
