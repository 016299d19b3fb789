"""Lanes on the time axis: thumbnails of the clip, the audio waveform, and the base of curve lanes."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QPixmap, QPolygonF, QResizeEvent
from PySide6.QtWidgets import QWidget

from studio.ui.timeline.model import TimeAxis, TimelineModel
from studio.ui.timeline.ruler import AxisWidget, ThrottledFrames
from studio.ui.timeline.viewer import wrap
from studio.values import Sound


class ThumbnailLane(AxisWidget):
    """Small pictures of the clip along the axis; a changed frame repaints only its own tile."""

    REFRESH_S = 0.2  # changed tiles repaint at most this often

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, parent)
        self.setFixedHeight(54)
        self._cache: dict[
            int, tuple[int, int, QImage, np.ndarray]
        ] = {}  # frame -> version, width, image, pixels
        self.tiles_painted = 0  # thumbnails drawn since the lane was made (tests)
        self.repaints = ThrottledFrames(self._repaint_tiles, self.REFRESH_S, self)
        model.frames_changed.connect(self.repaints.add)
        model.clip_changed.connect(self._cache.clear)

    def tiles(self) -> list[tuple[int, QRect]]:
        """(frame, rectangle) of each thumbnail now on screen."""
        w, h = self.model.store.size
        if not w or self.model.count == 0:
            return []
        th = self.height() - 4
        tw = max(8, round(th * w / h))
        axis = self.axis
        left = max(0.0, axis.x(-0.5))
        right = min(float(self.width()), axis.x(self.model.count - 0.5))
        out: list[tuple[int, QRect]] = []
        x = left
        while x < right - 1:
            width = min(tw, right - x)
            frame = min(self.model.count - 1, max(0, round(axis.frame_at(x + width / 2))))
            out.append((frame, QRect(round(x), 2, round(width), th)))
            x += tw
        return out

    def _repaint_tiles(self, changed: set[int]) -> None:
        # a step replaces only the frames it changed; of those, only the ones with a tile repaint
        store = self.model.store
        for frame, rect in self.tiles():
            if frame in changed:
                hit = self._cache.get(frame)
                if hit is None or hit[0] != store.version(frame):
                    self.update(rect)

    def _image(self, frame: int, width: int, height: int) -> QImage | None:
        store = self.model.store
        version = store.version(frame)
        hit = self._cache.get(frame)
        if hit is not None and hit[0] == version and hit[1] == width:
            return hit[2]
        small = store.proxy(frame)
        if small is None:
            return None
        up = width > small.shape[1]
        pixels = np.ascontiguousarray(
            cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST if up else cv2.INTER_AREA)
        )
        image = wrap(pixels)
        if len(self._cache) > 400:
            self._cache.clear()
        self._cache[frame] = (version, width, image, pixels)
        return image

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 25, 29))
        exposed = event.region()  # not its bounding rectangle: two changed tiles far apart are two tiles
        w, h = self.model.store.size
        th = self.height() - 4
        tw = max(8, round(th * w / h)) if w else 0
        for frame, rect in self.tiles():
            if not exposed.intersects(rect):
                continue
            self.tiles_painted += 1
            image = self._image(frame, tw, th)
            if image is None:
                painter.fillRect(rect.adjusted(0, 0, -1, 0), QColor(40, 42, 48))
                continue
            painter.drawImage(rect.topLeft(), image, QRect(0, 0, rect.width() - 1, th))
        self.paint_range(painter)
        self.paint_playhead(painter)
        painter.end()


class WaveformEnvelope:
    """Min/max of the samples over bins, at several bin sizes, so any zoom draws a few points per pixel."""

    BASE = 64  # samples in the finest bin
    FACTOR = 4

    def __init__(self, sound: Sound) -> None:
        samples = np.asarray(sound.samples, np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        self.rate = sound.rate
        self.length = samples.shape[0]
        # one lane for all channels: the widest swing of any channel in the bin
        lo, hi = samples.min(axis=1), samples.max(axis=1)
        self.levels: list[tuple[int, np.ndarray, np.ndarray]] = []  # (bin size, min, max)
        size, mins, maxs = self.BASE, _reduce(lo, self.BASE, np.minimum), _reduce(hi, self.BASE, np.maximum)
        while True:
            self.levels.append((size, mins, maxs))
            if len(mins) <= 512:
                break
            size *= self.FACTOR
            mins, maxs = _reduce(mins, self.FACTOR, np.minimum), _reduce(maxs, self.FACTOR, np.maximum)

    def envelope(
        self, start_s: float, end_s: float, pixels: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bin start times in seconds, min, max) covering [start_s, end_s] with about 1-2 bins a pixel."""
        want = max(1.0, (end_s - start_s) * self.rate / max(1, pixels))
        size, mins, maxs = self.levels[0]
        for level in self.levels:
            if level[0] > want:
                break
            size, mins, maxs = level
        a = max(0, int(start_s * self.rate // size))
        b = min(len(mins), int(np.ceil(end_s * self.rate / size)) + 1)
        times = np.arange(a, b, dtype=np.float64) * size / self.rate
        return times, mins[a:b], maxs[a:b]


def _reduce(values: np.ndarray, size: int, op: np.ufunc) -> np.ndarray:
    n = len(values)
    if n == 0:
        return np.zeros(1, np.float32)
    pad = (-n) % size
    if pad:  # the last bin is partial: pad with a value that does not change its min or max
        values = np.concatenate([values, np.full(pad, values[-1], values.dtype)])
    return op.reduce(values.reshape(-1, size), axis=1)


def polyline(xs: np.ndarray, ys: np.ndarray) -> QPolygonF:
    """Points (pixels) as a polygon to stroke."""
    return QPolygonF([QPointF(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)])


class AxisPlot(AxisWidget):
    """A lane of curves on the shared axis (x in frames, y in ``y_range``), drawn with QPainter into
    a pixmap kept until the axis, the size or the data change: a playhead move repaints two thin
    strips from it. (It was a pyqtgraph plot; importing pyqtgraph stalled the UI for a second.)"""

    BACKGROUND = QColor(24, 25, 29)

    def __init__(
        self, model: TimelineModel, axis: TimeAxis, height: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(model, axis, parent)
        self.setFixedHeight(height)
        self.y_range = (0.0, 1.0)
        self._pixmap: QPixmap | None = None
        self.drawn_count = 0  # times the content was drawn (tests)
        axis.changed.connect(self.follow_axis)

    def follow_axis(self) -> None:
        self.invalidate()

    def invalidate(self) -> None:
        self._pixmap = None
        self.update()

    def x_range(self) -> tuple[float, float]:
        """The frames at the lane's left and right edges."""
        return self.axis.start, self.axis.frame_at(max(1, self.width()))

    def to_px(self, y: np.ndarray | float) -> np.ndarray:
        lo, hi = self.y_range
        return (1.0 - (np.asarray(y, np.float64) - lo) / (hi - lo)) * self.height()

    def from_px(self, py: float) -> float:
        lo, hi = self.y_range
        return lo + (1.0 - py / max(1, self.height())) * (hi - lo)

    def draw_content(self, painter: QPainter) -> None:
        """Draw what the lane shows (not the playhead) in widget pixels."""

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.invalidate()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        dpr = self.devicePixelRatioF()
        if self._pixmap is None or self._pixmap.size() != self.size() * dpr:
            self._pixmap = QPixmap(self.size() * dpr)
            self._pixmap.setDevicePixelRatio(dpr)
            self._pixmap.fill(self.BACKGROUND)
            content = QPainter(self._pixmap)
            content.setRenderHint(QPainter.RenderHint.Antialiasing)
            self.draw_content(content)
            content.end()
            self.drawn_count += 1
        painter = QPainter(self)
        # the region's rectangles, not their bounding one: a playhead move exposes two thin strips
        # that may lie the lane's width apart
        for exposed in event.region():
            source = QRectF(
                exposed.x() * dpr, exposed.y() * dpr, exposed.width() * dpr, exposed.height() * dpr
            )
            painter.drawPixmap(QRectF(exposed), self._pixmap, source)
        self.paint_range(painter)
        self.paint_playhead(painter)
        painter.end()


class AudioLane(AxisPlot):
    """The sound's waveform as a min/max envelope; redrawn at the zoom's resolution."""

    COLOR = QColor(110, 200, 150)

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, 56, parent)
        self.envelope: WaveformEnvelope | None = None
        self.y_range = (-1.02, 1.02)
        self._x = self._y = np.zeros(0)
        model.sound_changed.connect(self._sound_changed)
        model.clip_changed.connect(self.redraw)
        self._sound_changed()

    def _sound_changed(self) -> None:
        sound = self.model.sound
        self.envelope = WaveformEnvelope(sound) if sound is not None and len(sound.samples) else None
        self.redraw()

    def follow_axis(self) -> None:
        self.redraw()

    def drawn(self) -> tuple[np.ndarray, np.ndarray]:
        """What the lane shows: x in frames and y, as min/max pairs (tests)."""
        return self._x, self._y

    def redraw(self) -> None:
        env = self.envelope
        if env is None:
            self._x = self._y = np.zeros(0)
        else:
            fps = self.model.fps
            start, end = self.x_range()
            times, lo, hi = env.envelope(max(0.0, start / fps), end / fps, max(1, self.width()))
            self._x = np.repeat(times * fps, 2)
            self._y = np.column_stack([lo, hi]).ravel()
        self.invalidate()

    def draw_content(self, painter: QPainter) -> None:
        if not len(self._x):
            return
        # one zigzag through each bin's min and max: the diagonals fill between bins, so it reads as a solid shape
        painter.setPen(QPen(self.COLOR, 1))
        painter.drawPolyline(polyline((self._x - self.axis.start) * self.axis.scale, self.to_px(self._y)))
