"""Live steps: the engine's previews written into the frame store in place, then the final clip."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.engine import Event, NodeFailed, NodeProgress, RunFinished, RunStarted
from studio.media.framestore import FrameStore
from studio.ui.shell.preview import as_frames
from studio.ui.timeline.model import TimelineModel
from studio.values import Video


class LiveRender(QObject):
    """Feeds a TimelineModel from engine events (already on the main thread).

    The first picture of a run starts a new clip and keeps the last one as the "previous render"
    for A/B; each step replaces frames in place; a cancelled run keeps its last preview; the final
    video replaces the previews at full size. Each step's preview is kept (within ``history_bytes``)
    so the person can scrub through the denoising itself.
    """

    previous_changed = Signal(object)  # FrameStore | None: the render before this one
    history_changed = Signal(int)  # number of steps kept

    def __init__(
        self,
        model: TimelineModel,
        history_bytes: int = 256 << 20,
        previous_bytes: int = 256 << 20,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.previous: FrameStore | None = None
        self.previous_label = "previous render"  # what the viewer calls the A/B partner
        # (step, total, frames, where they go: None for the whole clip, else the first frame they replace)
        self.history: list[tuple[int, int, np.ndarray, int | None]] = []
        self.history_bytes = history_bytes
        self.previous_bytes = previous_bytes
        self.node_id: str | None = None
        self.step = (0, 0)
        self.showing_step: int | None = None  # a history step on screen instead of the newest
        self._run_id: int | None = None
        self._fresh = False  # this run has not shown a picture yet
        self._failed: str | None = None  # the node that failed in this run

    # ---- events
    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._run_id, self._fresh, self.node_id, self._failed = event.run_id, True, None, None
            self.step = (0, 0)
        elif isinstance(event, NodeProgress):
            frames = as_frames(event.preview)
            if frames is not None:
                self.show_step(event.node_id, event.step, event.total, frames)
        elif isinstance(event, NodeFailed):
            self._failed = event.node_id
        elif isinstance(event, RunFinished):
            done, total = self.step
            if event.status == "cancelled" and total:
                self.model.set_status(f"cancelled at step {done} of {total}")
            elif event.status == "failed" and self._failed is not None and self._failed != self.node_id:
                self.model.set_status(f"render failed at node '{self._failed}' (the log says why)")
            elif event.status == "failed":
                self.model.set_status("render failed" + (f" at step {done} of {total}" if total else ""))
            else:
                self.model.set_status("")

    def show_step(self, node_id: str, step: int, total: int, frames: np.ndarray) -> None:
        if self._fresh or self.node_id is None:
            self._new_clip(len(frames))
            self._fresh = False
        self.node_id = node_id
        self.step = (step, total)
        store = self.model.store
        if store.count != len(frames):
            store.reset(len(frames))
        self._remember(step, total, frames, None)
        if self.showing_step is None:
            store.set_frames(frames, raw=self._raw_fits(frames))
        self.model.set_status(f"step {step} of {total}")

    def begin_sequence(self, count: int) -> None:
        """A sequence render starts: a clip of ``count`` empty frames (the shots' lengths are known from the
        plan) that each shot's previews fill in place; the clip before it becomes the A/B partner."""
        self._new_clip(count)
        if self.model.store.count != count:
            self.model.store.reset(count)
        self._fresh = False
        self.model.clip_changed.emit()

    def show_placed(self, node_id: str, step: int, total: int, frames: np.ndarray, at: int, status: str) -> None:
        """One step of a sequence render: ``frames`` replace the clip's frames from ``at`` on (the shot being
        rendered); the other shots keep theirs, scrubbable and playable."""
        self.node_id = node_id
        self.step = (step, total)
        self._remember(step, total, frames, at)
        if self.showing_step is None:
            self.model.store.set_frames(frames, start=at, raw=self._raw_fits(frames))
        self.model.set_status(status)

    def restore_previous(self) -> bool:
        """Put the clip before back on screen (a sequence render that ended before any of its shots showed a
        picture: its empty clip would hide the last good one). Returns whether there was one."""
        if self.previous is None:
            return False
        before, self.previous = self.previous, None
        before.set_budget(self.model.settings.budget_bytes)
        self.model.set_store(before).close()
        self.history.clear()
        self.history_changed.emit(0)
        self.previous_changed.emit(None)
        return True

    def _new_clip(self, count: int) -> None:
        old = self.model.store
        if old.count and old.size[0]:
            store = FrameStore(self.model.settings)
            store.fps = old.fps
            store.reset(count)
            self.model.set_store(store)
            if self.previous is not None:
                self.previous.close()
            old.set_budget(self.previous_bytes)  # only looked at in A/B: most of it may live on disk
            self.previous = old
            self.previous_label = "previous render"
            self.previous_changed.emit(old)
        else:
            old.reset(count)
        self.history.clear()
        self.showing_step = None
        self.history_changed.emit(0)

    def _raw_fits(self, frames: np.ndarray) -> bool:
        # previews stay uncompressed (no codec on the main thread at every step) while they take
        # a quarter of the budget at most; larger ones are compressed to stay within it
        return frames.nbytes <= self.model.store.settings.budget_bytes // 4

    def _remember(self, step: int, total: int, frames: np.ndarray, at: int | None) -> None:
        self.history = [h for h in self.history if h[0] != step]
        self.history.append((step, total, frames.copy(), at))
        while sum(h[2].nbytes for h in self.history) > self.history_bytes and len(self.history) > 1:
            del self.history[len(self.history) // 2]  # thin the middle: first and latest steps matter most
        self.history_changed.emit(len(self.history))

    def show_history(self, position: int | None) -> None:
        """Put the ``position``-th kept step on screen (None: the newest)."""
        if not self.history:
            return
        if position is None or position >= len(self.history) - 1:
            self.showing_step = None
            step, total, frames, at = self.history[-1]
        else:
            self.showing_step = max(0, position)
            step, total, frames, at = self.history[self.showing_step]
        if at is None and (self.model.store.count != len(frames) or self.model.store.size != (
            frames.shape[2],
            frames.shape[1],
        )):
            self.model.store.reset(len(frames))
        # a sequence's step goes back into its own shot's place; the other shots keep their frames
        self.model.store.set_frames(frames, start=at or 0, raw=self._raw_fits(frames))
        self.model.set_status(
            f"step {step} of {total}" + (" (history)" if self.showing_step is not None else "")
        )

    def forget(self) -> None:
        """Another graph is on the canvas: its clips, steps and A/B partner are not this graph's."""
        if self.previous is not None:
            self.previous.close()
            self.previous = None
            self.previous_changed.emit(None)
        self.history.clear()
        self.history_changed.emit(0)
        self.showing_step, self.node_id, self.step, self._run_id, self._fresh = None, None, (0, 0), None, False
        self.model.store.reset(0)
        self.model.clip_changed.emit()
        self.model.set_status("")

    def compare_with(self, frames: np.ndarray, fps: float, label: str = "previous render") -> None:
        """Make ``frames`` the clip the viewer compares with (its A/B partner), e.g. a render from the history;
        ``label`` names it in the viewer (a history entry is not the previous render)."""
        store = FrameStore(self.model.settings)
        store.set_budget(self.previous_bytes)
        store.load_clip(frames, fps)
        if self.previous is not None:
            self.previous.close()
        self.previous = store
        self.previous_label = label
        self.previous_changed.emit(store)

    # ---- the final clip
    def show_video(self, video: Video) -> None:
        """The render's result: full-size frames replace the previews (the store compresses them
        in the background while it shows them from the video's own array)."""
        frames = as_frames(video.frames)
        if frames is None:
            return
        if self._fresh:  # a run served from the cache: no previews came, the clip is new all the same
            self._new_clip(len(frames))
            self._fresh = False
        self.showing_step = None
        self.model.store.load_clip(frames, video.fps)
        self.model.set_fps(video.fps)
        self.model.clip_changed.emit()
        self.model.set_status("")
