"""Scrolling the inspector scrolls it: a combo box, spin box or slider under the pointer takes the wheel only
once it was clicked (has focus). Without this, a person scrolling down Load Model's parameters changed its
Device to 'cpu' on the way (seen under Xvfb): an edit nobody asked for, found later in a slow render."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QWidget,
)

TAKERS = (QComboBox, QAbstractSpinBox, QAbstractSlider)


class WheelGuard(QObject):
    """Hands the wheel of an unfocused value editor to the scroll area around it."""

    def __init__(self, area: QAbstractScrollArea) -> None:
        super().__init__(area)
        self.area = area

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            QApplication.sendEvent(self.area.verticalScrollBar(), event)
            return True
        return False

    def guard(self, body: QWidget) -> None:
        """Every value editor inside ``body``: focus by click or Tab only, and the wheel only when focused."""
        for widget in body.findChildren(QWidget):
            if isinstance(widget, TAKERS) and widget is not self.area.verticalScrollBar():
                widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                widget.installEventFilter(self)
