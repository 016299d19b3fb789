"""Reroute points: dots a link passes through, to tidy long links. Kept in the graph's meta."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from studio.graph import Graph, Link
from studio.ui.shell import theme

META_KEY = "reroutes"  # graph.meta["reroutes"]["src.port>dst.port"] = [[x, y], ...]
RADIUS = 6.0


def link_key(link: Link) -> str:
    """A link's key in the reroute table."""
    return f"{link.src}.{link.src_port}>{link.dst}.{link.dst_port}"


def points_of(graph: Graph, link: Link) -> list[tuple[float, float]]:
    raw = graph.meta.get(META_KEY, {})
    value = raw.get(link_key(link), []) if isinstance(raw, dict) else []
    return [(float(p[0]), float(p[1])) for p in value
            if isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(v, int | float) for v in p)]


def set_points(graph: Graph, link: Link, points: list[tuple[float, float]]) -> None:
    """Store the reroutes of one link (inside an edit); drops entries of links that are gone."""
    table: dict[str, Any] = dict(graph.meta.get(META_KEY, {}) or {})
    live = {link_key(lk) for lk in graph.links}
    table = {k: v for k, v in table.items() if k in live}
    if points:
        table[link_key(link)] = [[round(x, 2), round(y, 2)] for x, y in points]
    else:
        table.pop(link_key(link), None)
    if (table or None) != graph.meta.get(META_KEY):
        graph.set_meta(META_KEY, table or None)


class RerouteItem(QGraphicsItem):
    """One reroute point of a link: drag it to move, select it and press Delete to remove it."""

    def __init__(self, link: Link, index: int, pos: QPointF, port_type: str) -> None:
        super().__init__()
        self.on_moved = None  # set by the scene: redraw the link while dragging
        self.link, self.index = link, index
        self.colour = theme.port_hex(port_type)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setZValue(2)
        self.setPos(pos)
        self.setToolTip("reroute point: drag to move, Delete to remove")

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        r = RADIUS + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), RADIUS + 2, RADIUS + 2)
        return path

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged and self.on_moved is not None:
            self.on_moved(self)
        return super().itemChange(change, value)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(theme.pen(theme.SELECTED if self.isSelected() else "#0c0e12", 2.0))
        painter.setBrush(QBrush(theme.color(self.colour)))
        painter.drawEllipse(QPointF(0, 0), RADIUS, RADIUS)
        painter.setBrush(Qt.BrushStyle.NoBrush)
