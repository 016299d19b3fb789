"""The editor's settings file (window layout, recent files, dialog choices), apart from any window or dialog."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from studio import paths


def settings() -> QSettings:
    """The editor's settings file, under STUDIO_HOME when it is set (tests never touch the user's)."""
    return QSettings(str(paths.config_dir() / "editor.ini"), QSettings.Format.IniFormat)
