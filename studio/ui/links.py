"""Canvas items around nodes: curved links, the link being dragged, and group frames."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from studio.graph import Group, Link
from studio.ui import theme
from studio.ui.items import IN, OUT, NodeItem


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """A horizontal S-curve from an output (left end) to an input (right end)."""
    dx = max(40.0, abs(p2.x() - p1.x()) * 0.5)
    path = QPainterPath(p1)
    path.cubicTo(QPointF(p1.x() + dx, p1.y()), QPointF(p2.x() - dx, p2.y()), p2)
    return path


class LinkItem(QGraphicsPathItem):
    """A link between an output port and an input port; its path is rebuilt only when a node moves."""

    def __init__(self, link: Link, src: NodeItem, dst: NodeItem) -> None:
        super().__init__()
        self.link = link
        self.src, self.dst = src, dst
        self.port_type = src.port_type(OUT, link.src_port)
        self.highlight = False
        self._shape: QPainterPath | None = None
        self.setZValue(0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setToolTip(f"{link}  ({self.port_type})")
        src.links.append(self)
        dst.links.append(self)
        self.update_path()

    def detach(self) -> None:
        for end in (self.src, self.dst):
            if self in end.links:
                end.links.remove(self)

    def update_path(self) -> None:
        self._shape = None
        self.setPath(curve(self.src.port_scene_pos(OUT, self.link.src_port),
                           self.dst.port_scene_pos(IN, self.link.dst_port)))

    def set_highlight(self, on: bool) -> None:
        if on != self.highlight:
            self.highlight = on
            self.update()

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self.path())
        return self._shape

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        colour = theme.PORT_COLORS.get(self.port_type, "#c0c0c0")
        if self.isSelected() or self.highlight:
            painter.setPen(theme.pen(theme.SELECTED if self.isSelected() else "#ffffff", 4.0))
        elif self.src.bypassed or self.dst.bypassed:
            painter.setPen(theme.pen(colour, 2.0, Qt.PenStyle.DashLine))
        else:
            painter.setPen(theme.pen(colour, 2.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())


class DragLinkItem(QGraphicsPathItem):
    """The loose link following the cursor while the user drags from a port."""

    def __init__(self, anchor: QPointF, direction: str, port_type: str) -> None:
        super().__init__()
        self.anchor, self.direction = anchor, direction
        self.setZValue(5)
        self.setPen(theme.pen(theme.PORT_COLORS.get(port_type, "#c0c0c0"), 2.4, Qt.PenStyle.DashLine))

    def follow(self, pos: QPointF) -> None:
        if self.direction == OUT:
            self.setPath(curve(self.anchor, pos))
        else:
            self.setPath(curve(pos, self.anchor))


class GroupItem(QGraphicsItem):
    """A labelled frame behind nodes; dragging its title bar moves it with the nodes inside."""

    HEADER = 26.0

    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group_id = group.id
        self.setZValue(-10)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.sync(group)

    def sync(self, group: Group) -> None:
        self.prepareGeometryChange()
        self.title = group.title
        x, y, w, h = group.rect
        self.setPos(x, y)
        self._rect = QRectF(0, 0, w, h)
        base = QColor(group.color)
        self._fill = QColor(base.red(), base.green(), base.blue(), 70)
        self._head = QColor(base.red(), base.green(), base.blue(), 190)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect.adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(0, 0, self._rect.width(), self.HEADER))  # only the title bar is grabbable
        return path

    def in_header(self, scene_pos: QPointF) -> bool:
        local = self.mapFromScene(scene_pos)
        return 0 <= local.x() <= self._rect.width() and 0 <= local.y() <= self.HEADER

    def scene_rect(self) -> QRectF:
        return self.mapRectToScene(self._rect)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(theme.pen(theme.SELECTED, 2.0) if self.isSelected() else Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(self._fill))
        painter.drawRoundedRect(self._rect, 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(self._head))
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, self._rect.width(), self.HEADER + 8), 8, 8)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, self._rect.width(), self.HEADER))
        painter.drawPath(path.intersected(clip))
        f = theme.font(10.0, True)
        painter.setFont(f)
        painter.setPen(theme.pen(theme.TEXT))
        text = QFontMetricsF(f).elidedText(self.title, Qt.TextElideMode.ElideRight, self._rect.width() - 20)
        painter.drawText(QRectF(10, 0, self._rect.width() - 20, self.HEADER), Qt.AlignmentFlag.AlignVCenter, text)
