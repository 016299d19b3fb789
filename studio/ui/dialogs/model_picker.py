"""Load Model's picker: the models Studio finds (embedded, folders, the Hugging Face cache), each with its
family, kind, size and whether Studio will load it; the list is read off the main thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.settings import settings

COLUMNS = ("Model", "Family", "Kind", "Size", "Status")
FOLDERS_KEY = "models/folders"


def model_folders() -> list[Path]:
    value = settings().value(FOLDERS_KEY, [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [Path(p) for p in items if p]


def folder_size(path: Path) -> int:
    """Bytes of weights in a model folder (safetensors and GGUF files), 0 when unreadable."""
    total = 0
    try:
        for file in Path(path).rglob("*"):
            if file.suffix in (".safetensors", ".gguf") and file.is_file():
                total += file.stat().st_size
    except OSError:
        return total
    return total


def size_text(size: int) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB" if size else "—"


def find_models(folders: list[Path]) -> list[tuple[Any, int]]:
    """(ModelInfo, bytes of weights) of every model Studio can see (runs on a worker thread)."""
    from studio.runtime import list_models

    return [(info, folder_size(info.path)) for info in list_models(folders)]


class ModelPicker(QDialog):
    """Choose a model; ``chosen`` is the source to put in Load Model's parameter."""

    def __init__(self, current: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.current, self.chosen = current, ""
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemDoubleClicked.connect(lambda _item: self.accept())
        self.table.itemSelectionChanged.connect(self._selected)
        self.note = QLabel("Looking for models…")
        self.note.setObjectName("ParamHelp")
        self.note.setWordWrap(True)
        add = QPushButton("Add Folder…")
        add.setToolTip("A folder holding a diffusers pipeline (model_index.json), or a folder of them")
        add.clicked.connect(self.add_folder)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addStretch(1)
        row.addWidget(self.buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        self.resize(720, 360)
        self.found: list[tuple[Any, int]] = []
        self.job: BackgroundJob | None = None
        self.refresh()

    def refresh(self) -> BackgroundJob:
        folders = model_folders()
        self.job = BackgroundJob(lambda _ctx: find_models(folders), "models", background=False, parent=self)
        self.job.succeeded.connect(self._fill)
        self.job.failed.connect(lambda why: self.note.setText(f"The models could not be listed: {why}"))
        return self.job.start()

    def add_folder(self, folder: str | None = None) -> None:
        folder = folder or QFileDialog.getExistingDirectory(self, "A folder of models")
        if folder:
            folders = [str(p) for p in model_folders() if str(p) != folder] + [folder]
            settings().setValue(FOLDERS_KEY, folders)
            self.refresh()

    def _fill(self, found: list[tuple[Any, int]]) -> None:
        self.found = found
        self.table.setRowCount(len(found))
        for row, (info, size) in enumerate(found):
            refused = getattr(info, "refused", "")
            status = "refused" if refused else ("not trained yet" if info.is_placeholder else "ready")
            cells = (info.name, info.family, info.kind, size_text(size), status)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                item.setToolTip(f"{info.source}\n{info.path}" + (f"\nrefused: {refused}" if refused else ""))
                if refused:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable & ~Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(row, col, item)
            if info.source == self.current and not refused:
                self.table.selectRow(row)
        usable = sum(1 for info, _ in found if not getattr(info, "refused", ""))
        self.note.setText(f"{usable} model(s) Studio can load: the embedded one, folders you added, and the Hugging "
                          "Face cache (offline). Refused ones say why in their tooltip.")

    def _selected(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        self.chosen = self.found[rows.pop()][0].source if rows else ""
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.chosen))
