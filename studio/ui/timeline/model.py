"""What the viewer, the lanes and the transport share: the clip, the playhead, in/out, markers, time axis."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from studio.media.framestore import FrameStore, FrameStoreSettings
from studio.ui.timeline.shotplan import ShotSection
from studio.values import Sound


def timecode(frame: int, fps: float) -> str:
    """HH:MM:SS:FF, counting whole frames at the nearest integer rate (non-drop)."""
    base = max(1, round(fps))
    frame = max(0, int(frame))
    seconds, ff = divmod(frame, base)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


@dataclass(frozen=True)
class Marker:
    """A point on the time axis: a prompt-schedule section starts, or a beat of the music."""

    frame: int
    kind: str = "section"  # section | beat
    label: str = ""


class TimelineModel(QObject):
    """The clip being looked at (a FrameStore) and where in it. Widgets observe it; none own it."""

    playhead_changed = Signal(int)
    frames_changed = Signal(object)  # list of frame indices whose pictures changed
    clip_changed = Signal()  # a new store, length or rate: everything repaints
    range_changed = Signal()  # in or out point
    range_edited = Signal()  # ... set by someone (not cleared because the clip got shorter)
    markers_changed = Signal()
    status_changed = Signal(str)  # "step 3 of 20" while rendering, "" otherwise
    sound_changed = Signal()
    shots_changed = Signal()  # the sections, the chosen one or the one rendering

    def __init__(self, store: FrameStore | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = FrameStoreSettings()
        self.store = store or FrameStore(self.settings)
        self._unsubscribe = self.store.subscribe(self._frames_changed)
        self.playhead = 0
        self.direction = 1
        # how the viewer asks for frames (reduce, (width, height)), so the store's prefetch matches
        self.view: tuple[int, tuple[int, int] | None] = (1, None)
        self.in_point: int | None = None
        self.out_point: int | None = None
        self.markers: list[Marker] = []
        self.sound: Sound | None = None
        self.status = ""
        self.shots: list[ShotSection] = []  # a sequence's shots, in order (empty for a single clip)
        self.chosen_shot: int | None = None  # the shot whose row is selected in the Shot List
        self.rendering_shot: int | None = None  # the shot a sequence render is making now
        self._shape = (self.store.count, self.store.size)

    # ---- clip
    @property
    def count(self) -> int:
        return self.store.count

    @property
    def fps(self) -> float:
        return self.store.fps

    def set_store(self, store: FrameStore) -> FrameStore:
        """Show another clip; returns the one it replaces (the caller keeps or closes it)."""
        old = self.store
        self._unsubscribe()
        self.store = store
        self._unsubscribe = store.subscribe(self._frames_changed)
        self._clamp()
        self._shape = (store.count, store.size)
        self.clip_changed.emit()
        return old

    def set_fps(self, fps: float) -> None:
        if fps > 0 and fps != self.store.fps:
            self.store.fps = float(fps)
            self.clip_changed.emit()

    def _frames_changed(self, indices: list[int]) -> None:
        shape = (self.store.count, self.store.size)
        if self._clamp() or shape != self._shape:  # a new length or size: lanes rescale, not just repaint
            self._shape = shape
            self.clip_changed.emit()
        self.frames_changed.emit(indices)

    def _clamp(self) -> bool:
        last = max(0, self.count - 1)
        changed = False
        if self.playhead > last:
            self.playhead = last
            self.playhead_changed.emit(last)
        for name in ("in_point", "out_point"):
            value = getattr(self, name)
            if value is not None and value > last:
                setattr(self, name, None)
                changed = True
        if changed:
            self.range_changed.emit()
        return changed

    # ---- playhead
    def set_playhead(self, frame: int) -> int:
        frame = int(min(max(frame, 0), max(0, self.count - 1)))
        if frame != self.playhead:
            self.direction = 1 if frame > self.playhead else -1
            self.playhead = frame
            self.store.set_playhead(frame, self.direction, *self.view)
            self.playhead_changed.emit(frame)
        return frame

    def step(self, frames: int) -> int:
        return self.set_playhead(self.playhead + frames)

    # ---- range
    @property
    def first(self) -> int:
        return self.in_point if self.in_point is not None else 0

    @property
    def last(self) -> int:
        return self.out_point if self.out_point is not None else max(0, self.count - 1)

    def set_in(self, frame: int | None) -> None:
        self.in_point = frame
        if frame is not None and self.out_point is not None and self.out_point < frame:
            self.out_point = None
        self.range_changed.emit()
        self.range_edited.emit()

    def set_out(self, frame: int | None) -> None:
        self.out_point = frame
        if frame is not None and self.in_point is not None and self.in_point > frame:
            self.in_point = None
        self.range_changed.emit()
        self.range_edited.emit()

    # ---- annotations
    def set_markers(self, markers: list[Marker]) -> None:
        self.markers = sorted(markers, key=lambda m: m.frame)
        self.markers_changed.emit()

    def set_shots(self, shots: list[ShotSection]) -> None:
        if shots != self.shots:
            self.shots = list(shots)
            if self.chosen_shot is not None and self.chosen_shot >= len(shots):
                self.chosen_shot = None
            self.rendering_shot = None
            self.shots_changed.emit()

    def choose_shot(self, index: int | None) -> None:
        index = index if index is not None and 0 <= index < len(self.shots) else None
        if index != self.chosen_shot:
            self.chosen_shot = index
            self.shots_changed.emit()

    def set_rendering_shot(self, index: int | None) -> None:
        if index != self.rendering_shot:
            self.rendering_shot = index
            self.shots_changed.emit()

    def shot_at(self, frame: float) -> int | None:
        """The index of the shot that holds ``frame``, or None."""
        for index, shot in enumerate(self.shots):
            if shot.start - 0.5 <= frame < shot.end - 0.5:
                return index
        return None

    def set_sound(self, sound: Sound | None) -> None:
        self.sound = sound
        self.sound_changed.emit()

    def set_status(self, text: str) -> None:
        if text != self.status:
            self.status = text
            self.status_changed.emit(text)

    def close(self) -> None:
        self._unsubscribe()
        self.store.close()


class TimeAxis(QObject):
    """The mapping from frames to x pixels that every lane shares, so they line up."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.start = 0.0  # frame at x = 0
        self.scale = 4.0  # pixels per frame
        self.width = 1
        self.count = 1
        self.fitted = True  # follow the widget's width until the person zooms

    def x(self, frame: float) -> float:
        return (frame - self.start) * self.scale

    def frame_at(self, x: float) -> float:
        return self.start + x / self.scale

    @property
    def end(self) -> float:
        return self.frame_at(self.width)

    def set_geometry(self, width: int, count: int) -> None:
        self.width, self.count = max(1, width), max(1, count)
        if self.fitted:
            self.fit()
        else:
            self.changed.emit()

    def fit(self) -> None:
        self.fitted = True
        self.start = -0.5
        self.scale = self.width / max(1.0, self.count)
        self.changed.emit()

    def zoom(self, factor: float, around_x: float) -> None:
        anchor = self.frame_at(around_x)
        fit_scale = self.width / max(1.0, self.count)
        self.scale = min(max(self.scale * factor, fit_scale), 200.0)
        self.fitted = math.isclose(self.scale, fit_scale)
        self.start = -0.5 if self.fitted else anchor - around_x / self.scale
        self._bound()
        self.changed.emit()

    def scroll(self, frames: float) -> None:
        self.start += frames
        self._bound()
        self.changed.emit()

    def ensure_visible(self, frame: int) -> None:
        if self.fitted or self.start <= frame <= self.end - 1:
            return
        self.start = frame - (self.end - self.start) * 0.25
        self._bound()
        self.changed.emit()

    def _bound(self) -> None:
        span = self.width / self.scale
        self.start = min(max(self.start, -0.5), max(-0.5, self.count - 0.5 - span))
