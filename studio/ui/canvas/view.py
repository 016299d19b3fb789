"""The canvas view: zoom to cursor, pan, framing, the minimap, the node search and file drops."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsLineItem, QGraphicsView, QWidget

from studio.graph import NodeSpec
from studio.ui.canvas.minimap import Minimap
from studio.ui.canvas.scene import GraphScene
from studio.ui.canvas.search import NodeFinder, NodeSearch
from studio.ui.shell import theme

MIN_SCALE, MAX_SCALE = 0.08, 4.0
EMPTY_HINT = ("Press Tab or double-click to add a node\n"
              "Drop an image, a sound or a .studio.json here\n"
              "File ▸ Examples opens a ready-made graph")


def _shift_as_ctrl(event: QMouseEvent) -> QMouseEvent:
    """Shift-click adds to the selection, as ctrl-click does in Qt."""
    if not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
        return event
    return QMouseEvent(event.type(), event.position(), event.scenePosition(), event.globalPosition(),
                       event.button(), event.buttons(),
                       (event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier) | Qt.KeyboardModifier.ControlModifier)


class GraphView(QGraphicsView):
    """Shows a GraphScene; owns navigation. Editing gestures live in the scene."""

    files_dropped = Signal(list, QPointF)  # [Path], scene position
    node_chosen = Signal(object, QPointF, object)  # NodeSpec, scene position, link request | None
    context_menu_requested = Signal(QPoint, QPointF)  # global position, scene position
    zoom_changed = Signal(float)

    def __init__(self, scene: GraphScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.graph_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        # no background cache: a diagonal pan would redraw the whole cached grid; drawn directly,
        # only the exposed strips are filled
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setAcceptDrops(True)
        # the view paints every pixel: Qt may then scroll pixels when panning instead of repainting
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPoint | None = None
        self._minimap_drag = False
        self._knife: QGraphicsLineItem | None = None  # ctrl + right-drag cuts the links it crosses
        # While the view moves, links are drawn without antialiasing (30x cheaper for a long
        # curve); once it rests, one repaint draws them smooth again.
        self.moving = False
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(120)
        self._settle.timeout.connect(self._rest)
        self._edge = QPoint()  # while dragging near an edge, the view scrolls that way
        self._edge_timer = QTimer(self)
        self._edge_timer.setInterval(16)
        self._edge_timer.timeout.connect(lambda: self.pan_by(self._edge))
        self._space = False
        self.minimap = Minimap(self, self.graph_scene, self.look_at)
        self.search = NodeSearch(self)
        self.search.chosen.connect(self._on_search_chosen)
        self.finder = NodeFinder(self)
        self.finder.found.connect(self.go_to_node)
        self._search_pos = QPointF()
        self._search_link: tuple[str, str, str] | None = None
        # What the view last framed, until the person pans or zooms: a resize (the timeline docking in
        # under a graph just opened, a window resized) frames it again instead of cutting it off.
        self._framed: QRectF | None = None
        scene.compatible_request.connect(self._offer_compatible)
        self.centerOn(0, 0)

    # ---- navigation
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_at(self, factor: float, anchor: QPoint | None = None) -> None:
        """Scale by ``factor`` keeping the scene point under ``anchor`` (view coords) in place."""
        target = max(MIN_SCALE, min(MAX_SCALE, self.zoom * factor))
        factor = target / self.zoom
        self._framed = None
        if abs(factor - 1.0) < 1e-6:
            return
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        self._moved()
        before = self.mapToScene(anchor)
        self.scale(factor, factor)
        after = self.mapFromScene(before)
        self.pan_by(after - anchor)
        self.minimap.update()
        self.zoom_changed.emit(self.zoom)

    def _moved(self) -> None:
        self.moving = True
        self._settle.start()

    def _rest(self) -> None:
        self.moving = False
        self.viewport().update()

    def pan_by(self, delta: QPoint) -> None:
        self._framed = None
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + delta.x())
        v.setValue(v.value() + delta.y())

    def frame_rect(self, rect: QRectF) -> None:
        self._framed = QRectF(rect)
        if rect.isNull() or rect.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = rect.adjusted(-60, -60, 60, 60)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom > 1.25:
            self.resetTransform()
            self.scale(1.25, 1.25)
        elif self.zoom < MIN_SCALE:
            self.resetTransform()
            self.scale(MIN_SCALE, MIN_SCALE)
        self.centerOn(rect.center())
        self.minimap.update()
        self.zoom_changed.emit(self.zoom)

    def frame_all(self) -> None:
        self.frame_rect(self.graph_scene.nodes_rect())

    def frame_selected(self) -> None:
        ids = self.graph_scene.selected_node_ids()
        self.frame_rect(self.graph_scene.nodes_rect(ids) if ids else self.graph_scene.nodes_rect())

    def cursor_scene_pos(self) -> QPointF:
        pos = self.viewport().mapFromGlobal(self.cursor().pos())
        if not self.viewport().rect().contains(pos):
            pos = self.viewport().rect().center()
        return self.mapToScene(pos)

    # ---- node search
    def open_search(self, scene_pos: QPointF | None = None,
                    candidates: list[tuple[NodeSpec, str]] | None = None,
                    link: tuple[str, str, str] | None = None) -> None:
        """Show the search box at a scene point; ``candidates`` limits it to compatible types."""
        self._search_pos = scene_pos if scene_pos is not None else self.cursor_scene_pos()
        self._search_link = link
        specs = [spec for spec, _ in candidates] if candidates is not None else list(self.graph_scene.session.registry)
        self._search_ports = {spec.type_id: port for spec, port in candidates} if candidates is not None else {}
        at = self.mapFromScene(self._search_pos)
        self.search.open_at(at, specs)

    def open_finder(self) -> None:
        graph, registry = self.graph_scene.session.graph, self.graph_scene.session.registry
        nodes = []
        for nid, node in graph.nodes.items():
            spec = registry.get(node.type)
            nodes.append((nid, node.title or (spec.title if spec else node.type), node.type))
        self.finder.open_nodes(QPoint(20, 20), nodes)

    def look_at(self, point: QPointF) -> None:
        """Centre the view on a scene point the person chose (a resize then keeps it, not a frame)."""
        self._framed = None
        self.centerOn(point)

    def go_to_node(self, node_id: str) -> None:
        item = self.graph_scene.nodes.get(node_id)
        if item is not None:
            self.graph_scene.select_nodes([node_id])
            self.look_at(item.sceneBoundingRect().center())
            self.minimap.update()
            self.setFocus()

    def _offer_compatible(self, pos: QPointF, node_id: str, port: str, direction: str, port_type: str) -> None:
        registry = self.graph_scene.session.registry
        found = registry.compatible_with(port_type, "output" if direction == "out" else "input")
        if not found:
            self.graph_scene.message.emit(f"no node type can take a {port_type} {'output' if direction == 'out' else 'input'}")
            return
        self.open_search(pos, found, (node_id, port, direction))

    def _on_search_chosen(self, spec: NodeSpec) -> None:
        link = None
        if self._search_link is not None:
            node_id, port, direction = self._search_link
            link = (node_id, port, direction, self._search_ports.get(spec.type_id, ""))
        self._search_link = None
        self.node_chosen.emit(spec, self._search_pos, link)
        self.setFocus()

    # ---- events
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab:  # Tab opens search, not focus
            self.open_search()
            return True
        return super().event(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt's name)
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_at(1.0015 ** delta, event.position().toPoint())
        event.accept()

    def _start_pan(self, event: QMouseEvent) -> bool:
        middle = event.button() == Qt.MouseButton.MiddleButton
        if middle or (event.button() == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return True
        return False

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        for box in (self.search, self.finder):
            if box.isVisible():
                box.hide()
        if event.button() == Qt.MouseButton.LeftButton and self.minimap.contains(event.position().toPoint()):
            self._minimap_drag = True
            self.minimap.navigate(event.position())
            event.accept()
            return
        if self._start_pan(event):
            event.accept()
            return
        if (event.button() == Qt.MouseButton.RightButton
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            start = self.mapToScene(event.position().toPoint())
            self._knife = QGraphicsLineItem(QLineF(start, start))
            self._knife.setPen(theme.pen(theme.REFUSED, 0, Qt.PenStyle.DashLine))
            self._knife.setZValue(10)
            self.graph_scene.addItem(self._knife)
            event.accept()
            return
        super().mousePressEvent(_shift_as_ctrl(event))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._minimap_drag:
            self.minimap.navigate(event.position())
            event.accept()
            return
        if self._knife is not None:
            line = self._knife.line()
            self._knife.setLine(QLineF(line.p1(), self.mapToScene(event.position().toPoint())))
            event.accept()
            return
        if self._pan_from is not None:
            now = event.position().toPoint()
            self.pan_by(self._pan_from - now)
            self._pan_from = now
            self.minimap.update()
            event.accept()
            return
        self._edge_scroll(event)
        super().mouseMoveEvent(event)

    def _edge_scroll(self, event: QMouseEvent) -> None:
        """Dragging a node, a link or a selection box near an edge scrolls the view that way
        (Qt replays the drag as the view scrolls, so what is dragged stays under the cursor)."""
        if not event.buttons() & Qt.MouseButton.LeftButton:
            self._edge_timer.stop()
            return
        pos, rect, margin, step = event.position().toPoint(), self.viewport().rect(), 24, 12
        dx = -step if pos.x() < margin else step if pos.x() > rect.width() - margin else 0
        dy = -step if pos.y() < margin else step if pos.y() > rect.height() - margin else 0
        self._edge = QPoint(dx, dy)
        if dx or dy:
            if not self._edge_timer.isActive():
                self._edge_timer.start()
        else:
            self._edge_timer.stop()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._edge_timer.stop()
        if self._minimap_drag:
            self._minimap_drag = False
            event.accept()
            return
        if self._knife is not None and event.button() == Qt.MouseButton.RightButton:
            knife, self._knife = self._knife, None
            self.graph_scene.removeItem(knife)
            self.graph_scene.cut_links(knife.line())
            event.accept()
            return
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton,
                                                             Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(_shift_as_ctrl(event))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and not self.items(event.position().toPoint()):
            self.open_search(pos)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # ctrl + right is the knife
            event.accept()
            return
        self.context_menu_requested.emit(event.globalPos(), self.mapToScene(event.pos()))
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if key == Qt.Key.Key_F and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.frame_selected()
            else:
                self.frame_all()
            return
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down) and self._nudge(key, event):
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            return
        super().keyReleaseEvent(event)

    def _nudge(self, key: int, event: QKeyEvent) -> bool:
        """Arrow keys move the selection by a grid step; a run of nudges is one undo step."""
        scene = self.graph_scene
        ids = scene.selected_node_ids()
        if not ids:
            return False
        step = 1.0 if event.modifiers() & Qt.KeyboardModifier.AltModifier else 20.0
        dx = {Qt.Key.Key_Left: -step, Qt.Key.Key_Right: step}.get(key, 0.0)
        dy = {Qt.Key.Key_Up: -step, Qt.Key.Key_Down: step}.get(key, 0.0)
        graph = scene.session.graph
        moves = {nid: (graph.nodes[nid].position,
                       (graph.nodes[nid].position[0] + dx, graph.nodes[nid].position[1] + dy)) for nid in ids}
        scene.session.move(moves, mergeable=True)
        return True

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001
        super().resizeEvent(event)
        if self._framed is not None:
            self.frame_rect(self._framed)
        self.search.keep_inside()
        self.finder.keep_inside()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if self.minimap.isVisible():
            painter.save()
            painter.resetTransform()
            self.minimap.paint(painter)
            painter.restore()
        if not self.graph_scene.nodes:
            painter.save()
            painter.resetTransform()
            painter.setFont(theme.font(11.0))
            painter.setPen(theme.pen(theme.TEXT_DIM))
            painter.drawText(QRectF(self.viewport().rect()), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)
            painter.restore()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        self._moved()
        super().scrollContentsBy(dx, dy)
        self.minimap.update()  # it stays put while the scene scrolls under it

    # ---- file drops
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802, ANN001
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.files_dropped.emit([Path(u.toLocalFile()) for u in urls],
                                    self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
            return
        super().dropEvent(event)
