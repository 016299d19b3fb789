"""Canvas items around nodes: curved links, the link being dragged, and group frames."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from studio.graph import Group, Link
from studio.ui.canvas.items import IN, OUT, NodeItem
from studio.ui.shell import theme


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """A horizontal S-curve from an output (left end) to an input (right end)."""
    dx = max(40.0, abs(p2.x() - p1.x()) * 0.5)
    path = QPainterPath(p1)
    path.cubicTo(QPointF(p1.x() + dx, p1.y()), QPointF(p2.x() - dx, p2.y()), p2)
    return path


def sample(p1: QPointF, p2: QPointF) -> list[tuple[float, float]]:
    """Points along ``curve(p1, p2)``, dense enough to draw any stretch of it as a polyline."""
    x1, y1, x2, y2 = p1.x(), p1.y(), p2.x(), p2.y()
    dx = max(40.0, abs(x2 - x1) * 0.5)
    cx1, cx2 = x1 + dx, x2 - dx
    n = max(8, min(96, int((abs(x2 - x1) + abs(y2 - y1)) / 16)))
    pts = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        pts.append((a * x1 + b * cx1 + c * cx2 + d * x2, (a + b) * y1 + (c + d) * y2))
    return pts


class LinkItem(QGraphicsPathItem):
    """A link between an output port and an input port; its path is rebuilt only when a node moves."""

    def __init__(self, link: Link, src: NodeItem, dst: NodeItem) -> None:
        super().__init__()
        self.link = link
        self.src, self.dst = src, dst
        self.port_type = src.port_type(OUT, link.src_port)
        self.highlight = False
        self._shape: QPainterPath | None = None
        self._points: list[tuple[float, float]] = []
        self._chunks: list[tuple[float, float, float, float, int, int]] = []
        self._segments: list[int] = []  # for each sampled point, the stretch (between reroutes) it is on
        self.via: list[QPointF] = []  # reroute points the link passes through
        self.setZValue(0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)  # for exposedRect
        self.setToolTip(f"{link}  ({self.port_type})")
        src.links.append(self)
        dst.links.append(self)
        self.update_path()

    def detach(self) -> None:
        for end in (self.src, self.dst):
            if self in end.links:
                end.links.remove(self)

    def set_via(self, points: list[QPointF]) -> None:
        self.via = list(points)
        self.update_path()

    def update_path(self) -> None:
        self._shape = None
        stops = [self.src.port_scene_pos(OUT, self.link.src_port), *self.via,
                 self.dst.port_scene_pos(IN, self.link.dst_port)]
        path = QPainterPath(stops[0])
        points: list[tuple[float, float]] = []
        segments: list[int] = []
        for i in range(len(stops) - 1):
            path.connectPath(curve(stops[i], stops[i + 1]))
            part = sample(stops[i], stops[i + 1])
            points.extend(part if i == 0 else part[1:])
            segments.extend([i] * (len(part) if i == 0 else len(part) - 1))
        self._points, self._segments = points, segments
        # boxes around runs of 8 segments: a paint skips the runs outside what it must draw
        self._chunks = []
        for start in range(0, len(points) - 1, 8):
            part = points[start:start + 9]
            xs, ys = [p[0] for p in part], [p[1] for p in part]
            self._chunks.append((min(xs), min(ys), max(xs), max(ys), start, start + len(part) - 1))
        self.setPath(path)

    def sampled(self) -> list[tuple[float, float]]:
        """Points along the drawn curve, for hit tests."""
        return self._points

    def stretch_at(self, pos: QPointF) -> int:
        """Which stretch between reroute points lies nearest to ``pos`` (where a new point goes)."""
        best, index = float("inf"), 0
        for (x, y), seg in zip(self._points, self._segments, strict=True):
            d = (x - pos.x()) ** 2 + (y - pos.y()) ** 2
            if d < best:
                best, index = d, seg
        return index

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
        colour = theme.port_hex(self.port_type)
        if self.isSelected() or self.highlight:
            painter.setPen(theme.pen(theme.SELECTED if self.isSelected() else "#ffffff", 4.0))
        elif self.src.bypassed or self.dst.bypassed:
            painter.setPen(theme.pen(colour, 2.0, Qt.PenStyle.DashLine))
        else:
            painter.setPen(theme.pen(colour, 2.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        view = widget.parentWidget() if widget is not None else None
        if getattr(view, "moving", False):  # panning or zooming: speed now, smoothness when it rests
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.drawPath(self.path())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            return
        exposed = option.exposedRect
        if exposed.contains(self.boundingRect()):
            painter.drawPath(self.path())
            return
        # Panning exposes thin strips: stroke only the stretches of the curve inside them.
        # A long curve costs as much to stroke clipped as whole, and most links cross a strip.
        left, top = exposed.left() - 4, exposed.top() - 4
        right, bottom = exposed.right() + 4, exposed.bottom() + 4
        pts = self._points
        run: list[QPointF] = []
        last = -1  # index of the last point in ``run``
        for x0, y0, x1, y1, start, end in self._chunks:
            if x0 > right or x1 < left or y0 > bottom or y1 < top:
                continue
            for i in range(start, end):
                (xa, ya), (xb, yb) = pts[i], pts[i + 1]
                if (min(xa, xb) <= right and max(xa, xb) >= left and min(ya, yb) <= bottom
                        and max(ya, yb) >= top):
                    if run and last != i:
                        painter.drawPolyline(QPolygonF(run))
                        run = []
                    if not run:
                        run.append(QPointF(xa, ya))
                    run.append(QPointF(xb, yb))
                    last = i + 1
        if run:
            painter.drawPolyline(QPolygonF(run))


class DragLinkItem(QGraphicsPathItem):
    """The loose link following the cursor while the user drags from a port."""

    def __init__(self, anchor: QPointF, direction: str, port_type: str) -> None:
        super().__init__()
        self.anchor, self.direction = anchor, direction
        self.setZValue(5)
        self.setPen(theme.pen(theme.port_hex(port_type), 2.4, Qt.PenStyle.DashLine))

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
        self._set_rect(QRectF(0, 0, w, h))
        base = QColor(group.color)
        self._fill = QColor(base.red(), base.green(), base.blue(), 70)
        self._head = QColor(base.red(), base.green(), base.blue(), 190)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect.adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(0, 0, self._rect.width(), self.HEADER))  # only the title bar is grabbable
        path.addRect(QRectF(self._rect.width() - 14, self._rect.height() - 14, 14, 14))  # and the corner
        return path

    def in_corner(self, scene_pos: QPointF) -> bool:
        local = self.mapFromScene(scene_pos)
        return abs(local.x() - self._rect.width()) <= 14 and abs(local.y() - self._rect.height()) <= 14

    def set_size(self, width: float, height: float) -> None:
        self.prepareGeometryChange()
        self._set_rect(QRectF(0, 0, max(120.0, width), max(80.0, height)))
        self.update()

    def _set_rect(self, rect: QRectF) -> None:
        """The frame and its title bar's outline, made here rather than at every paint."""
        self._rect = rect
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, rect.width(), self.HEADER + 8), 8, 8)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, rect.width(), self.HEADER))
        self._head_path = path.intersected(clip)

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
        painter.drawPath(self._head_path)
        f = theme.font(10.0, True)
        painter.setFont(f)
        painter.setPen(theme.pen(theme.TEXT))
        text = QFontMetricsF(f).elidedText(self.title, Qt.TextElideMode.ElideRight, self._rect.width() - 20)
        painter.drawText(QRectF(10, 0, self._rect.width() - 20, self.HEADER), Qt.AlignmentFlag.AlignVCenter, text)
        w, h = self._rect.width(), self._rect.height()
        painter.setPen(theme.pen(theme.TEXT_DIM, 1.5))
        for k in (6, 11):  # the resize grip
            painter.drawLine(QPointF(w - k, h - 3), QPointF(w - 3, h - k))
