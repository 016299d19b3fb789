"""Ctrl+Z in an inspector field undoes the graph once the field has nothing of its own to undo.

A focused line edit or spin box claims the undo and redo keys (ShortcutOverride) even when its own text
history is empty: after typing a number and pressing Enter, Ctrl+Z did nothing at all while the field kept the
focus (seen under Xvfb). While there is typing to take back, the field keeps the keys, as text fields do.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QPlainTextEdit, QWidget


def _keys() -> tuple[list[QKeySequence], list[QKeySequence]]:
    """The undo and redo keys of this platform, as the window's actions have them (read when asked: a
    standard key means nothing before the application exists)."""
    undo = QKeySequence.keyBindings(QKeySequence.StandardKey.Undo)
    redo = [*QKeySequence.keyBindings(QKeySequence.StandardKey.Redo), QKeySequence("Ctrl+Shift+Z"),
            QKeySequence("Ctrl+Y")]
    return undo, redo


def _has_own(widget: QObject, redo: bool) -> bool:
    """Whether the field has text edits of its own to undo (or redo)."""
    if isinstance(widget, QAbstractSpinBox):
        widget = widget.lineEdit()
    if isinstance(widget, QLineEdit):
        return widget.isRedoAvailable() if redo else widget.isUndoAvailable()
    if isinstance(widget, QPlainTextEdit):
        document = widget.document()
        return document.isRedoAvailable() if redo else document.isUndoAvailable()
    return True


class UndoKeys(QObject):
    """Lets the window's Undo and Redo take the keys from a field with nothing of its own to take back."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(event, QKeyEvent):
            return False
        pressed = QKeySequence(event.keyCombination())
        undo_keys, redo_keys = _keys()
        if pressed in undo_keys:
            redo = False
        elif pressed in redo_keys:
            redo = True
        else:
            return False
        if _has_own(watched, redo):
            return False
        event.ignore()  # not overridden: the shortcut (the window's Undo or Redo) gets the key
        return True

    def guard(self, body: QWidget) -> None:
        for widget in body.findChildren(QWidget):
            if isinstance(widget, QLineEdit | QAbstractSpinBox | QPlainTextEdit):
                widget.installEventFilter(self)
