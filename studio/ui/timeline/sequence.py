"""A sequence render on the timeline: the shots as sections from the moment it starts, and each shot's steps
streamed into its own place in the clip while the shots already made stay (scrubbable and playable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from studio.engine import NodeProgress
from studio.ui.shell.preview import as_frames
from studio.ui.timeline.live import LiveRender
from studio.ui.timeline.model import TimelineModel
from studio.ui.timeline.shotplan import ShotFeed, ShotSection, sections_from_rows

if TYPE_CHECKING:
    from studio.ui.shell.session import EditSession


class SequenceFeed(QObject):
    """Finds the sequence a run makes (a Shot List linked into a node with a clip rate), draws its plan, and
    places that node's progress events: a step's preview into its shot, a shot from the memo from the clip
    before. Events it cannot place go the single-clip way (``take`` returns False)."""

    def __init__(self, model: TimelineModel, live: LiveRender, session: EditSession | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model, self.live, self._session = model, live, session
        self.node_id: str | None = None  # the node making the sequence
        self.shots_node: str | None = None  # the Shot List whose rows the shots lane shows
        self._feed: ShotFeed | None = None
        self._previous_shots: list[ShotSection] = []  # the shots of the clip that became the A/B partner
        self._heard: set[int] = set()  # the shots this run's events spoke of (rendered, or from the memo)

    def take(self, event: NodeProgress) -> bool:
        """Handle a progress event if it belongs to the sequence being rendered."""
        if self._feed is None or event.node_id != self.node_id:
            return False
        return self._step(event)

    def finish(self, status: str) -> None:
        """The run ended. One that failed or was cancelled before any shot showed a picture leaves the clip
        before on screen (with its shots), not the empty clip the plan began."""
        began, self._feed = self._feed is not None, None
        self.model.set_rendering_shot(None)
        store = self.model.store
        shown = any(store.has_frame(i) for i in range(store.count))
        if began and status != "ok" and not shown and self.live.restore_previous():
            self.model.set_shots(self._previous_shots)

    def forget(self) -> None:
        """Another graph: nothing of this one's shots stays."""
        self.model.set_shots([])
        self._feed, self.shots_node, self._previous_shots = None, None, []

    def plan(self, node_ids: tuple[str, ...]) -> tuple[str, str, float, list[ShotSection]] | None:
        """(generating node, Shot List node, fps, sections) of a sequence this run makes, from the graph."""
        if self._session is None:
            return None
        graph, registry = self._session.graph, self._session.registry
        for link in graph.links:
            source, target = graph.nodes.get(link.src), graph.nodes.get(link.dst)
            if source is None or target is None or link.dst not in node_ids:
                continue
            spec, target_spec = registry.get(source.type), registry.get(target.type)
            param = spec.roles.shot_list if spec is not None else None
            rate = target_spec.roles.clip_rate if target_spec is not None else None
            fps = target.params.get(rate) if rate else None
            if not param or not isinstance(fps, int | float):
                continue
            sections = sections_from_rows(source.params.get(param), float(fps))
            if sections:
                return link.dst, link.src, float(fps), sections
        return None

    def begin(self, node_ids: tuple[str, ...]) -> bool:
        """A run starts: when it makes a sequence, its clip starts at the plan's length with the shots as
        sections (the clip before becomes the A/B partner). Returns whether it makes one."""
        self._feed = None
        plan = self.plan(node_ids)
        if plan is None:
            return False
        self.node_id, self.shots_node, fps, sections = plan
        self._previous_shots = list(self.model.shots)
        self.live.begin_sequence(sections[-1].end)
        self.model.set_fps(fps)
        self.model.set_shots(sections)
        self._feed = ShotFeed(sections)
        self._heard = set()
        return True

    def _step(self, event: NodeProgress) -> bool:
        """Place one progress event of the sequence render; False when it cannot be placed (its message is
        not one the feed reads), and the event then goes the single-clip way."""
        assert self._feed is not None
        frames = as_frames(event.preview)
        update = self._feed.read(event.step, event.message, len(frames) if frames is not None else None,
                                 event.total)
        if update is None:
            if frames is None:
                self.model.set_status(event.message)
                return True
            self._feed = None  # previews this timeline cannot place: show them as one clip, as before
            self.model.set_shots([])
            return False
        shot = self.model.shots[update.shot]
        head = f"shot {update.shot + 1}/{len(self.model.shots)} '{shot.name}'"
        # Shots come in order. One that said nothing before this one came from the memo, its "unchanged"
        # merged away behind later events (the editor merges a node's progress events between two deliveries,
        # and a run of memo hits comes in one burst): its frames come from the clip before, as for an
        # "unchanged" that arrived.
        for earlier in range(update.shot + (update.kind == "unchanged")):
            if earlier not in self._heard:
                self._heard.add(earlier)
                self._copy_previous_shot(earlier)
        self._heard.add(update.shot)
        if update.kind == "unchanged":
            return True
        self.model.set_rendering_shot(update.shot)
        if update.kind == "rendering" or frames is None or update.keep <= 0:
            self.model.set_status(f"{head}: rendering")
            return True
        keep = min(update.keep, shot.end - update.start)
        part = frames[update.keep_from:update.keep_from + keep]
        self.live.show_placed(event.node_id, event.step, event.total, part, update.start,
                              f"{head}: step {update.step} of {update.steps}")
        return True

    def _copy_previous_shot(self, index: int) -> None:
        """A shot served from the memo streams nothing: show its frames from the clip before, where it was."""
        shot, before = self.model.shots[index], self.live.previous
        if before is None:
            return
        same = next((s for s in self._previous_shots if (s.name, s.prompt, s.frames) == (shot.name, shot.prompt,
                                                                                         shot.frames)), None)
        if same is None or same.end > before.count:
            return
        store = self.model.store
        width, height = store.size
        fh, fw = before.frame_shape(same.start)
        reduce = 1
        while reduce < 8 and fw // (reduce * 2) >= max(width, 1) and fw // (reduce * 2) >= 96:
            reduce *= 2  # no larger than the previews (or a small picture): a decode costs the main thread
        size = (width, height) if width and height and (width, height) != (fw // reduce, fh // reduce) else None
        frames = {}
        for k in range(shot.frames):
            frame = before.frame(same.start + k, reduce, size)
            if frame is not None:
                frames[shot.start + k] = frame
        if frames:
            store.set_frames(frames, raw=sum(f.nbytes for f in frames.values()) <= store.settings.budget_bytes // 4)
