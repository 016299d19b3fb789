"""The camera-path lane: pan, zoom and roll curves over time, with keyframes to drag (undoable)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QWidget

from studio.graph import Graph
from studio.ui.timeline.lanes import AxisPlot
from studio.ui.timeline.model import TimeAxis, TimelineModel

CHANNELS = ("pan_x", "pan_y", "zoom", "roll")
COLORS = {"pan_x": (240, 120, 110), "pan_y": (120, 200, 120), "zoom": (110, 160, 250), "roll": (230, 200, 90)}
DEFAULTS = {"pan_x": 0.0, "pan_y": 0.0, "zoom": 1.0, "roll": 0.0}
MIN_SPAN = {"pan_x": 0.5, "pan_y": 0.5, "zoom": 0.5, "roll": 20.0}  # so a flat curve is not blown up


def _ease(t: np.ndarray, interp: str) -> np.ndarray:
    if interp == "ease":  # slow in, slow out
        return t * t * (3 - 2 * t)
    if interp == "smooth":  # smoother still: zero acceleration at both ends
        return t * t * t * (t * (6 * t - 15) + 10)
    return t


def sample_keyframes(keys: list[dict[str, Any]], count: int) -> dict[str, np.ndarray]:
    """Each channel's value at every frame 0..count-1; a keyframe's ``interp`` shapes the way to the next."""
    frames = np.arange(max(0, count), dtype=np.float64)
    keys = sorted((k for k in keys if "frame" in k), key=lambda k: k["frame"])
    out: dict[str, np.ndarray] = {}
    for ch in CHANNELS:
        values = np.full(len(frames), DEFAULTS[ch])
        if keys:
            values[:] = float(keys[0].get(ch, DEFAULTS[ch]))
            for a, b in zip(keys, keys[1:], strict=False):
                fa, fb = float(a["frame"]), float(b["frame"])
                va, vb = float(a.get(ch, DEFAULTS[ch])), float(b.get(ch, DEFAULTS[ch]))
                inside = (frames >= fa) & (frames <= fb)
                if fb > fa:
                    t = _ease((frames[inside] - fa) / (fb - fa), str(a.get("interp", "linear")))
                    values[inside] = va + (vb - va) * t
            values[frames > keys[-1]["frame"]] = float(keys[-1].get(ch, DEFAULTS[ch]))
        out[ch] = values
    return out


def channels_of_matrices(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """Pan, zoom and roll (degrees) read back from per-frame 2D camera matrices [T, 3, 3]."""
    m = np.asarray(matrices, np.float64)
    zoom = np.sqrt(np.abs(m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]))
    return {"pan_x": m[:, 0, 2], "pan_y": m[:, 1, 2], "zoom": zoom,
            "roll": np.degrees(np.arctan2(m[:, 1, 0], m[:, 0, 0]))}


class MoveKeyframe(QUndoCommand):
    """A camera keyframe moved in time and/or value: one ``graph.set_param`` of the whole list."""

    def __init__(self, graph: Graph, node_id: str, param: str, index: int, changes: dict[str, Any]) -> None:
        super().__init__(f"Move camera keyframe {index + 1}")
        self.graph, self.node_id, self.param = graph, node_id, param
        self.old = copy.deepcopy(graph.nodes[node_id].params.get(param) or [])
        self.new = copy.deepcopy(self.old)
        if 0 <= index < len(self.new):
            self.new[index].update(changes)
        else:
            self.setObsolete(True)

    def redo(self) -> None:
        self.graph.set_param(self.node_id, self.param, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.graph.set_param(self.node_id, self.param, copy.deepcopy(self.old))


class _Handles(pg.ScatterPlotItem):
    """Keyframe dots of one channel; dragging one moves it in time (x) and value (y)."""

    def __init__(self, lane: CameraLane, channel: str) -> None:
        color = COLORS[channel]
        super().__init__(size=9, pen=pg.mkPen(20, 20, 20), brush=pg.mkBrush(*color), hoverable=True,
                         hoverSize=12)
        self.lane, self.channel = lane, channel
        self._index: int | None = None

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph's name)
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            hits = self.pointsAt(ev.buttonDownPos())
            if len(hits) == 0:
                ev.ignore()
                return
            self._index = int(hits[0].data())
        elif self._index is None:
            ev.ignore()
            return
        ev.accept()
        pos: QPointF = ev.pos()
        self.lane.drag_keyframe(self._index, self.channel, pos.x(), pos.y(), finished=ev.isFinish())
        if ev.isFinish():
            self._index = None


class CameraLane(AxisPlot):
    """Curves of the camera path (each channel scaled to the lane's height) and draggable keyframes.

    Emits ``keyframe_moved(index, changes)`` when a drag ends, e.g. (2, {"frame": 40, "zoom": 1.3});
    the editor turns it into a ``MoveKeyframe`` on its undo stack.
    """

    keyframe_moved = Signal(int, object)

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, 84, parent)
        self.keys: list[dict[str, Any]] = []
        self.matrices: np.ndarray | None = None
        self.ranges: dict[str, tuple[float, float]] = {ch: (DEFAULTS[ch] - MIN_SPAN[ch] / 2,
                                                            DEFAULTS[ch] + MIN_SPAN[ch] / 2) for ch in CHANNELS}
        self.curves = {ch: pg.PlotDataItem(pen=pg.mkPen(COLORS[ch], width=1.5)) for ch in CHANNELS}
        self.handles = {ch: _Handles(self, ch) for ch in CHANNELS}
        for ch in CHANNELS:
            self.view.addItem(self.curves[ch])
            self.view.addItem(self.handles[ch])
        self.view.setYRange(-0.08, 1.08, padding=0)
        self._dragging = False
        model.clip_changed.connect(self.redraw)

    # ---- data in
    def set_keyframes(self, keys: list[dict[str, Any]] | None) -> None:
        """Keyframes as the Camera Path node keeps them: [{"frame", "pan_x", "pan_y", "zoom", "roll", "interp"}]."""
        self.keys = copy.deepcopy(list(keys or []))
        self.matrices = None
        if not self._dragging:
            self._fit_ranges()
        self.redraw()

    def set_matrices(self, matrices: np.ndarray | None) -> None:
        """A per-frame camera [T, 3, 3] with no keyframes (shown, not editable)."""
        self.matrices = None if matrices is None else np.asarray(matrices)
        self.keys = []
        self._fit_ranges()
        self.redraw()

    def _count(self) -> int:
        last = max((int(k["frame"]) for k in self.keys), default=0) + 1
        return max(self.model.count, last)

    def channels(self) -> dict[str, np.ndarray]:
        if self.matrices is not None:
            return channels_of_matrices(self.matrices)
        return sample_keyframes(self.keys, self._count()) if self.keys else {}

    def _fit_ranges(self) -> None:
        data = self.channels()
        for ch in CHANNELS:
            values = data.get(ch)
            lo, hi = (float(values.min()), float(values.max())) if values is not None and len(values) else (
                DEFAULTS[ch], DEFAULTS[ch])
            span = max(hi - lo, MIN_SPAN[ch])
            mid = (lo + hi) / 2
            self.ranges[ch] = (mid - span * 0.6, mid + span * 0.6)

    def to_y(self, channel: str, value: float | np.ndarray) -> Any:
        lo, hi = self.ranges[channel]
        return (np.asarray(value) - lo) / (hi - lo)

    def from_y(self, channel: str, y: float) -> float:
        lo, hi = self.ranges[channel]
        return lo + y * (hi - lo)

    # ---- drawing
    def redraw(self) -> None:
        data = self.channels()
        for ch in CHANNELS:
            values = data.get(ch)
            if values is None or not len(values):
                self.curves[ch].setData([], [])
                self.handles[ch].setData([], [])
                continue
            self.curves[ch].setData(np.arange(len(values), dtype=np.float64), self.to_y(ch, values))
            if self.keys:
                xs = [float(k["frame"]) for k in self.keys]
                ys = [float(self.to_y(ch, float(k.get(ch, DEFAULTS[ch])))) for k in self.keys]
                self.handles[ch].setData(x=xs, y=ys, data=list(range(len(self.keys))))
            else:
                self.handles[ch].setData([], [])

    def handle_pos(self, index: int, channel: str) -> QPointF:
        """Where keyframe ``index`` of ``channel`` is drawn, in this widget's pixels (tests)."""
        key = self.keys[index]
        scene = self.view.mapViewToScene(QPointF(float(key["frame"]),
                                                 float(self.to_y(channel, float(key.get(channel, DEFAULTS[channel]))))))
        return QPointF(self.plot.mapFromScene(scene))

    # ---- editing
    def drag_keyframe(self, index: int, channel: str, x: float, y: float, finished: bool) -> None:
        if not 0 <= index < len(self.keys):
            return
        self._dragging = not finished
        frames = sorted(int(k["frame"]) for k in self.keys)
        own = int(self.keys[index]["frame"])
        below = max((f for f in frames if f < own), default=-1)
        above = min((f for f in frames if f > own), default=10**9)
        # a keyframe stays between its neighbours, so indices keep their meaning during the drag
        frame = int(min(max(round(x), below + 1, 0), above - 1))
        value = round(self.from_y(channel, min(max(y, -0.05), 1.05)), 4)
        self.keys[index]["frame"] = frame
        self.keys[index][channel] = value
        self.redraw()
        if finished:
            self.keyframe_moved.emit(index, {"frame": frame, channel: value})


def find_camera_param(graph: Graph) -> tuple[str, str] | None:
    """The first node parameter that holds camera keyframes (a list of dicts with "frame")."""
    for nid, node in graph.nodes.items():
        for name, value in node.params.items():
            if (isinstance(value, list) and value and all(isinstance(k, dict) and "frame" in k for k in value)
                    and any(ch in value[0] for ch in CHANNELS)):
                return nid, name
    return None

