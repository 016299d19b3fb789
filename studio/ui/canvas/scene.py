"""The canvas scene: keeps items in step with the graph and turns mouse gestures into edits."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from studio.graph import ChangeKind, Graph, GraphChange, Group, Link, compatible, driven_links
from studio.ui.canvas.collapse import META_KEY as COLLAPSED
from studio.ui.canvas.collapse import collapsed_ids
from studio.ui.canvas.items import GRID, IN, OUT, NodeItem
from studio.ui.canvas.linkdrag import LinkGesture
from studio.ui.canvas.links import GroupItem, LinkItem
from studio.ui.canvas.reroutes import META_KEY as REROUTES
from studio.ui.canvas.reroutes import RerouteItem, link_key, points_of, set_points
from studio.ui.canvas.run_states import RunStates
from studio.ui.shell import theme
from studio.ui.shell.session import EditSession


class GraphScene(QGraphicsScene):
    """Items for nodes, links and groups, rebuilt from GraphChange notifications."""

    message = Signal(str)  # for the status bar
    compatible_request = Signal(QPointF, str, str, str, str)  # pos, node id, port, direction, type
    rename_request = Signal(str, str)  # "node" | "group", id
    layout_changed = Signal()

    def __init__(self, session: EditSession) -> None:
        super().__init__()
        self.session = session
        self.nodes: dict[str, NodeItem] = {}
        self.links: dict[Link, LinkItem] = {}
        self.groups: dict[str, GroupItem] = {}
        self.reroutes: dict[Link, list[RerouteItem]] = {}
        self.snap = True
        self.link_gesture = LinkGesture(self)
        self.run_states = RunStates(self)
        self._group_drag: tuple[GroupItem, QPointF, QPointF, dict[str, QPointF]] | None = None
        self._insert_target: LinkItem | None = None
        self._resize: tuple[GroupItem, QPointF, object] | None = None
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(50)
        self._layout_timer.timeout.connect(self.layout_changed)
        self._mark_timer = QTimer(self)
        self._mark_timer.setSingleShot(True)
        self._mark_timer.timeout.connect(self._clear_marks)
        self.setSceneRect(QRectF(-50_000, -50_000, 100_000, 100_000))
        session.graph_changed.connect(self._on_change)
        self.rebuild()

    def _clear_marks(self) -> None:
        for item in self.nodes.values():
            item.clear_marks()

    def clear_marks_later(self, ms: int) -> None:
        """Leave a refused port's red ring up for ``ms``, then clear every port mark."""
        self._mark_timer.start(ms)

    # ---- graph -> items
    def rebuild(self) -> None:
        self.link_gesture.drag = None
        self.clear()
        self.nodes.clear()
        self.links.clear()
        self.groups.clear()
        self.reroutes.clear()
        graph = self.session.graph
        for node in graph.nodes.values():
            self._add_node(node.id)
        for link in graph.links:
            self._add_link(link)
        self._sync_groups()
        self.note_geometry()

    def _add_node(self, node_id: str) -> None:
        node = self.session.graph.nodes[node_id]
        item = NodeItem(node, self.session.registry.get(node.type))
        item.snap = self.snap
        item.set_collapsed(node_id in collapsed_ids(self.session.graph))
        self.nodes[node_id] = item
        self.addItem(item)

    def _sync_driven(self, node_id: str) -> None:
        """Driven number parameters get a socket on their node (the links into them need one to meet)."""
        item = self.nodes.get(node_id)
        graph = self.session.graph
        if item is None or item.spec is None or node_id not in graph.nodes:
            return  # (a node being removed loses its links after it left the graph)
        names = tuple(pspec.name for pspec, _ in driven_links(graph, node_id, item.spec))
        item.set_driven(names, graph.nodes[node_id])

    def _add_link(self, link: Link) -> None:
        src, dst = self.nodes.get(link.src), self.nodes.get(link.dst)
        if src is None or dst is None:
            return
        if dst.spec is not None and dst.spec.input(link.dst_port) is None:
            self._sync_driven(link.dst)
        item = LinkItem(link, src, dst)
        self.links[link] = item
        self.addItem(item)
        if points_of(self.session.graph, link):
            self._make_reroutes(link)

    # ---- reroute points
    def _make_reroutes(self, link: Link) -> None:
        for old in self.reroutes.pop(link, []):
            self.removeItem(old)
        item = self.links.get(link)
        if item is None:
            return
        dots = []
        for i, (x, y) in enumerate(points_of(self.session.graph, link)):
            dot = RerouteItem(link, i, QPointF(x, y), item.port_type)
            dot.on_moved = self._reroute_moved
            self.addItem(dot)
            dots.append(dot)
        if dots:
            self.reroutes[link] = dots
        item.set_via([d.pos() for d in dots])

    def _reroute_moved(self, dot: RerouteItem) -> None:
        item = self.links.get(dot.link)
        if item is not None:
            item.set_via([d.pos() for d in self.reroutes.get(dot.link, [])])

    def sync_collapsed(self) -> None:
        """Match collapsed nodes to the graph's meta (an edit, undo or redo changed it)."""
        ids = collapsed_ids(self.session.graph)
        for nid, item in self.nodes.items():
            if item.collapsed != (nid in ids):
                item.set_collapsed(nid in ids)

    def _reroutes_changed(self, old: object, new: object) -> None:
        """Remake the reroute items of the links whose entry in the reroute table changed."""
        old = old if isinstance(old, dict) else {}
        new = new if isinstance(new, dict) else {}
        changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        if not changed:
            return
        for link in [lk for lk in self.links if link_key(lk) in changed]:
            have = [(d.pos().x(), d.pos().y()) for d in self.reroutes.get(link, [])]
            if have != points_of(self.session.graph, link):  # not the dots a drag just put there
                self._make_reroutes(link)

    def add_reroute(self, link: Link, pos: QPointF) -> None:
        item = self.links[link]
        points = points_of(self.session.graph, link)
        points.insert(item.stretch_at(pos), (pos.x(), pos.y()))
        self.session.edit("Add reroute point", lambda g: set_points(g, link, points))

    def remove_reroutes(self, graph, dots: list[RerouteItem]) -> None:  # noqa: ANN001 (inside an edit)
        by_link: dict[Link, set[int]] = {}
        for dot in dots:
            by_link.setdefault(dot.link, set()).add(dot.index)
        for link, gone in by_link.items():
            kept = [p for i, p in enumerate(points_of(graph, link)) if i not in gone]
            set_points(graph, link, kept)

    def selected_reroutes(self) -> list[RerouteItem]:
        return [d for dots in self.reroutes.values() for d in dots if d.isSelected()]

    def _sync_groups(self) -> None:
        for item in self.groups.values():
            self.removeItem(item)
        self.groups = {}
        for group in self.session.graph.groups:
            item = GroupItem(group)
            self.groups[group.id] = item
            self.addItem(item)

    def _on_change(self, change: GraphChange) -> None:
        kind = change.kind
        if kind == ChangeKind.RESET:
            self.rebuild()
        elif kind == ChangeKind.NODE_ADDED and change.node_id:
            self._add_node(change.node_id)
            self.run_states.restore_item(change.node_id)  # an undone delete shows its result again
        elif kind == ChangeKind.NODE_REMOVED and change.node_id in self.nodes:
            self.removeItem(self.nodes.pop(change.node_id))
        elif kind == ChangeKind.NODE_CHANGED and change.node_id in self.nodes:
            item = self.nodes[change.node_id]
            item.sync(self.session.graph.nodes[change.node_id])
            if "param" in change.detail or "bypassed" in change.detail:
                self.mark_stale(change.node_id)  # its last result, and all made from it, no longer match
            if "bypassed" in change.detail:
                for link in item.links:
                    link.update()
        elif kind == ChangeKind.LINK_ADDED and change.link is not None:
            self._add_link(change.link)
            self.mark_stale(change.link.dst)
        elif kind == ChangeKind.LINK_REMOVED and change.link in self.links:
            for dot in self.reroutes.pop(change.link, []):
                self.removeItem(dot)
            item = self.links.pop(change.link)
            item.detach()
            self.removeItem(item)
            self._sync_driven(change.link.dst)
            self.mark_stale(change.link.dst)
        elif kind == ChangeKind.GROUP_CHANGED:
            self._sync_groups()
        elif kind == ChangeKind.META_CHANGED and change.detail.get("key") == COLLAPSED:
            self.sync_collapsed()
        elif kind == ChangeKind.META_CHANGED and change.detail.get("key") == REROUTES:
            self._reroutes_changed(change.detail.get("old"), change.detail.get("new"))
        self.note_geometry()

    def note_geometry(self) -> None:
        if not self._layout_timer.isActive():
            self._layout_timer.start()

    # ---- queries
    def selected_node_ids(self) -> list[str]:
        return [nid for nid, item in self.nodes.items() if item.isSelected()]

    def selected_links(self) -> list[Link]:
        return [link for link, item in self.links.items() if item.isSelected()]

    def selected_group_ids(self) -> list[str]:
        return [gid for gid, item in self.groups.items() if item.isSelected()]

    def select_nodes(self, node_ids: list[str]) -> None:
        self.clearSelection()
        for nid in node_ids:
            if nid in self.nodes:
                self.nodes[nid].setSelected(True)

    def nodes_rect(self, node_ids: list[str] | None = None) -> QRectF:
        rect = QRectF()
        for nid, item in self.nodes.items():
            if node_ids is None or nid in node_ids:
                rect = rect.united(item.sceneBoundingRect())
        if node_ids is None:
            for group in self.groups.values():
                rect = rect.united(group.sceneBoundingRect())
        return rect

    def nodes_in_group(self, group_id: str) -> list[str]:
        """The nodes a group frame holds: those whose centre lies inside it."""
        group = self.groups.get(group_id)
        if group is None:
            return []
        area = group.scene_rect()
        return [nid for nid, item in self.nodes.items() if area.contains(item.sceneBoundingRect().center())]

    def group_at(self, pos: QPointF) -> GroupItem | None:
        """The group whose title bar is under a scene point."""
        return next((g for g in self.groups.values() if g.in_header(pos)), None)

    def node_item_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos, Qt.ItemSelectionMode.IntersectsItemShape,
                               Qt.SortOrder.DescendingOrder, QTransform()):
            if isinstance(item, NodeItem):
                return item
        return None

    def port_reach(self) -> float:
        """How far from a port a click still grabs it: about 11 screen pixels at any zoom."""
        views = self.views()
        zoom = views[0].transform().m11() if views else 1.0
        return max(11.0, 11.0 / max(zoom, 0.05))

    def set_snap(self, on: bool) -> None:
        self.snap = on
        for item in self.nodes.values():
            item.snap = on

    def show_problems(self, problems: list) -> None:  # noqa: ANN001 ([Problem])
        """Badge the nodes that validation found problems on."""
        found: dict[str, list[str]] = {}
        for p in problems:
            if p.node_id:
                found.setdefault(p.node_id, []).append(f"{p.where}: {p.message}" if p.where else p.message)
        for nid, item in self.nodes.items():
            item.set_problems(found.get(nid, []))

    # ---- run state on the nodes (studio/ui/canvas/run_states.py)
    def apply_run_event(self, event: object, graph: Graph | None = None, draft: bool = False) -> None:
        """``graph``: the graph the run renders, with its RunStarted (the canvas may be edited meanwhile);
        ``draft``: it is the canvas's draft copy."""
        self.run_states.apply(event, graph, draft)

    def mark_stale(self, node_id: str) -> None:
        self.run_states.mark_stale(node_id)

    def clear_run_states(self) -> None:
        self.run_states.forget()

    # ---- gestures
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.scenePos()
            item = self.node_item_at(pos)
            port = item.port_at(pos, self.port_reach()) if item is not None else None
            if item is not None and port is not None:
                self.link_gesture.start(item, *port)
                event.accept()
                return
            if item is None:
                corner = next((g for g in self.groups.values() if g.in_corner(pos)), None)
                if corner is not None:
                    self._resize = (corner, pos, corner.boundingRect().adjusted(2, 2, -2, -2).size())
                    event.accept()
                    return
                group = next((g for g in self.groups.values() if g.in_header(pos)), None)
                if group is not None:
                    self._start_group_drag(group, pos, event)
                    event.accept()
                    return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self.link_gesture.drag is not None:
            self.link_gesture.move(event.scenePos())
            event.accept()
            return
        if self._group_drag is not None:
            self._move_group_drag(event.scenePos())
            event.accept()
            return
        if self._resize is not None:
            group, start, size = self._resize
            delta = event.scenePos() - start
            group.set_size(size.width() + delta.x(), size.height() + delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._track_insert_target()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self.link_gesture.drag is not None and event.button() == Qt.MouseButton.LeftButton:
            self.link_gesture.finish(event.scenePos())
            event.accept()
            return
        if self._group_drag is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_group_drag()
            event.accept()
            return
        if self._resize is not None and event.button() == Qt.MouseButton.LeftButton:
            group = self._resize[0]
            self._resize = None
            r = group.scene_rect()
            gid = group.group_id
            self.session.edit("Resize group", lambda g: g.set_groups(
                [Group(x.id, x.title, (r.x(), r.y(), r.width(), r.height()), x.color) if x.id == gid else x
                 for x in g.groups]))
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.commit_moves()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        pos = event.scenePos()
        item = self.node_item_at(pos)
        if item is not None and item.mapFromScene(pos).y() <= 26:
            self.rename_request.emit("node", item.node_id)
            return
        group = next((g for g in self.groups.values() if g.in_header(pos)), None)
        if item is None and group is not None:
            self.rename_request.emit("group", group.group_id)
            return
        if item is None:
            link = next((i for i in self.items(QRectF(pos.x() - 3, pos.y() - 3, 6, 6))
                         if isinstance(i, LinkItem)), None)
            if link is not None:
                self.add_reroute(link.link, pos)
                return
        super().mouseDoubleClickEvent(event)

    def cut_links(self, line: QLineF) -> list[Link]:
        """Disconnect every link the knife line crosses, as one undo step."""
        box = QRectF(line.p1(), line.p2()).normalized().adjusted(-2, -2, 2, 2)
        cut = []
        for item in self.items(box):
            if isinstance(item, LinkItem) and _crosses(item.sampled(), line):
                cut.append(item.link)
        if cut:
            self.session.edit(f"Cut {len(cut)} link(s)", lambda g: [g.disconnect(lk) for lk in cut if lk in g.links])
            self.message.emit(f"cut {len(cut)} link(s)")
        return cut

    # ---- moving nodes
    def commit_moves(self) -> None:
        """Turn positions the user dragged to into one undoable move (or a link insertion)."""
        graph = self.session.graph
        moves = {}
        for nid, item in self.nodes.items():
            node = graph.nodes.get(nid)
            pos = (item.pos().x(), item.pos().y())
            if node is not None and tuple(node.position) != pos:
                moves[nid] = (tuple(node.position), pos)
        target, self._insert_target = self._insert_target, None
        if target is not None:
            target.set_highlight(False)
        routes = {}
        for link, dots in self.reroutes.items():
            now = [(d.pos().x(), d.pos().y()) for d in dots]
            if now != points_of(graph, link):
                routes[link] = now
        if routes:
            def mutate(g):
                for nid, (_, new) in moves.items():
                    g.update_node(nid, position=new)
                for link, pts in routes.items():
                    set_points(g, link, pts)

            self.session.edit("Move", mutate)
            return
        if not moves:
            return
        if target is not None and len(moves) == 1:
            nid = next(iter(moves))
            if self._insert_on_link(nid, moves[nid][1], target.link):
                return
        self.session.move(moves)

    def _insertable(self, item: NodeItem, link: Link) -> tuple[str, str] | None:
        if item.links or link.src == item.node_id or link.dst == item.node_id:
            return None
        src_item, dst_item = self.nodes.get(link.src), self.nodes.get(link.dst)
        if src_item is None or dst_item is None:
            return None
        out_type, in_type = src_item.port_type(OUT, link.src_port), dst_item.port_type(IN, link.dst_port)
        inp = next((n for n, t, _ in item.inputs if compatible(out_type, t)), None)
        out = next((n for n, t, _ in item.outputs if compatible(t, in_type)), None)
        return (inp, out) if inp and out else None

    def _track_insert_target(self) -> None:
        moving = [item for item in self.nodes.values() if item.isSelected()]
        found = None
        if len(moving) == 1 and not moving[0].links:
            centre = moving[0].sceneBoundingRect().center()
            for other in self.items(QRectF(centre.x() - 24, centre.y() - 24, 48, 48)):
                if isinstance(other, LinkItem) and self._insertable(moving[0], other.link):
                    found = other
                    break
        if found is not self._insert_target:
            if self._insert_target is not None:
                self._insert_target.set_highlight(False)
            self._insert_target = found
            if found is not None:
                found.set_highlight(True)
                self.message.emit(f"release to insert '{moving[0].node_id}' into {found.link}")

    def _insert_on_link(self, nid: str, pos: tuple[float, float], link: Link) -> bool:
        ports = self._insertable(self.nodes[nid], link)
        if ports is None:
            return False
        inp, out = ports

        def mutate(graph):
            graph.update_node(nid, position=pos)
            graph.disconnect(link)
            graph.connect(link.src, link.src_port, nid, inp)
            graph.connect(nid, out, link.dst, link.dst_port)

        self.session.edit(f"Insert '{nid}' into link", mutate)
        return True

    # ---- group frames
    def _start_group_drag(self, group: GroupItem, pos: QPointF, event: QGraphicsSceneMouseEvent) -> None:
        if not (event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.clearSelection()
        group.setSelected(True)
        inside = {nid: self.nodes[nid].pos() for nid in self.nodes_in_group(group.group_id)}
        self._group_drag = (group, pos, group.pos(), inside)

    def _move_group_drag(self, pos: QPointF) -> None:
        assert self._group_drag is not None
        group, start, origin, inside = self._group_drag
        delta = pos - start
        if self.snap:
            delta = QPointF(round(delta.x() / GRID) * GRID, round(delta.y() / GRID) * GRID)
        group.setPos(origin + delta)
        for nid, p in inside.items():
            if nid in self.nodes:
                self.nodes[nid].set_position((p.x() + delta.x(), p.y() + delta.y()))

    def _finish_group_drag(self) -> None:
        assert self._group_drag is not None
        group, _, origin, inside = self._group_drag
        self._group_drag = None
        delta = group.pos() - origin
        if delta.isNull():
            return
        dx, dy = delta.x(), delta.y()
        gid = group.group_id

        def mutate(graph):
            groups = []
            for g in graph.groups:
                if g.id == gid:
                    x, y, w, h = g.rect
                    g = Group(g.id, g.title, (x + dx, y + dy, w, h), g.color)
                groups.append(g)
            graph.set_groups(groups)
            for nid, p in inside.items():
                if nid in graph.nodes:
                    graph.update_node(nid, position=(p.x() + dx, p.y() + dy))

        self.session.edit("Move group", mutate)

    # ---- background
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        views = self.views()
        if views:  # Qt may ask for far more than shows (the bounding box of scattered updates)
            rect = rect.intersected(views[0].mapToScene(views[0].viewport().rect()).boundingRect())
        painter.fillRect(rect, QBrush(theme.color(theme.CANVAS_BG)))
        # grid lines are axis-aligned hairlines: antialiasing only makes them slow (5 ms a frame)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        scale = painter.worldTransform().m11()
        steps = [(GRID * 5, theme.GRID_MAJOR)]
        if scale >= 0.55:
            steps.insert(0, (GRID, theme.GRID_MINOR))
        for step, colour in steps:
            left = int(rect.left() // step) * step
            top = int(rect.top() // step) * step
            lines = []
            x = left
            while x < rect.right():
                lines.append(QLineF(x, rect.top(), x, rect.bottom()))
                x += step
            y = top
            while y < rect.bottom():
                lines.append(QLineF(rect.left(), y, rect.right(), y))
                y += step
            painter.setPen(theme.pen(colour, 0))
            painter.drawLines(lines)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)


def _crosses(points: list[tuple[float, float]], line: QLineF) -> bool:
    """Whether a polyline crosses a segment."""
    for (xa, ya), (xb, yb) in zip(points, points[1:], strict=False):
        kind, _ = QLineF(xa, ya, xb, yb).intersects(line)
        if kind == QLineF.IntersectionType.BoundedIntersection:
            return True
    return False
