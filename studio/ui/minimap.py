"""An overview of the whole graph in a corner of the canvas; click or drag it to move there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from studio.ui import theme

if TYPE_CHECKING:
    from studio.ui.view import GraphView

SHOW_FROM = 8  # nodes; small graphs need no overview


class Minimap(QWidget):
    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self.view = view
        self.wanted = True
        self.resize(220, 150)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._rects: list[tuple[QRectF, QColor]] = []
        self._world = QRectF()
        view.graph_scene.layout_changed.connect(self.refresh)
        self.hide()

    def place(self) -> None:
        parent = self.view.viewport()
        self.move(parent.width() - self.width() - 12, parent.height() - self.height() - 12)

    def set_wanted(self, on: bool) -> None:
        self.wanted = on
        self.refresh()

    def refresh(self) -> None:
        scene = self.view.graph_scene
        self._rects = [(item.sceneBoundingRect(), theme.category_color(item.spec.category if item.spec else ""))
                       for item in scene.nodes.values()]
        self._world = scene.nodes_rect()
        visible = self.wanted and len(self._rects) >= SHOW_FROM
        self.setVisible(visible)
        if visible:
            self.place()
            self.update()

    def _mapping(self) -> tuple[float, QPointF, QRectF]:
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        world = self._world.united(visible).adjusted(-40, -40, 40, 40)
        inner = QRectF(self.rect()).adjusted(6, 6, -6, -6)
        scale = min(inner.width() / max(world.width(), 1.0), inner.height() / max(world.height(), 1.0))
        offset = QPointF(inner.center().x() - world.center().x() * scale,
                         inner.center().y() - world.center().y() * scale)
        return scale, offset, visible

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setPen(theme.pen("#3a4252"))
        painter.setBrush(QBrush(QColor(20, 23, 30, 215)))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        scale, offset, visible = self._mapping()

        def to_map(r: QRectF) -> QRectF:
            return QRectF(r.x() * scale + offset.x(), r.y() * scale + offset.y(), r.width() * scale,
                          r.height() * scale)

        painter.setPen(Qt.PenStyle.NoPen)
        for rect, colour in self._rects:
            painter.setBrush(QBrush(colour))
            painter.drawRect(to_map(rect))
        painter.setBrush(QBrush(QColor(79, 143, 230, 40)))
        painter.setPen(theme.pen("#4f8fe6", 1.2))
        painter.drawRect(to_map(visible))

    def _go(self, event: QMouseEvent) -> None:
        scale, offset, _ = self._mapping()
        p = event.position()
        self.view.centerOn(QPointF((p.x() - offset.x()) / scale, (p.y() - offset.y()) / scale))
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._go(event)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event)
        event.accept()
