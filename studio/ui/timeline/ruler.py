"""The time ruler: ticks in frames or timecode, in/out range, markers, and the playhead to drag."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.ui.timeline.model import TimeAxis, TimelineModel, timecode

PLAYHEAD = QColor(255, 92, 72)
RANGE = QColor(90, 140, 255, 60)
SECTION = QColor(240, 190, 80)
BEAT = QColor(150, 210, 255)
_STEPS = (1, 2, 5, 10, 12, 24, 48, 120, 240, 480, 1200, 2400, 4800, 14400)


def tick_step(scale: float, min_px: float = 60.0) -> int:
    """Frames between labelled ticks so that labels are at least ``min_px`` apart."""
    for step in _STEPS:
        if step * scale >= min_px:
            return step
    return _STEPS[-1]


class ThrottledFrames(QObject):
    """Frames whose pictures changed, gathered and handed to ``repaint`` at most every ``interval`` seconds: a
    render changes every frame at each step, and a lane follows a few times a second (the viewer shows each
    step), so the main thread's share per step stays small."""

    def __init__(self, repaint: Callable[[set[int]], None], interval: float, parent: QObject) -> None:
        super().__init__(parent)
        self.repaint, self.interval = repaint, interval
        self._changed: set[int] = set()
        self._flushed_at = 0.0
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.flush)

    def add(self, indices: list[int]) -> None:
        self._changed.update(indices)
        wait = self._flushed_at + self.interval - time.monotonic()
        if wait <= 0:
            self.flush()
        elif not self.timer.isActive():
            self.timer.start(max(1, round(wait * 1000)))

    def flush(self) -> None:
        self._flushed_at = time.monotonic()
        changed, self._changed = self._changed, set()
        self.repaint(changed)


class AxisWidget(QWidget):
    """A lane drawn on the shared time axis; a click or drag moves the playhead."""

    scrubbing = Signal(bool)

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.axis = model, axis
        self._dragging = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        axis.changed.connect(self.update)
        model.playhead_changed.connect(self._playhead_moved)
        model.clip_changed.connect(self.update)
        model.range_changed.connect(self.update)
        self._last_x = -1

    def _playhead_moved(self, frame: int) -> None:
        # repaint only the two thin strips the playhead left and entered
        x = round(self.axis.x(frame))
        for old in (self._last_x, x):
            if old >= 0:
                self.update(old - 8, 0, 17, self.height())
        self._last_x = x

    def frame_at(self, x: float) -> int:
        return round(self.axis.frame_at(x))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self.scrubbing.emit(True)
            self.model.set_playhead(self.frame_at(event.position().x()))
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._dragging:
            self.model.set_playhead(self.frame_at(event.position().x()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._dragging:
            self._dragging = False
            self.scrubbing.emit(False)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt's name)
        delta = event.angleDelta().y() or event.angleDelta().x()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.axis.zoom(1.25 if delta > 0 else 0.8, event.position().x())
        else:
            self.axis.scroll(-delta / 120 * 40 / self.axis.scale)
        event.accept()

    def paint_playhead(self, painter: QPainter, head: bool = False) -> None:
        if self.model.store.count == 0:  # no clip yet: a playhead in mid-air would say there is one
            return
        x = self.axis.x(self.model.playhead)
        painter.setPen(PLAYHEAD)
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        if head:
            painter.setBrush(PLAYHEAD)
            painter.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 6, 0), QPointF(x, 8)]))
        self._last_x = round(x)

    def paint_range(self, painter: QPainter) -> None:
        m = self.model
        if m.in_point is None and m.out_point is None:
            return
        left, right = self.axis.x(m.first - 0.5), self.axis.x(m.last + 0.5)
        painter.fillRect(QRectF(left, 0, right - left, self.height()), RANGE)


FLAG_H = 14  # the strip at the top of the ruler where section flags carry their labels


class TimeRuler(AxisWidget):
    """Ticks and labels; section markers as labelled flags, beats as short blue ticks. A click on a section's flag
    says which section (``section_clicked``: its index among the sections) and moves the playhead there."""

    section_clicked = Signal(int)

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, parent)
        self.show_timecode = False
        self.setFixedHeight(36)
        self.setToolTip("Drag to scrub · Ctrl+wheel zooms · wheel scrolls · double-click: frames / timecode")
        model.markers_changed.connect(self.update)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.axis.set_geometry(self.width(), self.model.count)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        self.show_timecode = not self.show_timecode
        self.update()

    def section_at(self, x: float, y: float) -> int | None:
        """The index of the section whose flag (its line and label, in the top strip) is under (x, y)."""
        if y > FLAG_H:
            return None
        metrics = QFontMetrics(QFont(self.font().family(), 8))
        sections = [m for m in self.model.markers if m.kind == "section"]
        for index in reversed(range(len(sections))):  # a later flag is drawn over an earlier one
            left = self.axis.x(sections[index].frame)
            if left - 3 <= x <= left + 3 + metrics.horizontalAdvance(sections[index].label or " "):
                return index
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        index = self.section_at(event.position().x(), event.position().y())
        if index is not None and event.button() == Qt.MouseButton.LeftButton:
            self.section_clicked.emit(index)
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 32, 37))
        self.paint_range(painter)
        axis, m = self.axis, self.model
        step = tick_step(axis.scale, 90 if self.show_timecode else 50)
        minor = max(1, step // 5) if step >= 5 else 1
        first = max(0, int(axis.start) // minor * minor)
        last = min(m.count - 1, int(axis.end) + 1)
        font = QFont(self.font().family(), 8)
        painter.setFont(font)
        h = self.height()
        if minor * axis.scale >= 4:
            painter.setPen(QColor(80, 84, 92))
            for f in range(first, last + 1, minor):
                x = axis.x(f)
                painter.drawLine(QPointF(x, h - 5), QPointF(x, h))
        painter.setPen(QColor(150, 154, 162))
        for f in range(first // step * step, last + 1, step):
            if f < 0:
                continue
            x = axis.x(f)
            painter.drawLine(QPointF(x, h - 12), QPointF(x, h))
            label = timecode(f, m.fps) if self.show_timecode else str(f)
            painter.drawText(QPointF(x + 3, h - 14), label)
        for marker in m.markers:
            x = axis.x(marker.frame)
            if marker.kind == "beat":
                painter.setPen(BEAT)
                painter.drawLine(QPointF(x, 0), QPointF(x, 6))
            else:
                painter.setPen(SECTION)
                painter.drawLine(QPointF(x, 0), QPointF(x, h))
                if marker.label:
                    painter.drawText(QPointF(x + 3, 10), marker.label)
        self.paint_playhead(painter, head=True)
        painter.end()
