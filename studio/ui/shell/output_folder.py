"""Where the editor's renders go: the graph's output folder, the person's choice of another, and the inspector's
file picker for a node that writes (it stores a name inside that folder, never a path out of it)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from studio.engine.outputs import OutputPolicy
from studio.graph.outputs import output_name_problem

SETTING = "render/output_folder"


def configured_root() -> Path | None:
    """The output folder the person chose for every graph (Render > Output Folder), or None: beside the graph."""
    from studio.ui.shell.settings import settings

    value = settings().value(SETTING)
    return Path(str(value)) if value else None


def policy_for(draft: bool = False) -> OutputPolicy:
    """The render's output rule: the configured folder, else ``renders/`` beside a saved graph, else the
    default folder (an untitled graph, an example)."""
    return OutputPolicy(root=configured_root(), draft=draft)


def output_folder(session_path: Path | None) -> Path:
    base = Path(session_path).parent if session_path else None
    return policy_for().folder(base)


def choose_root(parent: QWidget) -> Path | None:
    """Ask for the folder every render writes into; Cancel keeps the current choice. Returns the new folder."""
    from studio.ui.shell.settings import settings

    current = configured_root()
    folder = QFileDialog.getExistingDirectory(
        parent, "Output folder for renders (Cancel: keep)", str(current or Path.home())
    )
    if not folder:
        return None
    settings().setValue(SETTING, folder)
    return Path(folder)


def name_in_folder(picked: str, folder: Path) -> str | None:
    """The name to store for a file picked in a save dialog: relative to the output folder, or None (with the
    reason shown by the caller) when it lies outside it."""
    try:
        relative = Path(os.path.relpath(Path(picked).resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive
        return None
    return None if output_name_problem(relative) else relative


def refuse_outside(parent: QWidget, folder: Path) -> None:
    QMessageBox.information(
        parent,
        "Outside the output folder",
        f"A graph writes only inside its output folder:\n{folder}\n\nPick a name in that folder (sub-folders "
        "are fine), choose another output folder in Render > Output Folder, or write the clip anywhere with "
        "File > Export Clip.",
    )
