"""The shots lane: a sequence's shots as sections on the time axis, each with its name, bounds and first frame."""

from __future__ import annotations

import html
import time

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QToolTip, QWidget

from studio.ui.timeline.model import TimeAxis, TimelineModel, timecode
from studio.ui.timeline.ruler import PLAYHEAD, SECTION, AxisWidget, ThrottledFrames
from studio.ui.timeline.viewer import wrap

FILLS = (QColor(40, 44, 54), QColor(47, 52, 63))  # neighbours alternate, so a cut reads at any zoom
CHOSEN = QColor(74, 66, 44)
EDGE = QColor(120, 126, 140)
TEXT = QColor(214, 218, 226)
DIM = QColor(140, 146, 158)


class ShotLane(AxisWidget):
    """One section per shot of a sequence. A click chooses the shot (``shot_clicked``: its index) and moves
    the playhead; the chosen shot is outlined, the one rendering carries a bar. Thumbnails come from the frame
    store only when they are cheap (a proxy made, or a frame held uncompressed): otherwise the lane asks again
    a moment later, while the store's workers make the proxy, so painting never waits on a decode."""

    shot_clicked = Signal(int)
    REFRESH_S = 0.2  # a render changes a shot's first frame at every step: its thumbnail follows this often
    RETRY_MS = 250  # a thumbnail not cheap yet is looked for again after this long

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, parent)
        self.setFixedHeight(44)
        self.setMouseTracking(True)
        # shot index -> (frame, version, width, image, pixels): the image points into pixels
        self._thumbs: dict[int, tuple[int, int, int, QImage, np.ndarray]] = {}
        self.thumbs_made = 0  # thumbnails scaled since the lane was made (tests, benchmarks)
        self.paints, self.paint_s = 0, 0.0  # paint events and the seconds they took (benchmarks)
        self.repaints = ThrottledFrames(self._repaint_sections, self.REFRESH_S, self)
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self.update)
        model.shots_changed.connect(self.update)
        model.clip_changed.connect(self._thumbs.clear)
        model.frames_changed.connect(self._frames_changed)

    # ---- geometry
    def section_rect(self, index: int) -> QRect:
        shot = self.model.shots[index]
        left, right = self.axis.x(shot.start - 0.5), self.axis.x(shot.end - 0.5)
        return QRect(round(left), 0, max(1, round(right) - round(left)), self.height())

    def shot_at_x(self, x: float) -> int | None:
        return self.model.shot_at(self.axis.frame_at(x))

    # ---- repaint what changed
    def _frames_changed(self, indices: list[int]) -> None:
        if self.model.shots:
            self.repaints.add(indices)

    def _repaint_sections(self, changed: set[int]) -> None:
        for index, shot in enumerate(self.model.shots):
            if shot.start in changed:  # only a shot's first frame is on the lane
                self.update(self.section_rect(index))

    def _thumbnail(self, index: int, width: int, height: int) -> QImage | None:
        store, frame = self.model.store, self.model.shots[index].start
        if not 0 <= frame < store.count:
            return None
        version = store.version(frame)
        hit = self._thumbs.get(index)
        if hit is not None and hit[:3] == (frame, version, width):
            return hit[3]
        if not (store.has_proxy(frame) or store.is_decoded(frame)):
            # compressed and no proxy yet: the store's worker makes it; look again soon, show the old one
            if not self._retry.isActive():
                self._retry.start(self.RETRY_MS)
            return hit[3] if hit is not None and hit[0] == frame else None
        small = store.proxy(frame)
        if small is None:
            return None
        up = width > small.shape[1]
        pixels = np.ascontiguousarray(cv2.resize(
            small, (width, height), interpolation=cv2.INTER_NEAREST if up else cv2.INTER_AREA))
        image = wrap(pixels)
        self._thumbs[index] = (frame, version, width, image, pixels)
        self.thumbs_made += 1
        return image

    # ---- painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        started = time.perf_counter()
        painter = QPainter(self)
        painter.fillRect(event.rect(), QColor(24, 25, 29))
        m = self.model
        if m.shots:
            exposed = event.region()
            w, h = m.store.size
            th = self.height() - 8
            tw = max(8, round(th * w / h)) if w and h else 0
            name_font = QFont(self.font().family(), 8)
            name_font.setBold(True)
            small_font = QFont(self.font().family(), 7)
            names, smalls = QFontMetrics(name_font), QFontMetrics(small_font)
            for index in range(len(m.shots)):
                rect = self.section_rect(index)
                if rect.right() < 0 or rect.left() > self.width() or not exposed.intersects(rect):
                    continue
                self._paint_section(painter, index, rect, tw, th, (name_font, names), (small_font, smalls))
        self.paint_range(painter)
        self.paint_playhead(painter)
        painter.end()
        self.paints += 1
        self.paint_s += time.perf_counter() - started

    def _paint_section(self, painter: QPainter, index: int, rect: QRect, tw: int, th: int,
                       name: tuple[QFont, QFontMetrics], small: tuple[QFont, QFontMetrics]) -> None:
        m = self.model
        shot = m.shots[index]
        chosen = index == m.chosen_shot
        body = rect.adjusted(0, 2, 0, -2)
        painter.fillRect(body, CHOSEN if chosen else FILLS[index % 2])
        x = rect.left() + 3
        if tw and rect.width() >= tw + 8:
            image = self._thumbnail(index, tw, th)
            target = QRect(x, 4, tw, th)
            if image is not None:
                painter.drawImage(target, image)
            else:
                painter.fillRect(target, QColor(30, 32, 38))
            x += tw + 4
        room = rect.right() - x - 3
        if room >= 24:  # narrower, a name would be an ellipsis: the tooltip tells it
            painter.setPen(TEXT)
            painter.setFont(name[0])
            painter.drawText(QPointF(x, 15), name[1].elidedText(shot.name, Qt.TextElideMode.ElideRight, room))
            seconds = shot.frames / m.fps if m.fps > 0 else 0.0
            detail = f"{index + 1} · {seconds:.1f} s" + (" · continues" if shot.continues else "")
            if index == m.rendering_shot:
                detail = f"{index + 1} · rendering"
            painter.setPen(DIM)
            painter.setFont(small[0])
            painter.drawText(QPointF(x, 30), small[1].elidedText(detail, Qt.TextElideMode.ElideRight, room))
        if index == m.rendering_shot:
            painter.fillRect(QRect(rect.left(), rect.bottom() - 4, rect.width(), 3), PLAYHEAD)
        painter.setPen(QPen(EDGE, 1))
        painter.drawLine(QPointF(rect.left() + 0.5, 0), QPointF(rect.left() + 0.5, self.height()))
        if chosen:
            painter.setPen(QPen(SECTION, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(rect).adjusted(1, 1, -1, -1))

    # ---- mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.shot_at_x(event.position().x())
            if index is not None:
                self.shot_clicked.emit(index)
        super().mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.shot_at_x(event.position().x())
            if index is None:
                QToolTip.hideText()
                event.ignore()
                return True
            shot, fps = self.model.shots[index], self.model.fps
            text = (f"<b>{index + 1}. {html.escape(shot.name)}</b> · frames {shot.start}–{shot.end - 1} "
                    f"({timecode(shot.start, fps)}) · {shot.frames / fps:.2f} s"
                    + (" · continues the shot before" if shot.continues else "")
                    + (f"<br>{html.escape(shot.prompt)}" if shot.prompt else "")
                    + "<br><small>Click: choose it in the Shot List</small>")
            QToolTip.showText(event.globalPos(), text, self)
            return True
        return super().event(event)
