"""Render > Queue Batch…: seeds and parameter sweeps queued as one render each (the CLI's --seeds/--sweep)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.engine.jobs import Override, parse_seeds, parse_sweep, variations
from studio.errors import StudioError
from studio.graph import Graph, NodeRegistry


class BatchDialog(QDialog):
    """Asks for seeds (``1-4``, ``1,3,7``) and sweeps (``generate.guidance=3,5,7``, one per line) and says, as
    they are typed, how many renders that makes or what is wrong."""

    def __init__(self, graph: Graph, registry: NodeRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph, self.registry = graph, registry
        self.setWindowTitle("Queue Batch")
        self.seeds = QLineEdit()
        self.seeds.setPlaceholderText("e.g. 1-4 or 1,3,7 (empty: the graph's own seeds)")
        self.sweeps = QPlainTextEdit()
        self.sweeps.setPlaceholderText("one per line, NODE.PARAM=values\ne.g. generate.guidance=3,5,7")
        self.sweeps.setFixedHeight(80)
        self.draft = QCheckBox("Draft (each generator's draft steps; nothing exported)")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Seeds", self.seeds)
        form.addRow("Sweeps", self.sweeps)
        form.addRow("", self.draft)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.seeds.textChanged.connect(self._check)
        self.sweeps.textChanged.connect(self._check)
        self.variations: list[tuple[Override, ...]] = [()]
        self._check()

    def _check(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            seeds = parse_seeds(self.seeds.text()) if self.seeds.text().strip() else []
            sweeps = [parse_sweep(line.strip()) for line in self.sweeps.toPlainText().splitlines() if line.strip()]
            self.variations = variations(self.graph, self.registry, seeds, sweeps)
        except StudioError as exc:
            self.note.setText(f"<span style='color:#e06c6c'>{exc}</span>")
            ok.setEnabled(False)
            return
        count = len(self.variations)
        self.note.setText(f"{count} render{'s' if count != 1 else ''} will be queued, one after another.")
        ok.setEnabled(True)
        ok.setText(f"Queue {count}")
