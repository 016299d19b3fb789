"""Lanes on the time axis: thumbnails of the clip and the audio waveform."""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from studio.ui.timeline.model import TimeAxis, TimelineModel
from studio.ui.timeline.ruler import PLAYHEAD, AxisWidget
from studio.ui.timeline.viewer import wrap
from studio.values import Sound


class ThumbnailLane(AxisWidget):
    """Small pictures of the clip along the axis; a changed frame repaints only its own tile."""

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, parent)
        self.setFixedHeight(54)
        self._cache: dict[
            int, tuple[int, int, QImage, np.ndarray]
        ] = {}  # frame -> version, width, image, pixels
        model.frames_changed.connect(self._frames_changed)
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

    def _frames_changed(self, indices: list[int]) -> None:
        changed = set(indices)
        for frame, rect in self.tiles():
            if frame in changed:
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
        exposed = event.rect()
        w, h = self.model.store.size
        th = self.height() - 4
        tw = max(8, round(th * w / h)) if w else 0
        for frame, rect in self.tiles():
            if not rect.intersects(exposed):
                continue
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


def quiet_plot(height: int) -> pg.PlotWidget:
    """A pyqtgraph plot with no axes, menus or mouse panning: the lane's axis is the ruler's."""
    plot = pg.PlotWidget(background=(24, 25, 29))
    plot.setFixedHeight(height)
    item = plot.getPlotItem()
    for side in ("left", "bottom", "right", "top"):
        item.hideAxis(side)
    item.setMenuEnabled(False)
    item.hideButtons()
    item.layout.setContentsMargins(0, 0, 0, 0)
    plot.setMouseEnabled(x=False, y=False)
    plot.setContentsMargins(0, 0, 0, 0)
    plot.setFrameShape(plot.Shape.NoFrame)
    plot.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    item.getViewBox().setDefaultPadding(0)
    return plot


class AxisPlot(QWidget):
    """A pyqtgraph lane kept on the shared axis (x in frames), with the playhead as a line."""

    def __init__(
        self, model: TimelineModel, axis: TimeAxis, height: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model, self.axis = model, axis
        self.plot = quiet_plot(height)
        self.setFixedHeight(height)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.view = self.plot.getPlotItem().getViewBox()
        self.head = pg.InfiniteLine(0, angle=90, pen=pg.mkPen(PLAYHEAD, width=1), movable=False)
        self.view.addItem(self.head, ignoreBounds=True)
        axis.changed.connect(self.follow_axis)
        model.playhead_changed.connect(lambda f: self.head.setValue(f))
        self.follow_axis()

    def follow_axis(self) -> None:
        self.view.setXRange(self.axis.start, self.axis.frame_at(max(1, self.width())), padding=0)


class AudioLane(AxisPlot):
    """The sound's waveform as a min/max envelope; redrawn at the zoom's resolution."""

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, 56, parent)
        self.envelope: WaveformEnvelope | None = None
        # one zigzag through each bin's min and max: the diagonals fill between bins, so it reads as a solid shape
        self.curve = pg.PlotDataItem(pen=pg.mkPen((110, 200, 150), width=1))
        self.view.addItem(self.curve)
        self.view.setYRange(-1.0, 1.0, padding=0.02)
        model.sound_changed.connect(self._sound_changed)
        model.clip_changed.connect(self.redraw)
        self._sound_changed()

    def _sound_changed(self) -> None:
        sound = self.model.sound
        self.envelope = WaveformEnvelope(sound) if sound is not None and len(sound.samples) else None
        self.redraw()

    def follow_axis(self) -> None:
        super().follow_axis()
        self.redraw()

    def drawn(self) -> tuple[np.ndarray, np.ndarray]:
        """What the curve shows: x in frames and y, as min/max pairs (tests)."""
        x, y = self.curve.getData()
        return (
            np.asarray(x) if x is not None else np.zeros(0),
            np.asarray(y) if y is not None else np.zeros(0),
        )

    def redraw(self) -> None:
        env = getattr(self, "envelope", None)
        if not hasattr(self, "curve"):
            return
        if env is None:
            self.curve.setData([], [])
            return
        fps = self.model.fps
        start, end = self.axis.start / fps, self.axis.frame_at(max(1, self.width())) / fps
        times, lo, hi = env.envelope(max(0.0, start), end, max(1, self.width()))
        frames = times * fps
        self.curve.setData(np.repeat(frames, 2), np.column_stack([lo, hi]).ravel())
