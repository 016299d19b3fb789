"""An overview of the whole graph in a corner of the canvas; click or drag it to move there."""

# It is painted by the view as foreground, not as a child widget: a widget over the viewport
# would stop Qt from scrolling the viewport's pixels when panning (every pan would repaint all).

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsView

from studio.ui.canvas.scene import GraphScene
from studio.ui.shell import theme

SHOW_FROM = 8  # nodes; small graphs need no overview
SIZE = (220, 150)
MARGIN = 12


class Minimap:
    """Drawn over ``view``'s viewport; shows ``scene``'s nodes; a click calls ``look_at`` with a scene point."""

    def __init__(self, view: QGraphicsView, scene: GraphScene, look_at: Callable[[QPointF], None]) -> None:
        self.view, self.scene, self.look_at = view, scene, look_at
        self.wanted = True
        self.visible = False
        self._nodes = QPixmap()  # the node layer, redrawn only when the layout changes
        self._world = QRectF()
        self._frame = QRectF()
        self._scale = 1.0
        self._offset = QPointF()
        scene.layout_changed.connect(self.refresh)

    def rect(self) -> QRect:
        vp = self.view.viewport()
        w, h = SIZE
        return QRect(vp.width() - w - MARGIN, vp.height() - h - MARGIN, w, h)

    def isVisible(self) -> bool:  # noqa: N802 (reads like the widget it replaces)
        """Shown for larger graphs, and only while part of the graph is out of view."""
        if not self.visible:
            return False
        view = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return not view.contains(self._world)

    def set_wanted(self, on: bool) -> None:
        self.wanted = on
        self.refresh()

    def update(self) -> None:
        if self.visible:  # also when it just went out of sight, to erase it
            self.view.viewport().update(self.rect().adjusted(-2, -2, 2, 2))

    def refresh(self) -> None:
        scene = self.scene
        was = self.visible
        self.visible = self.wanted and len(scene.nodes) >= SHOW_FROM
        self._world = scene.nodes_rect()
        if self.visible:
            self._render_nodes()
        if self.visible or was:
            self.view.viewport().update(self.rect().adjusted(-2, -2, 2, 2))

    def _render_nodes(self) -> None:
        scene = self.scene
        w, h = SIZE
        ratio = self.view.devicePixelRatioF()
        pixmap = QPixmap(round(w * ratio), round(h * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        self._frame = self._world.adjusted(-80, -80, 80, 80)
        inner = QRectF(6, 6, w - 12, h - 12)
        frame = self._frame
        self._scale = min(inner.width() / max(frame.width(), 1.0), inner.height() / max(frame.height(), 1.0))
        self._offset = QPointF(inner.center().x() - frame.center().x() * self._scale,
                               inner.center().y() - frame.center().y() * self._scale)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(theme.pen("#3a4252"))
        painter.setBrush(QBrush(QColor(20, 23, 30, 225)))
        painter.drawRoundedRect(QRectF(0.5, 0.5, w - 1, h - 1), 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        for item in scene.nodes.values():
            painter.setBrush(QBrush(theme.category_color(item.spec.category if item.spec else "")))
            painter.drawRect(self._to_map(item.sceneBoundingRect()))
        painter.end()
        self._nodes = pixmap

    def _to_map(self, r: QRectF) -> QRectF:
        s, o = self._scale, self._offset
        return QRectF(r.x() * s + o.x(), r.y() * s + o.y(), r.width() * s, r.height() * s)

    def paint(self, painter: QPainter) -> None:
        """Draw in viewport coordinates (the caller has reset the transform)."""
        if not self.isVisible():
            return
        box = self.rect()
        painter.drawPixmap(box.topLeft(), self._nodes)
        view = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        shown = self._to_map(view).translated(box.x(), box.y()).intersected(QRectF(box).adjusted(1, 1, -1, -1))
        painter.setBrush(QBrush(QColor(79, 143, 230, 40)))
        painter.setPen(theme.pen("#4f8fe6", 1.2))
        painter.drawRect(shown)

    def contains(self, pos: QPoint) -> bool:
        return self.isVisible() and self.rect().contains(pos)

    def navigate(self, pos: QPointF) -> None:
        box = self.rect()
        x, y = pos.x() - box.x(), pos.y() - box.y()
        self.look_at(QPointF((x - self._offset.x()) / self._scale, (y - self._offset.y()) / self._scale))
        self.update()
