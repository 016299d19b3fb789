"""Dragging a link from a port: compatible ports ringed, refusals shown, drops turned into edits."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QPointF, QRectF, SignalInstance
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView

from studio.graph import Link, check_link, compatible
from studio.ui.canvas.items import IN, OUT, NodeItem
from studio.ui.canvas.links import DragLinkItem
from studio.ui.shell.session import EditSession


class DragScene(Protocol):
    """What the gesture needs of the scene it works on (GraphScene)."""

    session: EditSession
    nodes: dict[str, NodeItem]
    links: dict[Link, QGraphicsItem]
    message: SignalInstance
    compatible_request: SignalInstance

    def addItem(self, item: QGraphicsItem) -> None: ...  # noqa: N802 (Qt's names)
    def removeItem(self, item: QGraphicsItem) -> None: ...  # noqa: N802
    def views(self) -> list[QGraphicsView]: ...
    def items(self, area: QRectF) -> list[QGraphicsItem]: ...
    def sceneRect(self) -> QRectF: ...  # noqa: N802
    def node_item_at(self, pos: QPointF) -> NodeItem | None: ...
    def port_reach(self) -> float: ...
    def clear_marks_later(self, ms: int) -> None: ...


class LinkDrag:
    """A link being dragged from a port."""

    def __init__(self, item: NodeItem, direction: str, port: str, detached: Link | None) -> None:
        self.item, self.direction, self.port, self.detached = item, direction, port, detached
        self.port_type = item.port_type(direction, port)
        self.line = DragLinkItem(item.port_scene_pos(direction, port), direction, self.port_type)
        self.target: tuple[NodeItem, str, str] | None = None
        self.verdict: str | None = None  # None when the target may be linked, else why not
        self.hints: set[tuple[str, str, str]] = set()  # (node, direction, port) that could take it


class LinkGesture:
    """The link-drag gesture on a scene: started on a port, followed while the mouse moves, finished as an edit.

    The scene owns one and forwards its mouse events; ``drag`` is the link being dragged, or None.
    """

    def __init__(self, scene: DragScene) -> None:
        self.scene = scene
        self.drag: LinkDrag | None = None

    def start(self, item: NodeItem, direction: str, port: str) -> None:
        detached = None
        if direction == IN:
            detached = self.scene.session.graph.link_into(item.node_id, port)
        if detached is not None and detached.src in self.scene.nodes:
            self.scene.links[detached].setVisible(False)
            self.drag = LinkDrag(self.scene.nodes[detached.src], OUT, detached.src_port, detached)
        else:
            self.drag = LinkDrag(item, direction, port, None)
        self.drag.line.follow(self.drag.line.anchor)
        self.scene.addItem(self.drag.line)
        self._show_hints(self.drag)

    def _show_hints(self, drag: LinkDrag) -> None:
        """Ring the ports of nodes in view that could take the dragged link."""
        views = self.scene.views()
        area = views[0].mapToScene(views[0].viewport().rect()).boundingRect() if views else self.scene.sceneRect()
        want = IN if drag.direction == OUT else OUT
        for item in self.scene.items(area):
            if not isinstance(item, NodeItem) or item is drag.item:
                continue
            for name, kind, _ in item.inputs if want == IN else item.outputs:
                hidden_link = item.collapsed and want == IN and self._taken(item.node_id, name)
                if _fits(drag, want, kind) and not hidden_link:  # a collapsed node refuses to replace one
                    item.set_mark(want, name, "hint")
                    drag.hints.add((item.node_id, want, name))

    def _clear_hints(self, drag: LinkDrag) -> None:
        for node_id, direction, name in drag.hints:
            if node_id in self.scene.nodes:
                self.scene.nodes[node_id].set_mark(direction, name, None)

    def _candidate(self, pos: QPointF) -> tuple[NodeItem, str, str] | None:
        drag = self.drag
        assert drag is not None
        item = self.scene.node_item_at(pos)
        if item is None:
            return None
        want = OUT if drag.direction == IN else IN
        port = None if item.collapsed else item.port_at(pos, self.scene.port_reach())
        if port is not None:
            return (item, port[0], port[1]) if port[0] == want else None
        # dropped on the body (anywhere on a collapsed node): the first port that would accept it
        ports = item.inputs if want == IN else item.outputs
        fits = [name for name, kind, _ in ports if _fits(drag, want, kind)]
        free = [name for name in fits if want == OUT or not self._taken(item.node_id, name)]
        if free:
            return item, want, free[0]
        if fits:  # all linked: an open node shows the link it replaces, a collapsed one refuses
            return item, want, fits[0]
        return (item, want, ports[0][0]) if ports else None

    def _taken(self, node_id: str, port: str) -> bool:
        """Whether an input already has a link (the one being dragged away does not count)."""
        link = self.scene.session.graph.link_into(node_id, port)
        return link is not None and (self.drag is None or link != self.drag.detached)

    def _link_for(self, target: tuple[NodeItem, str, str]) -> Link:
        drag = self.drag
        assert drag is not None
        item, _, name = target
        if drag.direction == OUT:
            return Link(drag.item.node_id, drag.port, item.node_id, name)
        return Link(item.node_id, name, drag.item.node_id, drag.port)

    def _verdict(self, link: Link) -> str | None:
        drag = self.drag
        graph = self.scene.session.graph
        folded = self._folded_refusal(link) if drag is not None else None
        if folded:
            return folded
        if drag is not None and drag.detached is not None and drag.detached != link:
            trial = graph.copy()  # the link being moved is not there any more
            trial.disconnect(drag.detached)
            return check_link(trial, self.scene.session.registry, link)
        return check_link(graph, self.scene.session.registry, link)

    def _folded_refusal(self, link: Link) -> str | None:
        """Why a collapsed node cannot take the link: its ports are hidden, so say what it lacks."""
        drag = self.drag
        assert drag is not None
        want = IN if drag.direction == OUT else OUT
        node_id, port = (link.dst, link.dst_port) if want == IN else (link.src, link.src_port)
        item = self.scene.nodes.get(node_id)
        if item is None or not item.collapsed:
            return None
        side = "input" if want == IN else "output"
        if not _fits(drag, want, item.port_type(want, port)):
            return f"collapsed '{item.title}' has no {side} that takes {drag.port_type}"
        if want == IN and self._taken(node_id, port):
            return (f"every {drag.port_type} input of collapsed '{item.title}' is linked already: "
                    "expand it (H) to replace a link")
        return None

    def move(self, pos: QPointF) -> None:
        drag = self.drag
        assert drag is not None
        target = self._candidate(pos)
        if drag.target is not None and (target is None or target[:3] != drag.target[:3]):
            old = drag.target
            hinted = (old[0].node_id, old[1], old[2]) in drag.hints
            old[0].set_mark(old[1], old[2], "hint" if hinted else None)
        drag.target = target
        if target is None:
            drag.line.follow(pos)
            drag.verdict = None
            return
        item, direction, name = target
        link = self._link_for(target)
        drag.verdict = self._verdict(link)
        item.set_mark(direction, name, "bad" if drag.verdict else "ok")
        drag.line.follow(item.port_scene_pos(direction, name))
        if drag.verdict:
            self.scene.message.emit(drag.verdict)
        elif item.collapsed:  # its ports are hidden: say which one the link would take
            self.scene.message.emit(f"release to connect {link}")

    def finish(self, pos: QPointF) -> None:
        try:
            assert self.drag is not None
            self._clear_hints(self.drag)
            self._complete(pos)
        finally:
            self.drag = None

    def _complete(self, pos: QPointF) -> None:
        drag = self.drag
        assert drag is not None
        self.scene.removeItem(drag.line)
        if drag.detached is not None and drag.detached in self.scene.links:
            self.scene.links[drag.detached].setVisible(True)
        target = self._candidate(pos)
        if drag.target is not None:
            drag.target[0].set_mark(drag.target[1], drag.target[2], None)
        if target is None:
            if self.scene.node_item_at(pos) is not None:
                self.scene.message.emit("that node has no port for this link")
                return
            if drag.detached is not None:
                self.scene.session.edit("Disconnect", lambda g: g.disconnect(drag.detached))
            else:
                self.scene.compatible_request.emit(pos, drag.item.node_id, drag.port, drag.direction, drag.port_type)
            return
        link = self._link_for(target)
        if link == drag.detached:
            return
        verdict = self._verdict(link)
        if verdict:
            target[0].set_mark(target[1], target[2], "bad")
            self.scene.clear_marks_later(1500)
            self.scene.message.emit(f"link refused: {verdict}")
            return

        def mutate(graph):
            if drag.detached is not None and drag.detached in graph.links:
                graph.disconnect(drag.detached)
            graph.connect(link.src, link.src_port, link.dst, link.dst_port)

        self.scene.session.edit("Connect", mutate)
        self.scene.message.emit(f"connected {link}")


def _fits(drag: LinkDrag, want: str, kind: str) -> bool:
    """Whether a port of type ``kind`` (an input when ``want`` is IN) could take the dragged link."""
    return compatible(drag.port_type, kind) if want == IN else compatible(kind, drag.port_type)
