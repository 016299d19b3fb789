"""A sequence render on the timeline: the shots as sections from the moment it starts, and each shot's steps
streamed into its own place in the clip while the shots already made stay (scrubbable and playable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from studio.engine import NodeProgress
from studio.ui.shell.preview import as_frames
from studio.ui.timeline.live import LiveRender
from studio.ui.timeline.model import TimelineModel
from studio.ui.timeline.shotplan import ShotFeed, ShotSection, kept_shots, sections_from_rows

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
        # What the clip on screen was made with beyond its rows (the generating node's settings and every node
        # upstream but the Shot List), and this run's: shots whose take and settings match are shown from the
        # clip before as the run starts, not when the render reaches them.
        self._clip_settings: object = None
        self._run_settings: object = None
        self._filled: set[int] = set()  # shots shown from the clip before at the start of this run
        self._to_fill: list[tuple[int, int]] = []  # (shot now, shot before) still to show, one per turn
        self._fill_timer = QTimer(self)
        self._fill_timer.setSingleShot(True)
        self._fill_timer.setInterval(0)
        self._fill_timer.timeout.connect(self._fill_next)
        self._placed = False  # this run put a rendered picture into the clip
        # The steps of each segment of the clip on screen (its record says them; the dock sets it). A draft
        # render runs the same graph at fewer steps: every shot renders again, so none is shown from before.
        self.clip_steps: int | None = None

    def take(self, event: NodeProgress) -> bool:
        """Handle a progress event if it belongs to the sequence being rendered."""
        if self._feed is None or event.node_id != self.node_id:
            return False
        return self._step(event)

    def finish(self, status: str) -> None:
        """The run ended. One that failed or was cancelled before any shot showed a picture leaves the clip
        before on screen (with its shots), not the empty clip the plan began."""
        began, self._feed = self._feed is not None, None
        self._to_fill.clear()
        self._fill_timer.stop()
        self.model.set_rendering_shot(None)
        if began and status == "ok":
            self._clip_settings = self._run_settings
        # shots shown from the clip before are not this run's pictures: with none rendered, the clip before
        # (whole) comes back
        if began and status != "ok" and not self._placed and self.live.restore_previous():
            self.model.set_shots(self._previous_shots)

    def forget(self) -> None:
        """Another graph: nothing of this one's shots stays."""
        self.model.set_shots([])
        self._feed, self.shots_node, self._previous_shots = None, None, []
        self._clip_settings = self._run_settings = self.clip_steps = None
        self._to_fill.clear()
        self._fill_timer.stop()

    def plan(self, node_ids: tuple[str, ...]) -> tuple[str, str, float, list[ShotSection]] | None:
        """(generating node, Shot List node, fps, sections) of a sequence this run makes, from the graph.
        Each section knows its take when the Shot List's seed is a number (see ``sections_from_rows``)."""
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
            seed = source.params.get("seed")
            sections = sections_from_rows(source.params.get(param), float(fps),
                                          seed if isinstance(seed, int) and not isinstance(seed, bool) else None)
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
        self._run_settings = self._settings(self.node_id, self.shots_node)
        self.live.begin_sequence(sections[-1].end)
        self.model.set_fps(fps)
        self.model.set_shots(sections)
        self._feed = ShotFeed(sections)
        self._heard, self._filled, self._placed = set(), set(), False
        # The shots that will come from the memo show from the clip before as soon as the first step says the
        # run renders at the clip's steps (not a draft), not once the render has made every shot before them
        # (editing shot 1 of 50 left 49 shots blank for the whole render). One shot per event-loop turn: a
        # long clip's decodes do not hold the window up.
        self._to_fill = []
        if self.live.previous is not None and self._run_settings == self._clip_settings is not None:
            self._to_fill = sorted(kept_shots(self._previous_shots, sections).items())
        return True

    def take_restored(self, count: int, draft: bool = False, exact: bool = True) -> bool:
        """A clip of ``count`` frames that the graph on the canvas rendered (read back from the history when the
        graph was opened) is on screen: when the graph makes a sequence of that length, its shots become the
        clip's sections, and the next render shows the shots it keeps from this clip at once, as after a render
        in this window. ``draft``: the clip was a draft (its shots were made at the draft steps). Not ``exact``:
        an earlier version of the graph made it; its sections are the rows' as they are now, and no shot of it
        stands in for a shot of the next render (which may not be the shot it shows)."""
        if self._session is None:
            return False
        graph, registry = self._session.graph, self._session.registry
        plan = self.plan(tuple(graph.nodes))
        if plan is None or plan[3][-1].end != count:
            return False
        self.node_id, self.shots_node, _fps, sections = plan
        self.model.set_shots(sections)
        if not exact:
            self._clip_settings = self.clip_steps = None
            return True
        self._clip_settings = self._settings(self.node_id, self.shots_node)
        node = graph.nodes[self.node_id]
        spec = registry.get(node.type)
        params = (spec.default_params() if spec is not None else {}) | node.params
        pairs = spec.roles.draft if spec is not None else ()
        steps = [min(params[a], params[b]) if draft else params[a] for a, b in pairs[:1] if a in params and b in params]
        self.clip_steps = steps[0] if steps and isinstance(steps[0], int) else None
        return True

    def _settings(self, node_id: str, shots_node: str) -> object:
        """What every shot's frames depend on besides its row: the generating node's parameters (not whether
        it previews) and the parameters of each node upstream of it but the Shot List (the model, the
        characters' pictures: a node upstream of the Shot List counts too)."""
        if self._session is None:
            return None
        graph = self._session.graph
        found = []
        for nid in graph.upstream([node_id]) - {shots_node}:
            node = graph.nodes[nid]
            params = {k: v for k, v in node.params.items() if not (nid == node_id and k == "preview")}
            found.append((nid, node.type, repr(sorted(params.items()))))
        return tuple(sorted(found))

    def _fill_next(self) -> None:
        """Show the next kept shot from the clip before (unless this run's events reached it first)."""
        while self._to_fill and self._feed is not None:
            index, before = self._to_fill.pop(0)
            if index in self._heard or index == self.model.rendering_shot:
                continue
            self._copy_previous_shot(index, self._previous_shots[before])
            self._filled.add(index)
            break
        if self._to_fill and self._feed is not None:
            self._fill_timer.start()

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
                if earlier not in self._filled:
                    self._copy_previous_shot(earlier)
        self._heard.add(update.shot)
        if update.kind == "step" and self._to_fill and not self._fill_timer.isActive():
            if update.steps == self.clip_steps:
                self._fill_timer.start()
            else:  # a draft (or other steps): the shots kept come at other steps, and render
                self._to_fill = []
        if update.kind == "unchanged":
            return True
        self.model.set_rendering_shot(update.shot)
        if update.kind == "rendering" or frames is None or update.keep <= 0:
            self.model.set_status(f"{head}: rendering")
            return True
        keep = min(update.keep, shot.end - update.start)
        part = frames[update.keep_from:update.keep_from + keep]
        self._placed = True
        self.live.show_placed(event.node_id, event.step, event.total, part, update.start,
                              f"{head}: step {update.step} of {update.steps}")
        return True

    def _copy_previous_shot(self, index: int, same: ShotSection | None = None) -> None:
        """A shot served from the memo streams nothing: show its frames from the clip before, where it was
        (``same``: its section there, when known; else the one with its name, prompt and length)."""
        shot, before = self.model.shots[index], self.live.previous
        if before is None:
            return
        if same is None:
            same = next((s for s in self._previous_shots
                         if (s.name, s.prompt, s.frames) == (shot.name, shot.prompt, shot.frames)), None)
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
