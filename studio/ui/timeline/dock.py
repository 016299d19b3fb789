"""The timeline panel (transport, ruler, lanes) and the two docks an editor window adds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtCore import Signal as QtSignal  # studio.values.Signal is the per-frame value
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QGridLayout,
    QLabel,
    QMainWindow,
    QScrollBar,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.engine import Event, NodeProgress, RunFinished, RunStarted
from studio.graph import Exporter, Graph, GraphChange
from studio.ui.timeline.camera import (
    CHANNELS,
    COLORS,
    CameraLane,
    MoveKeyframe,
    find_camera_param,
)
from studio.ui.timeline.lanes import AudioLane, ThumbnailLane
from studio.ui.timeline.live import LiveRender
from studio.ui.timeline.model import Marker, TimeAxis, TimelineModel
from studio.ui.timeline.playback import Playback
from studio.ui.timeline.ruler import TimeRuler
from studio.ui.timeline.sequence import SequenceFeed
from studio.ui.timeline.shotplan import ShotSection, row_of_section, section_of_row, sections_from_record
from studio.ui.timeline.shots import ShotLane
from studio.ui.timeline.transport import KEYS, Transport
from studio.ui.timeline.viewer import ViewerPanel
from studio.values import PromptSchedule, Signal, Sound, Video

if TYPE_CHECKING:
    from studio.ui.shell.last_render import Render
    from studio.ui.shell.reopen import ReopenedRender
    from studio.ui.shell.session import EditSession

log = logging.getLogger(__name__)
HEADER = 78  # width of the lane names, so every lane's x = 0 is the same frame


def memory_budget() -> int:
    """The frame store's budget in bytes: the editor setting ``timeline/memory_budget_mb`` (1024)."""
    from studio.ui.shell.settings import settings

    try:
        mb = int(settings().value("timeline/memory_budget_mb", 1024))
    except (TypeError, ValueError):
        mb = 1024
    return max(64, mb) << 20


def audio_latency() -> float:
    """Seconds the sound device adds after Qt's buffer: the setting ``timeline/audio_latency_ms`` (0).
    Qt cannot ask the device; a person with Bluetooth headphones sets it once."""
    from studio.ui.shell.settings import settings

    try:
        ms = float(settings().value("timeline/audio_latency_ms", 0))
    except (TypeError, ValueError):
        ms = 0.0
    return min(max(ms, 0.0), 2000.0) / 1000.0


class TimelinePanel(QWidget):
    """Transport on top, then the ruler and the lanes on one time axis, and a scroll bar."""

    def __init__(self, model: TimelineModel, playback: Playback, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.playback = model, playback
        self.axis = TimeAxis(self)
        self.transport = Transport(model, playback)
        self.ruler = TimeRuler(model, self.axis)
        self.shots = ShotLane(model, self.axis)
        self.thumbnails = ThumbnailLane(model, self.axis)
        self.audio = AudioLane(model, self.axis)
        self.camera = CameraLane(model, self.axis)
        self.history = QSlider(Qt.Orientation.Horizontal)
        self.history.setToolTip("Denoising history: drag to see the clip at an earlier step")
        self.history.setEnabled(False)
        self.scroll = QScrollBar(Qt.Orientation.Horizontal)
        self.scroll.valueChanged.connect(self._scrolled)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(0)
        grid.setVerticalSpacing(1)
        rows = [("", self.ruler), ("Shots", self.shots), ("Frames", self.thumbnails), ("Audio", self.audio),
                ("Camera", self.camera)]
        legend = "<br>".join(
            f"<span style='color: rgb{COLORS[ch]}'>{ch.replace('_', ' ')}</span>" for ch in CHANNELS
        )
        rows[-1] = ("Camera<br><small>" + legend + "</small>", self.camera)
        for row, (name, widget) in enumerate(rows):
            label = QLabel(name)
            label.setObjectName("ParamHelp")
            label.setFixedWidth(HEADER)
            label.setContentsMargins(6, 0, 0, 0)
            grid.addWidget(label, row, 0)
            grid.addWidget(widget, row, 1)
            if widget is self.shots:
                self.shots_label = label
        history_label = QLabel("Steps")
        history_label.setObjectName("ParamHelp")
        history_label.setContentsMargins(6, 0, 0, 0)
        grid.addWidget(history_label, len(rows), 0)
        grid.addWidget(self.history, len(rows), 1)
        grid.addWidget(self.scroll, len(rows) + 1, 1)
        grid.setRowStretch(len(rows) + 2, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.transport)
        layout.addLayout(grid, 1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.ruler.scrubbing.connect(self._scrubbing)
        for lane in (self.shots, self.thumbnails, self.audio, self.camera):  # a click in any lane moves the playhead
            lane.scrubbing.connect(self._scrubbing)
        self.axis.changed.connect(self._axis_changed)
        model.clip_changed.connect(lambda: self.axis.set_geometry(self.ruler.width(), model.count))
        model.playhead_changed.connect(self.axis.ensure_visible)
        model.shots_changed.connect(self._shots_changed)
        self._sequence = False
        self._shots_changed()

    def set_sequence(self, on: bool) -> None:
        """Whether the open graph renders a sequence: its Shots lane stays, rendered or not."""
        self._sequence = on
        self._shots_changed()

    def _shots_changed(self) -> None:
        # the lane is there for a sequence only: a single clip's timeline stays as it was
        on = bool(self.model.shots) or self._sequence
        self.shots.setVisible(on)
        self.shots_label.setVisible(on)

    def _scrubbing(self, on: bool) -> None:
        if on:
            self.playback.pause()
        self.setFocus()

    def _axis_changed(self) -> None:
        span = max(1, round(self.axis.end - self.axis.start))
        self.scroll.blockSignals(True)
        self.scroll.setRange(0, max(0, self.model.count - span))
        self.scroll.setPageStep(span)
        self.scroll.setValue(max(0, round(self.axis.start)))
        self.scroll.setVisible(not self.axis.fitted)
        self.scroll.blockSignals(False)

    def _scrolled(self, value: int) -> None:
        self.axis.scroll(value - self.axis.start)


class TimelineDocks(QObject):
    """The viewer dock and the timeline dock for an editor window, and the wiring an editor needs:
    ``handle_event`` for engine events, camera keyframes edited through the session's undo stack."""

    shot_chosen = QtSignal(str, int)  # (node id, row): a shot's flag clicked on the ruler; its Shot List row

    def __init__(self, window: QMainWindow, session: EditSession | None = None) -> None:
        super().__init__(window)
        self.window, self.session = window, session
        # one budget for all the timeline holds: half for the clip, a quarter each for the previous
        # render (A/B) and the history of steps
        budget = memory_budget()
        self.model = TimelineModel(parent=self)
        self.model.settings.budget_bytes = budget // 2
        self.model.store.set_budget(budget // 2)
        self.playback = Playback(self.model, parent=self)
        self.playback.audio.output_latency = audio_latency()
        self.live = LiveRender(self.model, history_bytes=budget // 4, previous_bytes=budget // 4, parent=self)
        self.viewer = ViewerPanel(self.model)
        self.timeline = TimelinePanel(self.model, self.playback)
        self.timeline.transport.bind_keys(self.viewer, self.timeline)
        self.viewer_dock = QDockWidget("Viewer", window)
        self.viewer_dock.setObjectName("viewer")
        self.viewer_dock.setWidget(self.viewer)
        self.timeline_dock = QDockWidget("Timeline", window)
        self.timeline_dock.setObjectName("timeline")
        self.timeline_dock.setWidget(self.timeline)
        self.playback.playing_changed.connect(lambda on: setattr(self.viewer.viewer, "immediate", on))
        self.live.previous_changed.connect(lambda store: self.viewer.set_previous(store, self.live.previous_label))
        self.live.history_changed.connect(self._history_changed)
        self.timeline.history.valueChanged.connect(self._history_moved)
        self.timeline.camera.keyframe_moved.connect(self.move_keyframe)
        self.timeline.ruler.section_clicked.connect(self._section_clicked)
        self.timeline.shots.shot_clicked.connect(self._shot_clicked)
        self.camera_param: tuple[str, str] | None = None
        # a sequence render in flight: the node making it, its Shot List, and where its previews go
        self.sequence = SequenceFeed(self.model, self.live, session)
        # the Shot List row last selected (node, parameter, row): its shot is outlined again whenever the
        # sections change (a render's plan, its clip), not the section that had its index before
        self._chosen_row: tuple[str, str, int] | None = None
        self._syncing_range = False
        if session is not None:
            session.graph_changed.connect(self._graph_changed)
            self._graph_changed(GraphChange("reset"))  # a graph already open may have a camera path
        self.viewer.set_previous(None)
        window.installEventFilter(self)  # a hidden window stops playing (and its sound)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close)  # frames spilled to disk go with the app

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.window and event.type() in (QEvent.Type.Hide, QEvent.Type.Close):
            self.playback.pause()
        return False

    @staticmethod
    def shortcuts() -> list[tuple[str, str]]:
        """(what it does, key) of the transport keys, for a shortcuts list; they act while the
        viewer or the timeline has focus."""
        return [(what, key) for key, (_method, _arg, what) in KEYS.items()]

    def close(self) -> None:
        """Stop playback and let go of the frames (their disk cache too); the window is closing."""
        self.playback.pause()
        if self.live.previous is not None:
            self.live.previous.close()
        self.model.close()

    # ---- engine
    def handle_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.live.handle(event)
            if self.sequence.begin(event.node_ids):
                self.playback.pause()
                self._choose_again()
            return
        if isinstance(event, NodeProgress) and self.sequence.take(event):
            return
        if isinstance(event, RunFinished):
            self.sequence.finish(event.status)
        if isinstance(event, NodeProgress) and event.preview is not None and self.session is not None:
            # the clip's rate is known before its frames are: the node's clip-rate parameter
            node = self.session.graph.nodes.get(event.node_id)
            spec = self.session.registry.get(node.type) if node is not None else None
            rate = spec.roles.clip_rate if spec is not None else None
            fps = node.params.get(rate) if node is not None and rate else None
            if isinstance(fps, int | float) and fps > 0:
                self.model.set_fps(float(fps))
        self.live.handle(event)

    def show_render(self, render: Render) -> None:
        """A finished render (the window's LastRender): its clip replaces the previews, and what else it made
        (sound, beats, prompt sections, the camera path as rendered) fills the lanes."""
        clip = render.clip()
        if clip is not None:
            self.live.show_video(clip[1])
        self.take_outputs(render.outputs)

    def show_reopened(self, found: ReopenedRender) -> None:
        """The last render of the graph just opened, read back from the render history (studio/ui/shell/reopen.py):
        its clip and sound, and for a sequence, its shots as sections; the status says what it is. (The window
        does not call it once a render has started: that render keeps the screen.)"""
        self.live.show_video(Video(found.frames, found.fps))
        if found.sound is not None:
            self.set_sound(found.sound)
        self.sequence.take_restored(self.model.count, found.record.draft, found.exact)
        self._choose_again()
        self.model.set_status(found.describe())

    def forget_render(self) -> None:
        """The canvas holds another graph: nothing of the last one's render stays on screen (its frames, sound,
        beats and prompt markers, in and out points, status text, A/B partner, rendered camera curves)."""
        self.playback.pause()
        self.live.forget()
        self.set_sound(None)
        self.set_markers([], [])
        self.sequence.forget()
        self._chosen_row = None
        self.model.set_in(None)
        self.model.set_out(None)
        self.timeline.camera.set_rendered(None)

    def take_outputs(self, outputs: dict[str, dict[str, Any]]) -> None:
        """What a finished render made besides its video, by value type: the soundtrack (Sound) for the audio
        lane, beats (a Signal's events) and prompt sections (a PromptSchedule, or the sections a Video's
        generation record carries) for the markers, and the camera path as rendered (CameraPath)."""
        from studio.directing.camera import CHANNELS as NAMES
        from studio.directing.camera import CameraPath

        values = [v for ports in outputs.values() for v in ports.values()]
        sounds = [v for v in values if isinstance(v, Sound)]
        if sounds:
            self.set_sound(sounds[-1])
        fps = self.model.fps
        sections: list[tuple[int, str]] = []
        beats: set[int] = set()
        shots: list[ShotSection] = []
        for value in values:
            if isinstance(value, PromptSchedule):
                found = value.sections
            elif isinstance(value, Video) and value.generation is not None and value.generation.shots:
                # a sequence's shots are the shots lane's sections, not flags on the ruler as well
                shots = sections_from_record(value.generation.shots, fps, self.model.count)
                self.sequence.clip_steps = value.generation.steps
                found = ()
            elif isinstance(value, Video) and value.generation is not None:
                found = value.generation.sections
            else:
                found = ()
            for start, prompt in found:
                label = prompt if len(prompt) <= 28 else prompt[:27] + "…"
                sections.append((round(float(start) * fps), label))
            if isinstance(value, Signal) and value.events and value.fps > 0:
                beats.update(round(int(e) / value.fps * fps) for e in value.events)
        if sections or beats:
            self.set_markers(sorted(set(sections)), sorted(beats))
        elif shots:
            self.set_markers([], [])  # the plan's flags of a render before do not belong to this clip
        self.model.set_shots(shots)
        self._choose_again()
        paths = [v for v in values if isinstance(v, CameraPath)]
        if paths and self.model.count:
            try:
                track = paths[-1].track(self.model.count, fps)
                self.timeline.camera.set_rendered({n: track.values[:, i] for i, n in enumerate(NAMES)})
            except Exception:  # noqa: BLE001 - a path this lane cannot draw: keep showing the parameters
                log.debug("the rendered camera path could not be drawn", exc_info=True)

    # ---- plain data the editor hands over
    def set_sound(self, sound: Sound | None) -> None:
        self.model.set_sound(sound)

    def set_markers(self, sections: list[tuple[int, str]] = (), beats: list[int] = ()) -> None:  # type: ignore[assignment]
        self.model.set_markers(
            [Marker(f, "section", label) for f, label in sections] + [Marker(f, "beat") for f in beats]
        )

    def set_camera(
        self, keys: list[dict[str, Any]] | np.ndarray | None, source: tuple[str, str] | None = None
    ) -> None:
        """Keyframes (editable when ``source`` = (node id, parameter) is given) or matrices [T, 3, 3]."""
        self.camera_param = source
        if isinstance(keys, np.ndarray):
            self.timeline.camera.set_matrices(keys)
        else:
            self.timeline.camera.set_keyframes(keys)

    # ---- camera edits
    def move_keyframe(self, index: int, changes: dict[str, Any]) -> None:
        if self.session is None or self.camera_param is None:
            return
        node_id, param = self.camera_param
        if node_id in self.session.graph.nodes:
            self.session.undo.push(MoveKeyframe(self.session.graph, node_id, param, index, changes))

    def _shot_clicked(self, index: int) -> None:
        """A shot's section clicked on the shots lane: it is chosen, and the Shot List's row with it."""
        self.model.choose_shot(index)
        self._section_clicked(index)

    def choose_shot_row(self, node_id: str, param: str, row: int, reveal: bool = True) -> None:
        """A row of a Shot List's table was selected (the inspector's ``record_chosen``): outline its shot.
        Rows of other tables (keyframes, schedules) leave the shots lane alone; -1: none selected."""
        if self.session is None or not self.model.shots:
            return
        node = self.session.graph.nodes.get(node_id)
        spec = self.session.registry.get(node.type) if node is not None else None
        if spec is None or spec.roles.shot_list != param:
            return
        if self.sequence.shots_node is not None and node_id != self.sequence.shots_node:
            return  # another Shot List than the one the clip was made from
        self._chosen_row = (node_id, param, row)
        index = section_of_row(node.params.get(param), self.model.shots, row) if row >= 0 else None
        self.model.choose_shot(index)
        if index is not None and reveal:
            self.timeline.axis.ensure_visible(self.model.shots[index].start)

    def _choose_again(self) -> None:
        """The sections changed: outline the shot of the row still selected (a shot added since the last render
        has a section now; after rows moved, another index is that shot's)."""
        if self._chosen_row is not None and self.model.shots:
            self.choose_shot_row(*self._chosen_row, reveal=False)  # the view stays where the person has it

    def _section_clicked(self, index: int) -> None:
        """A section of a sequence's clip is one of its shots: say which row of the Shot List it is."""
        if self.session is None:
            return
        for nid, node in self.session.graph.nodes.items():
            if self.sequence.shots_node not in (None, nid):
                continue  # the Shot List the clip was made from, when known
            spec = self.session.registry.get(node.type)
            param = spec.roles.shot_list if spec is not None else None
            rows = node.params.get(param) if param else None
            if isinstance(rows, list) and 0 <= index < len(rows):
                self.shot_chosen.emit(nid, row_of_section(rows, self.model.shots, index))
                return

    # ---- in and out points and the exporter's range
    def _exporters(self) -> list[tuple[str, Exporter]]:
        """(node id, its exporter role) of each node that writes the final file (by role, not by type id)."""
        if self.session is None:
            return []
        found = []
        for nid, node in self.session.graph.nodes.items():
            spec = self.session.registry.get(node.type)
            if spec is not None and spec.roles.exporter is not None:
                found.append((nid, spec.roles.exporter))
        return found

    def set_export_range(self) -> bool:
        """Write the timeline's in and out points into each exporter's range (one undo step).

        Only this command writes the node: I and O mark a preview loop, a timeline setting, so marking a loop
        never changes what the next render exports. Returns whether anything changed."""
        exporters = self._exporters()
        if self.session is None or not exporters:
            return False
        m = self.model
        first, stop = m.in_point or 0, (m.out_point + 1) if m.out_point is not None else 0
        todo = [
            (nid, role) for nid, role in exporters
            if (self.session.graph.nodes[nid].params.get(role.in_frame), self.session.graph.nodes[nid].params.get(
                role.out_frame)) != (first, stop)
        ]
        if not todo:
            return False

        def mutate(graph: Graph) -> None:
            for nid, role in todo:
                graph.set_param(nid, role.in_frame, first)
                graph.set_param(nid, role.out_frame, stop)

        self._syncing_range = True
        try:
            self.session.edit("Set export range", mutate)
        finally:
            self._syncing_range = False
        return True

    def _range_from_export(self, node_id: str, role: Exporter) -> None:
        """Show an exporter's range as the preview loop (opened with the graph, typed in the inspector, undone)."""
        params = self.session.graph.nodes[node_id].params if self.session is not None else {}
        first, stop = int(params.get(role.in_frame) or 0), int(params.get(role.out_frame) or 0)
        self._syncing_range = True
        try:
            self.model.set_in(first or None)
            self.model.set_out(stop - 1 if stop > 0 else None)
        finally:
            self._syncing_range = False

    def _graph_changed(self, change: GraphChange) -> None:
        if self.session is None:
            return
        exporters = dict(self._exporters()) if change.kind in ("node_changed", "reset") else {}
        role = exporters.get(change.node_id or "")
        if (
            change.kind == "node_changed"
            and not self._syncing_range
            and role is not None
            and change.detail.get("param") in (role.in_frame, role.out_frame)
        ):
            self._range_from_export(change.node_id, role)  # typed in the inspector, or undone
        elif change.kind == "reset" and exporters:
            self._range_from_export(*next(iter(exporters.items())))  # a document opened with its own range
        if (
            change.kind == "node_changed"
            and self.camera_param is not None
            and change.node_id == self.camera_param[0]
            and "param" in change.detail
        ):
            self._show_camera()  # a keyframe, the preset, the amount...: the curves follow
            return
        structural = change.kind in ("node_added", "node_removed", "reset")
        if structural:
            # the Shots lane is there while the graph has a shot list, not only from a render's start: the
            # timeline growing a lane as a render started moved the canvas (seen under Xvfb)
            graph, registry = self.session.graph, self.session.registry
            self.timeline.set_sequence(any(
                (spec := registry.get(n.type)) is not None and spec.roles.shot_list for n in graph.nodes.values()))
        if structural or (change.kind == "node_changed" and "param" in change.detail):  # not node drags
            found = find_camera_param(self.session.graph, self.session.registry)
            if found != self.camera_param:
                self.camera_param = found
                self._show_camera()

    def _is_camera_source(self, type_id: str) -> bool:
        spec = self.session.registry.get(type_id) if self.session is not None else None
        return spec is not None and bool(spec.roles.camera_source)

    def _show_camera(self) -> None:
        lane = self.timeline.camera
        node = (
            self.session.graph.nodes.get(self.camera_param[0]) if self.session and self.camera_param else None
        )
        if node is None or self.camera_param is None:
            lane.set_keyframes(None)
        elif self._is_camera_source(node.type):
            lane.set_node(node.params)
        else:
            lane.set_keyframes(node.params.get(self.camera_param[1]))

    # ---- history of steps
    def _history_changed(self, count: int) -> None:
        slider = self.timeline.history
        slider.blockSignals(True)
        slider.setRange(0, max(0, count - 1))
        if self.live.showing_step is None:
            slider.setValue(max(0, count - 1))
        slider.setEnabled(count > 1)
        slider.blockSignals(False)

    def _history_moved(self, value: int) -> None:
        self.live.show_history(None if value >= self.timeline.history.maximum() else value)
