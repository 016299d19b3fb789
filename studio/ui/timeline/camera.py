"""The camera-path lane: pan, zoom and roll curves over time, with keyframes to drag (undoable)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QUndoCommand
from PySide6.QtWidgets import QWidget

from studio.graph import Graph, NodeRegistry
from studio.ui.timeline.lanes import AxisPlot, polyline
from studio.ui.timeline.model import TimeAxis, TimelineModel

CHANNELS = ("pan_x", "pan_y", "zoom", "roll")  # always drawn
EXTRA = ("dolly", "orbit", "crane")  # drawn when a path uses them (the Camera Path node has them)
COLORS = {
    "pan_x": (240, 120, 110),
    "pan_y": (120, 200, 120),
    "zoom": (110, 160, 250),
    "roll": (230, 200, 90),
    "dolly": (200, 130, 230),
    "orbit": (90, 210, 210),
    "crane": (200, 200, 200),
}
DEFAULTS = {"pan_x": 0.0, "pan_y": 0.0, "zoom": 1.0, "roll": 0.0, "dolly": 0.0, "orbit": 0.0, "crane": 0.0}
MIN_SPAN = {"pan_x": 0.5, "pan_y": 0.5, "zoom": 0.5, "roll": 20.0, "dolly": 0.5, "orbit": 20.0, "crane": 0.5}


def _ease(t: np.ndarray, interp: str) -> np.ndarray:
    if interp == "ease":  # slow in, slow out
        return t * t * (3 - 2 * t)
    if interp == "smooth":  # smoother still: zero acceleration at both ends
        return t * t * t * (t * (6 * t - 15) + 10)
    return t


def resolved(keys: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Every channel's value at each keyframe: a channel a keyframe leaves out keeps the previous one's."""
    current = dict(DEFAULTS)
    out = []
    for key in keys:
        for ch in DEFAULTS:
            if isinstance(key.get(ch), int | float):
                current[ch] = float(key[ch])
        out.append(dict(current))
    return out


def sample_keyframes(keys: list[dict[str, Any]], count: int) -> dict[str, np.ndarray]:
    """Frame-keyed keyframes ({"frame", ..., "interp"}) sampled at frames 0..count-1; ``interp`` shapes the
    way from a keyframe to the next."""
    frames = np.arange(max(0, count), dtype=np.float64)
    keys = sorted((k for k in keys if "frame" in k), key=lambda k: k["frame"])
    values_at = resolved(keys)
    out: dict[str, np.ndarray] = {}
    for ch in DEFAULTS:
        values = np.full(len(frames), DEFAULTS[ch])
        if keys:
            values[:] = values_at[0][ch]
            for i in range(len(keys) - 1):
                fa, fb = float(keys[i]["frame"]), float(keys[i + 1]["frame"])
                va, vb = values_at[i][ch], values_at[i + 1][ch]
                inside = (frames >= fa) & (frames <= fb)
                if fb > fa:
                    t = _ease((frames[inside] - fa) / (fb - fa), str(keys[i].get("interp", "linear")))
                    values[inside] = va + (vb - va) * t
            values[frames > keys[-1]["frame"]] = values_at[-1][ch]
        out[ch] = values
    return out


def sample_node(params: dict[str, Any], count: int, fps: float) -> dict[str, np.ndarray]:
    """What a Camera Path node does over ``count`` frames at ``fps``, by the node's own code
    (presets, easing, splines, shake): the lane shows exactly what the render will get."""
    from studio.directing.camera import CHANNELS as ALL
    from studio.directing.camera import build_path

    path = build_path(
        str(params.get("preset", "keyframes")),
        params.get("keyframes"),
        amount=float(params.get("amount", 0.25)),
        ease=str(params.get("ease", "ease_in_out")),
        shake=float(params.get("shake", 0.0)),
        shake_seed=int(params.get("shake_seed", 0)),
    )
    track = path.track(max(1, count), fps)
    return {name: track.values[:, i] for i, name in enumerate(ALL)}


def channels_of_matrices(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """Pan, zoom and roll (degrees) read back from per-frame 2D camera matrices [T, 3, 3]."""
    m = np.asarray(matrices, np.float64)
    zoom = np.sqrt(np.abs(m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]))
    return {
        "pan_x": m[:, 0, 2],
        "pan_y": m[:, 1, 2],
        "zoom": zoom,
        "roll": np.degrees(np.arctan2(m[:, 1, 0], m[:, 0, 0])),
    }


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


@dataclass
class Series:
    """Points of one channel in the lane's coordinates: x in frames, y from 0 (bottom) to 1 (top)."""

    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def set(self, x: Any = (), y: Any = ()) -> None:
        self.x, self.y = np.asarray(x, np.float64), np.asarray(y, np.float64)


class CameraLane(AxisPlot):
    """Curves of the camera path (each channel scaled to the lane's height) and draggable keyframes.

    Keyframes come as the Camera Path node keeps them ({"time": seconds, ..., "ease"}) or keyed by
    frame ({"frame": n, ..., "interp"}). A drag ends in ``keyframe_moved(index, changes)`` in the
    keyframe's own format, e.g. (2, {"time": 1.75, "zoom": 1.3}); the editor pushes a MoveKeyframe.
    """

    keyframe_moved = Signal(int, object)

    def __init__(self, model: TimelineModel, axis: TimeAxis, parent: QWidget | None = None) -> None:
        super().__init__(model, axis, 84, parent)
        self.keys: list[dict[str, Any]] = []
        self.node_params: dict[str, Any] | None = None  # a Camera Path node's parameters
        self.matrices: np.ndarray | None = None
        self.rendered: dict[str, np.ndarray] | None = (
            None  # what the last render used (signal pulses included)
        )
        self.problem = ""
        self.ranges = {
            ch: (DEFAULTS[ch] - MIN_SPAN[ch] / 2, DEFAULTS[ch] + MIN_SPAN[ch] / 2) for ch in DEFAULTS
        }
        self.curves = {ch: Series() for ch in DEFAULTS}
        self.handles = {ch: Series() for ch in DEFAULTS}  # keyframe dots; x, y as the curves
        self.y_range = (-0.08, 1.08)
        self._editing: tuple[int, str] | None = None  # (keyframe, channel) being dragged
        self.setToolTip("Drag a keyframe: sideways moves it in time, up and down changes that curve's value")
        model.clip_changed.connect(self._refit)

    # ---- data in
    def set_keyframes(self, keys: list[dict[str, Any]] | None) -> None:
        """Editable keyframes, in either format (see the class)."""
        self._take(keys, None, None)

    def set_node(self, params: dict[str, Any] | None) -> None:
        """A Camera Path node's parameters: its preset or keyframes as the render will sample them;
        keyframes are editable when its preset is 'keyframes'."""
        keys = params.get("keyframes") if params and params.get("preset") == "keyframes" else None
        self._take(keys if isinstance(keys, list) else None, dict(params) if params else None, None)

    def set_matrices(self, matrices: np.ndarray | None) -> None:
        """A per-frame camera [T, 3, 3] with no keyframes (shown, not editable)."""
        self._take(None, None, None if matrices is None else np.asarray(matrices))

    def set_rendered(self, channels: dict[str, np.ndarray] | None) -> None:
        """The camera values a render actually used, per frame (a zoom pulsing on the beats comes
        from a signal the parameters do not hold); shown until the path is edited."""
        self.rendered = channels
        self._refit()

    def _take(self, keys: list | None, params: dict | None, matrices: np.ndarray | None) -> None:
        self.rendered = None
        self.keys = [k for k in copy.deepcopy(keys or []) if isinstance(k, dict)]
        self.node_params, self.matrices = params, matrices
        if self._editing is None:
            self._refit()
        else:
            self.redraw()

    def _refit(self) -> None:
        self._fit_ranges()
        self.redraw()

    # ---- time
    def frame_of(self, key: dict[str, Any]) -> float:
        if "frame" in key:
            return float(key["frame"])
        return float(key.get("time", 0.0)) * self.model.fps

    def _count(self) -> int:
        last = max((self.frame_of(k) for k in self.keys), default=0.0)
        return max(self.model.count, int(np.ceil(last)) + 1)

    def channels(self) -> dict[str, np.ndarray]:
        """Each channel's value at every frame of the lane."""
        self.problem = ""
        try:
            if self.rendered is not None:
                return self.rendered
            if self.matrices is not None:
                return channels_of_matrices(self.matrices)
            if self.node_params is not None and (self.node_params.get("preset") != "keyframes" or self.keys):
                params = {**self.node_params, "keyframes": self.keys} if self.keys else self.node_params
                return sample_node(params, self._count(), self.model.fps)
            if self.keys and all("frame" in k for k in self.keys):
                return sample_keyframes(self.keys, self._count())
            if self.keys:  # time-keyed keyframes without the node around them
                return sample_node(
                    {"preset": "keyframes", "keyframes": self.keys}, self._count(), self.model.fps
                )
        except Exception as exc:  # a half-typed keyframe list: say so, draw nothing
            self.problem = str(exc)
        return {}

    def _shown(self, data: dict[str, np.ndarray]) -> list[str]:
        extra = [ch for ch in EXTRA if ch in data and (np.ptp(data[ch]) > 1e-9 or abs(data[ch][0]) > 1e-9)]
        return [ch for ch in CHANNELS if ch in data] + extra

    def _fit_ranges(self) -> None:
        data = self.channels()
        for ch in DEFAULTS:
            values = data.get(ch)
            lo, hi = (
                (float(values.min()), float(values.max()))
                if values is not None and len(values)
                else (DEFAULTS[ch], DEFAULTS[ch])
            )
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
        shown = self._shown(data)
        tip = (
            self.problem
            or "Drag a keyframe: sideways moves it in time, up and down changes that curve's value"
        )
        if tip != self.toolTip():
            self.setToolTip(tip)
        values_at = resolved(self.keys)
        for ch in DEFAULTS:
            values = data.get(ch)
            if ch not in shown or values is None or not len(values):
                self.curves[ch].set()
                self.handles[ch].set()
                continue
            self.curves[ch].set(np.arange(len(values), dtype=np.float64), self.to_y(ch, values))
            if self.keys:
                self.handles[ch].set(
                    [self.frame_of(k) for k in self.keys], [float(self.to_y(ch, v[ch])) for v in values_at]
                )
            else:
                self.handles[ch].set()
        self.invalidate()

    def draw_content(self, painter: QPainter) -> None:
        start, end = self.x_range()
        step = max(1, int((end - start) / max(1, self.width()) / 2))  # about two points a pixel
        for ch in DEFAULTS:
            curve = self.curves[ch]
            if not len(curve.x):
                continue
            a, b = max(0, int(start) - step), min(len(curve.x), int(end) + step + 2)
            xs, ys = curve.x[a:b:step], curve.y[a:b:step]
            if len(xs) < 2:
                continue
            painter.setPen(QPen(QColor(*COLORS[ch]), 1.5))
            painter.drawPolyline(polyline(self.axis.x(xs), self.to_px(ys)))
        painter.setPen(QPen(QColor(20, 20, 20), 1))
        for ch in DEFAULTS:
            dots = self.handles[ch]
            painter.setBrush(QColor(*COLORS[ch]))
            for x, y in zip(self.axis.x(dots.x).tolist(), self.to_px(dots.y).tolist(), strict=True):
                painter.drawEllipse(QPointF(x, y), 4.5, 4.5)

    def handle_pos(self, index: int, channel: str) -> QPointF:
        """Where keyframe ``index`` of ``channel`` is drawn, in this widget's pixels."""
        value = resolved(self.keys)[index][channel]
        return QPointF(
            self.axis.x(self.frame_of(self.keys[index])), float(self.to_px(self.to_y(channel, value)))
        )

    def handle_at(self, pos: QPointF, reach: float = 7.0) -> tuple[int, str] | None:
        """The keyframe dot (index, channel) under ``pos``, the nearest one within ``reach`` pixels."""
        best, found = reach * reach, None
        for ch in DEFAULTS:
            dots = self.handles[ch]
            if not len(dots.x):
                continue
            d2 = (self.axis.x(dots.x) - pos.x()) ** 2 + (self.to_px(dots.y) - pos.y()) ** 2
            k = int(np.argmin(d2))
            if d2[k] <= best:
                best, found = float(d2[k]), (k, ch)
        return found

    # ---- mouse: a dot drags, anywhere else scrubs
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        hit = self.handle_at(event.position()) if event.button() == Qt.MouseButton.LeftButton else None
        if hit is None:
            super().mousePressEvent(event)
            return
        self._editing = hit
        self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._editing is None:
            super().mouseMoveEvent(event)
            return
        self._drag_to(event.position(), finished=False)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._editing is None:
            super().mouseReleaseEvent(event)
            return
        self._drag_to(event.position(), finished=True)
        self.unsetCursor()

    def _drag_to(self, pos: QPointF, finished: bool) -> None:
        assert self._editing is not None
        index, channel = self._editing
        self.drag_keyframe(index, channel, self.axis.frame_at(pos.x()), self.from_px(pos.y()), finished)

    # ---- editing
    def drag_keyframe(self, index: int, channel: str, x: float, y: float, finished: bool) -> None:
        if not 0 <= index < len(self.keys):
            return
        self._editing = None if finished else (index, channel)
        key = self.keys[index]
        below = self.frame_of(self.keys[index - 1]) if index > 0 else -1.0
        above = self.frame_of(self.keys[index + 1]) if index + 1 < len(self.keys) else 1e9
        # a keyframe stays between its neighbours, so indices keep their meaning during the drag
        frame = int(min(max(round(x), np.floor(below) + 1, 0), np.ceil(above) - 1))
        value = round(self.from_y(channel, min(max(y, -0.05), 1.05)), 4)
        if "frame" in key:
            changes: dict[str, Any] = {"frame": frame}
        else:
            changes = {"time": round(frame / self.model.fps, 4)}
        changes[channel] = value
        key.update(changes)
        self.redraw()
        if finished:
            self.keyframe_moved.emit(index, changes)


def find_camera_param(graph: Graph, registry: NodeRegistry | None = None) -> tuple[str, str] | None:
    """The camera path to show: the keyframes of a node whose type declares the camera-source role, else
    the first parameter holding a list of keyframe dicts ("frame" or "time" and a camera channel)."""
    for nid, node in graph.nodes.items():
        spec = registry.get(node.type) if registry is not None else None
        if spec is not None and spec.roles.camera_source:
            return nid, spec.roles.camera_source
    for nid, node in graph.nodes.items():
        for name, value in node.params.items():
            if (
                isinstance(value, list)
                and value
                and all(isinstance(k, dict) and ("frame" in k or "time" in k) for k in value)
                and any(ch in value[0] for ch in DEFAULTS)
            ):
                return nid, name
    return None
