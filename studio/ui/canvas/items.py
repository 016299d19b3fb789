"""The node item on the canvas: title, typed ports, a parameter summary and the run state."""

from __future__ import annotations

import html
import os
from functools import cache
from typing import Any, Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneHoverEvent, QStyleOptionGraphicsItem, QWidget

from studio.graph import Node, NodeSpec
from studio.ui.shell import theme


class LinkItem(Protocol):
    """A link drawn to one of the node's ports (studio.ui.canvas.links.LinkItem): it follows the node."""

    def update_path(self) -> None: ...

WIDTH = 200.0
TITLE_H = 26.0
FAR_TITLE_LOD = 0.25  # below 35% the scene's text is too small to read; from 25% a node is 50 px wide
PORT_H = 22.0
PARAM_H = 17.0
STATUS_H = 18.0
PAD = 6.0
PORT_R = 5.5
PORT_HIT = 11.0
MAX_SUMMARY = 4
GRID = 20.0

IN, OUT = "in", "out"


def format_value(kind: str, value: Any) -> str:
    """A short text for a parameter value on the node face."""
    if value is None or value == "":
        return "-"
    if kind == "bool":
        return "on" if value else "off"
    if kind == "float" and isinstance(value, int | float):
        return f"{value:.4g}"
    if kind == "path" and isinstance(value, str):
        return os.path.basename(value) or value
    if kind == "json":
        if isinstance(value, list):
            return f"[{len(value)} item{'s' if len(value) != 1 else ''}]"
        if isinstance(value, dict):
            return "{" + ", ".join(value)[:40] + "}"
    if kind == "text" and isinstance(value, str):
        line = value.strip().splitlines()[0] if value.strip() else ""
        return f'"{line}"'
    return str(value)


@cache
def _metrics(f: QFont) -> QFontMetricsF:
    """Font metrics for the few fonts nodes use, made once (not in every paint)."""
    return QFontMetricsF(f)


def text_boost(lod: float, cap: float = 1.8) -> float:
    """How much larger a node's text is drawn when zoomed out (between 35% and 100%), so that at 50% titles and
    port names are still about 8 screen pixels tall: what a person reads a graph by when framing it."""
    return 1.0 if lod >= 0.9 else min(cap, max(1.0, 0.9 / max(lod, 1e-3)))


def wrapped_tip(text: str) -> str:
    """A tooltip that wraps at a readable width (as rich text, which Qt word-wraps) instead of one line that
    runs off the screen; the text is escaped, since it may come from a file."""
    return "<p style='white-space:pre-wrap; max-width: 480px'>" + html.escape(text) + "</p>"


TITLE_PT = 9.0


def title_size(title: str, room: float, lod: float) -> float:
    """The title's point size: enlarged when zoomed out (readable at 50%), but only as far as the whole
    title still fits its room; a long title ("Generate Sequence") is shown whole at a smaller boost rather
    than cut, and is cut only when even the normal size does not fit."""
    boosted = TITLE_PT * text_boost(lod, 1.6)
    if boosted <= TITLE_PT:
        return boosted
    natural = _metrics(theme.font(TITLE_PT, True)).horizontalAdvance(title)
    if natural <= 0:
        return boosted
    return max(TITLE_PT, min(boosted, TITLE_PT * room / natural * 0.97))


class NodeItem(QGraphicsItem):
    """One node. Ports are painted, not child items: fewer items keep large graphs fast."""

    def __init__(self, node: Node, spec: NodeSpec | None) -> None:
        super().__init__()
        self.node_id = node.id
        self.spec = spec
        self.links: list[LinkItem] = []
        self.state = ""
        self.progress: tuple[int, int] = (0, 0)
        self.state_text = ""
        self.marks: dict[tuple[str, str], str] = {}  # (direction, port) -> "ok" | "bad"
        self.snap = True
        self.problems: list[str] = []  # validation messages and run warnings, shown as a badge on the title bar
        self._checked: list[str] = []  # what validation says
        self.run_warnings: list[str] = []  # what the node said while it last ran
        self._syncing = False
        self.collapsed = False  # only the title bar shows; links meet it at its ends
        self.driven: tuple[str, ...] = ()  # number parameters a link drives: drawn as extra input sockets
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.status = StatusItem(self)
        self.sync(node)

    # ---- model -> item
    def sync(self, node: Node) -> None:
        spec = self.spec
        self.title = node.title or (spec.title if spec else node.type.rsplit(".", 1)[-1])
        self.type_name = node.type
        self.bypassed = node.bypassed
        self.missing = spec is None
        self.inputs = [(p.name, p.type, p.optional) for p in spec.inputs] if spec else []
        self.inputs += [(name, "SIGNAL", True) for name in self.driven]
        self.outputs = [(p.name, p.type, False) for p in spec.outputs] if spec else []
        self.summary: list[tuple[str, str]] = []
        if spec:
            for p in spec.params[:MAX_SUMMARY]:
                shown = "driven" if p.name in self.driven else format_value(p.kind, node.params.get(p.name, p.default))
                self.summary.append((p.title, shown))
            if len(spec.params) > MAX_SUMMARY:
                self.summary.append(("", f"+{len(spec.params) - MAX_SUMMARY} more"))
        else:
            self.summary.append(("missing", node.type))
        self._layout()
        self.setOpacity(0.55 if self.bypassed else 1.0)
        self.set_position(node.position)
        self.update()

    def _layout(self) -> None:
        rows = max(len(self.inputs), len(self.outputs), 0)
        height = TITLE_H if self.collapsed else (
            TITLE_H + PAD + rows * PORT_H + len(self.summary) * PARAM_H + STATUS_H + PAD)
        self.prepareGeometryChange()
        self._rect = QRectF(0, 0, WIDTH, height)
        self._bounds = self._rect.adjusted(-PORT_R - 5, -2, PORT_R + 5, 2)  # room for a port's hint ring
        self.status.place(height, self.collapsed)
        self._body = QPainterPath()
        self._body.addRoundedRect(self._rect, 6, 6)
        head = QPainterPath()
        head.addRoundedRect(QRectF(0, 0, WIDTH, TITLE_H + 6), 6, 6)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, WIDTH, TITLE_H))
        self._head = self._body if self.collapsed else head.intersected(clip)

    def set_driven(self, names: tuple[str, ...], node: Node) -> None:
        """Show a socket for each driven number parameter (so its link has somewhere to land)."""
        if names != self.driven:
            self.driven = names
            self.sync(node)
            for link in self.links:
                link.update_path()

    def set_collapsed(self, on: bool) -> None:
        """Show the title bar only (or the whole node again); the links follow the ports."""
        if on == self.collapsed:
            return
        self.collapsed = on
        self._layout()
        for link in self.links:
            link.update_path()
        self.update()

    def set_position(self, position: tuple[float, float]) -> None:
        if (self.pos().x(), self.pos().y()) != tuple(position):
            self._syncing = True
            self.setPos(QPointF(*position))
            self._syncing = False

    # ---- geometry
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self._rect.adjusted(-PORT_R, 0, PORT_R, 0))
        return path

    def port_local(self, direction: str, name: str) -> QPointF:
        if self.collapsed:  # every link meets the title bar's end
            return QPointF(0.0 if direction == IN else WIDTH, TITLE_H / 2)
        ports = self.inputs if direction == IN else self.outputs
        for i, (pname, _, _) in enumerate(ports):
            if pname == name:
                return QPointF(0.0 if direction == IN else WIDTH, TITLE_H + PAD + i * PORT_H + PORT_H / 2)
        return QPointF(0.0 if direction == IN else WIDTH, TITLE_H / 2)  # unknown type: a port we cannot draw

    def port_scene_pos(self, direction: str, name: str) -> QPointF:
        return self.mapToScene(self.port_local(direction, name))

    def port_type(self, direction: str, name: str) -> str:
        ports = self.inputs if direction == IN else self.outputs
        return next((t for n, t, _ in ports if n == name), "ANY")

    def port_at(self, scene_pos: QPointF, reach: float = PORT_HIT) -> tuple[str, str] | None:
        """The port under a scene point: (direction, name), or None. ``reach`` grows when zoomed out."""
        local = self.mapFromScene(scene_pos)
        for direction, ports in ((IN, self.inputs), (OUT, self.outputs)):
            if self.collapsed and len(ports) != 1:
                continue  # a folded side is one dot: it stands for a port only when the side has just one
            for name, _, _ in ports:
                p = self.port_local(direction, name)
                if abs(local.x() - p.x()) <= reach and abs(local.y() - p.y()) <= PORT_H / 2:
                    return direction, name
        return None

    def folded_side_at(self, scene_pos: QPointF) -> str | None:
        """The side (IN or OUT) whose folded dot of several ports is under a scene point, or None."""
        if not self.collapsed:
            return None
        local = self.mapFromScene(scene_pos)
        for direction, ports in ((IN, self.inputs), (OUT, self.outputs)):
            end = self.port_local(direction, "")
            if len(ports) > 1 and abs(local.x() - end.x()) <= PORT_HIT and abs(local.y() - end.y()) <= PORT_H / 2:
                return direction
        return None

    # ---- state from runs and link drags
    def set_state(self, state: str, text: str = "", progress: tuple[int, int] = (0, 0)) -> None:
        if (state, text, progress) == (self.state, self.state_text, self.progress):
            return
        changed = state != self.state
        self.state, self.state_text, self.progress = state, text, progress
        if changed:
            self.setToolTip(wrapped_tip(text) if state in ("failed", "stale") else "")
            self.status.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, not state)
            self.update()  # the border shows the state
        self.status.update()  # each step repaints only the little status strip

    def set_mark(self, direction: str, name: str, mark: str | None) -> None:
        key = (direction, name)
        if self.marks.get(key) == mark:
            return
        if mark is None:
            self.marks.pop(key, None)
        else:
            self.marks[key] = mark
        self.update()

    def clear_marks(self) -> None:
        if self.marks:
            self.marks.clear()
            self.update()

    # ---- Qt hooks
    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and self.snap and not self._syncing:
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for link in self.links:
                link.update_path()
            scene = self.scene()
            if scene is not None and hasattr(scene, "note_geometry"):
                scene.note_geometry()
        return super().itemChange(change, value)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802
        port = self.port_at(event.scenePos())
        if port is not None:
            direction, name = port
            spec_port = None
            if self.spec is not None:
                spec_port = self.spec.input(name) if direction == IN else self.spec.output(name)
            kind = self.port_type(direction, name)
            extra = f"\n{spec_port.help}" if spec_port is not None and spec_port.help else ""
            self.setToolTip(f"{name} ({kind} {'input' if direction == IN else 'output'}){extra}")
        elif (folded := self.folded_side_at(event.scenePos())) is not None:
            side = "inputs" if folded == IN else "outputs"
            names = ", ".join(n for n, _, _ in (self.inputs if folded == IN else self.outputs))
            self.setToolTip(f"{side} {names} (folded)\ndrop a link on the node to use the first that fits;"
                            " expand it (H) to pick one or to drag from one")
        elif self.state != "failed":
            tip = self.spec.help if self.spec is not None else f"unknown node type {self.type_name}"
            if self.problems:
                tip = "\n".join(["⚠ " + m for m in self.problems] + ([tip] if tip else []))
            self.setToolTip(tip)
        super().hoverMoveEvent(event)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        selected = self.isSelected()
        head_color = theme.color("#7a2b2b") if self.missing else theme.category_color(
            self.spec.category if self.spec else "")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(theme.color(theme.NODE_BODY)))
        painter.drawPath(self._body)
        painter.setBrush(QBrush(head_color))
        painter.drawPath(self._head)
        border = theme.pen(theme.NODE_BORDER, 1.2)
        if self.state in theme.STATE_COLORS and self.state not in ("done", "queued"):
            border = theme.pen(theme.STATE_COLORS[self.state], 2.0)
        if selected:
            border = theme.pen(theme.SELECTED, 2.2)
        target = self.folded_mark() if self.collapsed else None
        if target in ("ok", "bad"):  # a dragged link's target whose ports are hidden: the whole node says it
            border = theme.pen(theme.ACCEPTED if target == "ok" else theme.REFUSED, 2.2)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(border)
        painter.drawPath(self._body)
        if lod < 0.35:  # far away: shape and colour, and while the node is wide enough its name
            if lod >= FAR_TITLE_LOD:
                self._paint_far_title(painter, lod)
            return
        self._paint_title(painter, lod)
        if self.collapsed:
            self._paint_folded_ports(painter)
            return
        self._paint_ports(painter, lod)
        self._paint_summary(painter, lod)

    def _paint_far_title(self, painter: QPainter, lod: float) -> None:
        """The title at a readable size in screen pixels, in the body: a graph framed on a small screen
        (the first-clip example at 34% on a 1280x800 display) shows which box is which."""
        painter.save()
        painter.scale(1 / lod, 1 / lod)  # one unit is one screen pixel from here
        f = theme.font(8.5, True)
        painter.setFont(f)
        painter.setPen(theme.pen(theme.TEXT))
        width = WIDTH * lod - 8
        text = _metrics(f).elidedText(self.title, Qt.TextElideMode.ElideRight, width)
        top = TITLE_H * lod + 3
        box = QRectF(4, top, width, max(0.0, self._rect.height() * lod - top - 3))
        painter.drawText(box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
        painter.restore()

    def _paint_title(self, painter: QPainter, lod: float = 1.0) -> None:
        title = ("▸ " if self.collapsed else "") + self.title + ("  (bypassed)" if self.bypassed else "")
        room = WIDTH - 20 - (22 if self.problems else 0)
        f = theme.font(title_size(title, room, lod), True)
        painter.setFont(f)
        painter.setPen(theme.pen(theme.TEXT))
        text = _metrics(f).elidedText(title, Qt.TextElideMode.ElideRight, room)
        painter.drawText(QRectF(10, 0, room, TITLE_H), Qt.AlignmentFlag.AlignVCenter, text)
        if self.problems:
            centre = QPointF(WIDTH - 16, TITLE_H / 2)
            painter.setPen(theme.pen("#0c0e12", 1.2))
            painter.setBrush(QBrush(theme.color("#f2c14e")))
            painter.drawEllipse(centre, 7.5, 7.5)
            painter.setPen(theme.pen("#14171e"))
            painter.drawText(QRectF(centre.x() - 7.5, centre.y() - 7.5, 15, 15), Qt.AlignmentFlag.AlignCenter, "!")

    def folded_mark(self, direction: str | None = None) -> str | None:
        """The strongest link-drag mark on a collapsed node's hidden ports ("bad", "ok", "hint")."""
        found = {m for (d, _), m in self.marks.items() if direction in (None, d)}
        return next((m for m in ("bad", "ok", "hint") if m in found), None)

    def _paint_folded_ports(self, painter: QPainter) -> None:
        """One dot per side that has ports, in the colour of its first port (or of the port a
        dragged link would take), ringed like an open node's ports while a link is dragged."""
        for direction, ports in ((IN, self.inputs), (OUT, self.outputs)):
            if not ports:
                continue
            mark = self.folded_mark(direction)
            kind = next((k for n, k, _ in ports if self.marks.get((direction, n)) in ("bad", "ok")), ports[0][1])
            p = self.port_local(direction, ports[0][0])
            col, radius = theme.port_color(kind), PORT_R - 1
            if mark == "hint":
                painter.setPen(theme.pen(theme.ACCEPTED, 1.2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(p, PORT_R + 4, PORT_R + 4)
            elif mark == "bad":
                col, radius = theme.color(theme.REFUSED), PORT_R + 2
            elif mark == "ok":
                radius = PORT_R + 1.5
            painter.setPen(theme.pen(theme.ACCEPTED, 2.0) if mark == "ok" else theme.pen("#0c0e12", 1.5))
            painter.setBrush(QBrush(col))
            painter.drawEllipse(p, radius, radius)

    def set_problems(self, messages: list[str]) -> None:
        """What validation says of the node (replaced at each check); the last run's warnings stay beside it."""
        self._checked = list(messages)
        self._show_problems()

    def add_run_warning(self, message: str) -> None:
        """A warning the node gave while it ran (unknown words, a camera that did not follow): badge and tooltip
        until the next render."""
        if message not in self.run_warnings:
            self.run_warnings.append(message)
            self._show_problems()

    def clear_run_warnings(self) -> None:
        if self.run_warnings:
            self.run_warnings = []
            self._show_problems()

    def _show_problems(self) -> None:
        messages = self._checked + self.run_warnings
        if messages != self.problems:
            self.problems = messages
            self.update()

    def _paint_ports(self, painter: QPainter, lod: float = 1.0) -> None:
        f = theme.font(8.0 * text_boost(lod))
        painter.setFont(f)
        metrics = _metrics(f)
        for direction, ports in ((IN, self.inputs), (OUT, self.outputs)):
            across = len(self.outputs if direction == IN else self.inputs)  # ports on the other side
            for row, (name, kind, optional) in enumerate(ports):
                p = self.port_local(direction, name)
                room = WIDTH / 2 - 14 if row < across else WIDTH - 26  # a row to itself: the whole width
                mark = self.marks.get((direction, name))
                col = theme.port_color(kind)
                radius = PORT_R
                if mark == "bad":
                    col, radius = theme.color(theme.REFUSED), PORT_R + 2
                elif mark == "ok":
                    radius = PORT_R + 1.5
                elif mark == "hint":  # could take the link being dragged
                    painter.setPen(theme.pen(theme.ACCEPTED, 1.2))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawEllipse(p, PORT_R + 4, PORT_R + 4)
                    mark = None
                painter.setPen(theme.pen("#0c0e12", 1.5) if mark != "ok" else theme.pen(theme.ACCEPTED, 2.0))
                painter.setBrush(QBrush(theme.color(theme.NODE_BODY)) if optional and mark is None else QBrush(col))
                if optional and mark is None:
                    painter.setPen(theme.pen(theme.port_hex(kind), 2.0))
                painter.drawEllipse(p, radius, radius)
                painter.setPen(theme.pen(theme.TEXT_DIM if mark is None else theme.TEXT))
                if direction == IN:
                    rect = QRectF(12, p.y() - PORT_H / 2, room, PORT_H)
                    label = f"~ {name}" if name in self.driven else name
                    label = metrics.elidedText(label, Qt.TextElideMode.ElideRight, rect.width())
                    painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
                else:
                    rect = QRectF(WIDTH - 12 - room, p.y() - PORT_H / 2, room, PORT_H)
                    shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, rect.width())
                    painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, shown)

    def _paint_summary(self, painter: QPainter, lod: float = 1.0) -> None:
        f = theme.font(7.5 * text_boost(lod, 1.45))
        painter.setFont(f)
        metrics = _metrics(f)
        rows = max(len(self.inputs), len(self.outputs))
        y = TITLE_H + PAD + rows * PORT_H
        for label, value in self.summary:
            rect = QRectF(10, y, WIDTH - 20, PARAM_H)
            if label:
                painter.setPen(theme.pen(theme.TEXT_DIM))
                painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
                width = metrics.horizontalAdvance(label) + 8
                painter.setPen(theme.pen("#c4ccd9"))
                shown = metrics.elidedText(value, Qt.TextElideMode.ElideRight, rect.width() - width)
                painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, shown)
            else:
                painter.setPen(theme.pen(theme.TEXT_DIM))
                painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, value)
            y += PARAM_H


class StatusItem(QGraphicsItem):
    """The run-state strip at the bottom of a node: its own item, so a progress step repaints
    a few hundred pixels instead of re-rendering the whole cached node."""

    def __init__(self, node: NodeItem) -> None:
        super().__init__(node)
        self.node = node
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)  # until there is a state to show
        self._rect = QRectF()

    def place(self, node_height: float, collapsed: bool = False) -> None:
        self.prepareGeometryChange()
        if collapsed:  # a thin progress line along the bottom of the title bar
            self._rect = QRectF(6, node_height - 4, WIDTH - 12, 3)
        else:
            self._rect = QRectF(8, node_height - STATUS_H - PAD + 2, WIDTH - 16, STATUS_H - 4)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        node = self.node
        if not node.state or option.levelOfDetailFromTransform(painter.worldTransform()) < 0.35:
            return
        rect = self.boundingRect()
        col = theme.color(theme.STATE_COLORS.get(node.state, theme.TEXT_DIM))
        if node.collapsed:
            step, total = node.progress
            share = min(1.0, step / total) if node.state == "running" and total > 0 else 1.0
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(col))
            painter.drawRect(QRectF(rect.x(), rect.y(), rect.width() * share, rect.height()))
            return
        if node.state == "running":
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(theme.color("#14171e")))
            painter.drawRoundedRect(rect, 3, 3)
            step, total = node.progress
            if total > 0:
                done = QRectF(rect.x(), rect.y(), rect.width() * min(1.0, step / total), rect.height())
                painter.setBrush(QBrush(col))
                painter.drawRoundedRect(done, 3, 3)
        painter.setFont(theme.font(7.5, node.state == "failed"))
        painter.setPen(theme.pen(theme.TEXT) if node.state == "running" else theme.pen(col.name()))
        text = _metrics(theme.font(7.5)).elidedText(node.state_text or node.state,
                                                         Qt.TextElideMode.ElideRight, rect.width() - 8)
        painter.drawText(rect.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, text)
