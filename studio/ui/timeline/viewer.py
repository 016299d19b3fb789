"""The viewer: the frame under the playhead at the clip's aspect, fit or 1:1, with an A/B compare."""

from __future__ import annotations

import time

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from studio.media.framestore import FrameStore
from studio.ui.timeline.model import TimelineModel, timecode

BACKGROUND = QColor(18, 19, 22)


def wrap(pixels: np.ndarray) -> QImage:
    """A QImage over the array's memory, no copy (the caller keeps the array alive)."""
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, pixels.strides[0], QImage.Format.Format_RGB888)


def fit_rect(area: QRect, width: int, height: int) -> QRect:
    """The largest rectangle of the clip's aspect centred in ``area``."""
    if width <= 0 or height <= 0 or area.isEmpty():
        return QRect()
    scale = min(area.width() / width, area.height() / height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return QRect(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)


# while scrubbing, a proxy stands in for one not made yet when it is no further from the frame than
# a quarter of the jump that brought the playhead there (within these bounds), until the hand rests
NEAR_PROXY = (6, 48)


class _Scaled:
    """The last frame scaled to the screen, so a repaint for an overlay does not resize again.

    ``image`` is what is painted: the store's own pixels when they are already the size shown (no
    copy), otherwise the scaled frame as 32-bit RGB, which QPainter blits without converting.
    """

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.pixels: np.ndarray | None = None  # RGB, what is shown (tests read it); a latent-sized
        # preview at its own size, which QPainter blows up
        self._buffer: np.ndarray | None = None  # the memory ``image`` points into
        self.image: QImage | None = None
        self.draft = False  # a proxy, a near frame's proxy or a small decode, refined at rest
        self.source = -1  # the frame whose picture is shown (a near one's while scrubbing)

    @staticmethod
    def view(
        store: FrameStore, index: int, w: int, h: int, one_to_one: bool
    ) -> tuple[int, tuple[int, int] | None]:
        """How to ask the store for this frame: the JPEG decoded no larger than needed (its DCT
        scaling is nearly free) and scaled to the screen, or as it is for 1:1."""
        fh, fw = store.frame_shape(index)
        if one_to_one or not fw:
            return 1, None
        reduce = 1
        while reduce < 8 and fw // (reduce * 2) >= w and fh // (reduce * 2) >= h:
            reduce *= 2
        return reduce, (w, h)

    @staticmethod
    def plan(
        store: FrameStore, index: int, reduce: int, size: tuple[int, int] | None, draft: bool, jump: int = 0
    ) -> tuple[str, int, int]:
        """(what, frame, reduce) to paint: the frame as the screen wants it, or while scrubbing a
        frame that is not decoded yet, its proxy, a near frame's proxy, or a small decode of it."""
        if not draft or size is None or store.is_decoded(index, reduce, size):
            return "frame", index, reduce
        if store.has_proxy(index):
            return "proxy", index, 0
        near = store.nearest_proxy(index, min(max(abs(jump) // 4, NEAR_PROXY[0]), NEAR_PROXY[1]))
        if near is not None:
            return "proxy", near, 0
        return "small", index, 8  # Huffman decoding dominates: 1/8 is the cheapest the JPEG allows

    def get(
        self,
        store: FrameStore,
        index: int,
        w: int,
        h: int,
        one_to_one: bool,
        draft: bool = False,
        jump: int = 0,
    ) -> QImage | None:
        fh, fw = store.frame_shape(index)
        if not fw or not fh:
            return None
        reduce, size = self.view(store, index, w, h, one_to_one)
        what, source, r = self.plan(store, index, reduce, size, draft and not one_to_one, jump)
        key = (id(store), index, source, store.version(source), w, h, one_to_one, what, r)
        if key == self.key:
            return self.image
        if what == "proxy":
            frame = store.proxy(source)
        else:
            frame = store.frame(index, r, size if what == "frame" else None)
        if frame is None:
            return None
        if not one_to_one and w >= frame.shape[1] * 3.5:
            # latent-sized previews are blown up blocky (what the model has): QPainter does that as
            # it paints (nearest, no smoothing hint), so a live step costs no resize or copy here
            self._buffer = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
            self.image = wrap(self._buffer)
        elif not one_to_one and (frame.shape[1], frame.shape[0]) != (w, h):
            # frames and proxies are scaled smoothly
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
            self._buffer = cv2.cvtColor(frame, cv2.COLOR_RGB2BGRA)
            self.image = QImage(self._buffer.data, w, h, self._buffer.strides[0], QImage.Format.Format_RGB32)
        else:
            self._buffer = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
            self.image = wrap(self._buffer)
        self.pixels = frame
        self.key = key
        self.draft = what != "frame"
        self.source = source
        return self.image


class FrameViewer(QWidget):
    """Paints ``model.store``'s frame at the playhead; in compare mode also ``compare_store``'s."""

    painted = Signal(int)  # the frame index just painted (latency measurements, tests)
    MODES = ("fit", "50%", "1:1", "200%", "400%")
    ZOOM = {"50%": 0.5, "1:1": 1.0, "200%": 2.0, "400%": 4.0}
    COMPARES = ("off", "wipe", "side by side", "difference")

    def __init__(self, model: TimelineModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.mode = "fit"
        self.compare = "off"
        self.compare_store: FrameStore | None = None
        self.compare_label = "previous render"
        self.wipe = 0.5
        self.pan = QPoint(0, 0)  # 1:1: how far the frame's centre is dragged from the viewer's
        self._grab: tuple[QPointF, QPoint] | None = None  # where a pan drag began, and the pan then
        self.shown_index = -1
        self.shown_version = -1
        self.painted_at = 0.0
        self._a, self._b = _Scaled(), _Scaled()
        self._moved_at = 0.0
        self._scrubbing = False
        self.draft_paints = 0  # paints from a proxy or a small decode while scrubbing (benchmarks)
        self.draft_kinds: dict[str, int] = {}  # of those: proxy, near proxy, small (benchmarks)
        self.immediate = False  # paint on each playhead move, not at the next event-loop turn
        self._refine = QTimer(self)
        self._refine.setSingleShot(True)
        self._refine.setInterval(90)
        self._refine.timeout.connect(self._rest)
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # we fill every pixel ourselves
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        model.playhead_changed.connect(self._playhead_moved)
        model.frames_changed.connect(self._frames_changed)
        model.clip_changed.connect(self._clip_changed)
        model.status_changed.connect(lambda _t: self.update())

    # ---- reacting
    def _playhead_moved(self, _index: int) -> None:
        now = time.perf_counter()
        self._scrubbing = now - self._moved_at < 0.25  # moves in quick succession: a drag or playback
        self._moved_at = now
        if self.immediate and self.isVisible():
            self.repaint()  # playing: this frame reaches the screen before the clock moves on
        else:
            self.update()

    def _clip_changed(self) -> None:
        self._update_cursor()
        self.update()

    def _rest(self) -> None:
        self._scrubbing = False
        self.update()

    def _frames_changed(self, indices: list[int]) -> None:
        p = self.model.playhead
        if self.shown_index != p or p in indices or self.shown_version != self.model.store.version(p):
            self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.pan = QPoint(0, 0)
        self._update_cursor()
        self.update()

    def set_compare(self, compare: str, store: FrameStore | None = None) -> None:
        self.compare = compare
        if store is not None:
            self.compare_store = store
        self.update()

    # ---- painting
    def _image_rect(self) -> QRect:
        w, h = self.model.store.size
        return fit_rect(self.rect(), w, h)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        store, index = self.model.store, self.model.playhead
        w, h = store.size
        if not w:
            painter.setPen(QColor(140, 144, 152))
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, "The clip appears here while a node renders."
            )
            painter.end()
            return
        if self.compare == "side by side" and self.compare_store is not None:
            half = QRect(0, 0, self.width() // 2 - 2, self.height())
            self._draw(painter, self._a, store, index, fit_rect(half, w, h))
            right = half.translated(self.width() - half.width(), 0)
            bw, bh = self.compare_store.size
            self._draw(painter, self._b, self.compare_store, index, fit_rect(right, bw or w, bh or h))
            self._label(painter, fit_rect(right, bw or w, bh or h), self.compare_label)
        else:
            target = self._image_rect() if self.mode == "fit" else self._native_rect(w, h)
            self._draw(painter, self._a, store, index, target)
            if self.compare == "difference" and self.compare_store is not None:
                # |A - B| per channel: black where the renders agree, bright where they differ (as Nuke's
                # difference merge); what changed between two seeds or settings, at a glance
                painter.save()
                painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Difference)
                self._draw(painter, self._b, self.compare_store, index, target)
                painter.restore()
                self._label(painter, target, f"difference from {self.compare_label}")
            elif self.compare == "wipe" and self.compare_store is not None:
                split = target.x() + round(target.width() * self.wipe)
                painter.save()
                painter.setClipRect(QRect(split, 0, self.width() - split, self.height()))
                self._draw(painter, self._b, self.compare_store, index, target)
                painter.restore()
                painter.setPen(QColor(255, 255, 255, 200))
                painter.drawLine(split, target.top(), split, target.bottom())
                self._label(
                    painter,
                    QRect(split, target.y(), target.right() - split, target.height()),
                    self.compare_label,
                )
        self._overlay(painter, index)
        painter.end()
        self.shown_index, self.shown_version = index, store.version(index)
        self.painted_at = time.perf_counter()
        self.painted.emit(index)

    def _native_rect(self, w: int, h: int) -> QRect:
        """At the zoom level (1:1 is pixel for pixel), centred, moved by the pan (never so far that an edge
        comes inside)."""
        dpr = self.devicePixelRatioF()
        zoom = self.ZOOM.get(self.mode, 1.0)
        w, h = max(1, round(w * zoom / dpr)), max(1, round(h * zoom / dpr))
        self.pan = self._clamped_pan(self.pan, w, h)
        return QRect((self.width() - w) // 2 + self.pan.x(), (self.height() - h) // 2 + self.pan.y(), w, h)

    def _clamped_pan(self, pan: QPoint, w: int, h: int) -> QPoint:
        room_x, room_y = max(0, (w - self.width()) // 2), max(0, (h - self.height()) // 2)
        return QPoint(min(max(pan.x(), -room_x), room_x), min(max(pan.y(), -room_y), room_y))

    def can_pan(self) -> bool:
        """Zoomed (1:1 or more) with a frame larger than the viewer: a drag moves it."""
        w, h = self.model.store.size
        zoom = self.ZOOM.get(self.mode)
        if zoom is None:
            return False
        dpr = self.devicePixelRatioF()
        return w * zoom / dpr > self.width() or h * zoom / dpr > self.height()

    def _draw(self, painter: QPainter, cache: _Scaled, store: FrameStore, index: int, target: QRect) -> None:
        if target.isEmpty():
            return
        dpr = self.devicePixelRatioF()
        tw, th = max(1, round(target.width() * dpr)), max(1, round(target.height() * dpr))
        index = min(index, store.count - 1)
        if store is self.model.store:
            self.model.view = cache.view(store, index, tw, th, self.mode == "1:1")
        jump = index - cache.key[1] if cache.key is not None else 0  # how far the playhead just moved
        image = cache.get(store, index, tw, th, self.mode == "1:1", self._scrubbing, jump)
        if cache.draft:
            self.draft_paints += 1
            kind = (
                "near proxy" if cache.source != index else ("proxy" if cache.key[7] == "proxy" else "small")
            )
            self.draft_kinds[kind] = self.draft_kinds.get(kind, 0) + 1
            self._refine.start()
        if image is None:
            painter.fillRect(target, QColor(34, 36, 42))
            return
        if image.width() == tw and image.height() == th:
            painter.drawImage(target, image)
        else:
            painter.drawImage(QRectF(target), image)

    def _label(self, painter: QPainter, rect: QRect, text: str) -> None:
        """Names the compared clip at the top right of ``rect``, on a dark box as the frame overlay is: light text
        alone vanished on a light render (seen under Xvfb), and a long name is cut with "…" to fit."""
        painter.save()
        painter.setFont(QFont(self.font().family(), 9))
        metrics = painter.fontMetrics()
        room = rect.adjusted(8, 6, -8, -6)
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, room.width() - 12))
        width, height = metrics.horizontalAdvance(text) + 12, metrics.height() + 2
        box = QRect(room.right() - width + 1, room.top(), width, height)
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _overlay(self, painter: QPainter, index: int) -> None:
        m = self.model
        font = QFont(
            self.font().family(), 10 if self.height() >= 240 else 8
        )  # a small viewer keeps its picture
        font.setStyleHint(QFont.StyleHint.Monospace)
        painter.setFont(font)
        lines = [f"frame {index} / {max(0, m.count - 1)}   {timecode(index, m.fps)}"]
        if m.status:
            lines.insert(0, m.status)
        metrics = painter.fontMetrics()
        height = metrics.height() + 2
        for k, text in enumerate(reversed(lines)):
            y = self.height() - 8 - (k + 1) * height
            box = QRect(8, y, metrics.horizontalAdvance(text) + 12, height)
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.setPen(QColor(235, 235, 235))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # ---- pan at 1:1, and the wipe handle
    def _pans(self, button: Qt.MouseButton) -> bool:
        # the middle button always pans; the left one does unless it moves the wipe
        return self.can_pan() and (
            button == Qt.MouseButton.MiddleButton
            or (button == Qt.MouseButton.LeftButton and self.compare != "wipe")
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._pans(event.button()):
            self._grab = (event.position(), QPoint(self.pan))
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        self._move_wipe(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._grab is not None:
            start, pan = self._grab
            moved = (event.position() - start).toPoint()
            w, h = self.model.store.size
            dpr = self.devicePixelRatioF()
            new = self._clamped_pan(pan + moved, round(w / dpr), round(h / dpr))
            if new != self.pan:
                self.pan = new
                self.update()
        elif event.buttons() & Qt.MouseButton.LeftButton:
            self._move_wipe(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._grab is not None:
            self._grab = None
            self._update_cursor()

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        super().resizeEvent(event)
        self._update_cursor()

    def _update_cursor(self) -> None:
        if self.can_pan():
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    def _move_wipe(self, event: QMouseEvent) -> None:
        if self.compare != "wipe":
            event.ignore()
            return
        rect = self._image_rect()
        if rect.width() > 0:
            self.wipe = min(max((event.position().x() - rect.x()) / rect.width(), 0.0), 1.0)
            self.update()


class ElidedLabel(QLabel):
    """A one-line label that shows what fits and ends in "…", never cut mid-word without a sign."""

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())
        painter.drawText(self.contentsRect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), shown)
        painter.end()


class ViewerPanel(QWidget):
    """The viewer with its controls: fit or a zoom level, and what to compare against."""

    def __init__(self, model: TimelineModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.viewer = FrameViewer(model, self)
        self.size_box = QComboBox()
        self.size_box.addItems(list(FrameViewer.MODES))
        self.size_box.setToolTip("Fit the frame to the panel, or zoom: 1:1 shows it pixel for pixel; drag to pan")
        self.size_box.currentTextChanged.connect(self.viewer.set_mode)
        self.compare_box = QComboBox()
        self.compare_box.addItems(list(FrameViewer.COMPARES))
        self.compare_box.setToolTip(
            "Compare with the previous render (A/B): wipe (drag in the picture to move it), side by side, or "
            "the difference (black where the two agree)"
        )
        self.compare_box.currentTextChanged.connect(lambda text: self.viewer.set_compare(text))
        self.info = ElidedLabel("")
        self.info.setObjectName("ParamHelp")
        # Its text changes when a render starts ("17 frames · 64x64 preview · 16 fps"): as a plain label it
        # widened the whole right column then, and the canvas jumped. It takes the room there is instead,
        # ending in "…" when that is too little (its tooltip has it whole).
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        bar.addWidget(self.info, 1)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Compare"))
        bar.addWidget(self.compare_box)
        bar.addWidget(self.size_box)
        self.viewer.setMinimumHeight(200)  # docked under the inspector, the picture must stay a picture
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.viewer, 1)
        layout.addLayout(bar)
        model.clip_changed.connect(self._describe)
        model.frames_changed.connect(lambda _i: self._describe())
        model.status_changed.connect(lambda _t: self._describe())
        self._describe()

    def set_previous(self, store: FrameStore | None, label: str = "previous render") -> None:
        self.viewer.compare_store = store
        self.viewer.compare_label = label
        self.compare_box.setEnabled(store is not None)
        if store is None:
            self.compare_box.setCurrentText("off")
        self.viewer.update()

    def start_comparing(self) -> None:
        """Asked to compare (History's Compare): show the two side by side unless a mode is already chosen."""
        if self.compare_box.isEnabled() and self.compare_box.currentText() == "off":
            self.compare_box.setCurrentText("side by side")

    def _describe(self) -> None:
        w, h = self.model.store.size
        kind = " preview" if self.model.status.startswith("step") else ""  # latent-sized while it denoises
        text = f"{self.model.count} frames · {w}x{h}{kind} · {self.model.fps:g} fps" if w else ""
        if text != self.info.text():
            self.info.setText(text)
            self.info.setToolTip(text)
