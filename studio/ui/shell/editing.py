"""The main window's editing commands: add, delete, clipboard, bypass, collapse, group, align, rename."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QInputDialog, QWidget

from studio.graph import Graph, Group, NodeRegistry, NodeSpec
from studio.ui.canvas import clipboard, collapse
from studio.ui.canvas.items import GRID
from studio.ui.canvas.scene import GraphScene
from studio.ui.canvas.view import GraphView
from studio.ui.shell.session import EditSession


def printable(text: str) -> str:
    """A name as typed or pasted, without the control characters a graph file may not hold (tabs and newlines
    become spaces; escape codes and the like are dropped)."""
    text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return "".join(ch for ch in text if ch.isprintable())

class Editing:
    """The canvas's editing commands, each one undo step on the session's stack.

    ``say`` shows a short message (the window's status bar); ``parent`` owns the dialogs it opens.
    """

    def __init__(self, session: EditSession, scene: GraphScene, view: GraphView, registry: NodeRegistry,
                 parent: QWidget, say: Callable[[str, int], None]) -> None:
        self.session, self.scene, self.view, self.registry = session, scene, view, registry
        self.parent, self.say = parent, say

    def add_node(
        self, spec: NodeSpec, pos: QPointF, link: tuple[str, str, str, str] | None = None
    ) -> str:
        """Add a node of ``spec`` at a scene point; ``link`` = (node, port, direction, new node's port)."""
        x = round(pos.x() / GRID) * GRID if self.scene.snap else pos.x()
        y = round(pos.y() / GRID) * GRID if self.scene.snap else pos.y()
        created: list[str] = []

        def mutate(graph: Graph) -> None:
            node = graph.add_node(spec, position=(x, y))
            created.append(node.id)
            if link is not None:
                other, port, direction, new_port = link
                if direction == "out":
                    graph.connect(other, port, node.id, new_port)
                else:
                    graph.connect(node.id, new_port, other, port)

        self.session.edit(f"Add {spec.title}", mutate)
        self.scene.select_nodes(created)
        self.view.setFocus()
        return created[0]

    def delete_selected(self) -> None:
        nodes = self.scene.selected_node_ids()
        links = self.scene.selected_links()
        groups = set(self.scene.selected_group_ids())
        dots = self.scene.selected_reroutes()
        if not (nodes or links or groups or dots):
            return

        def mutate(graph: Graph) -> None:
            if dots:
                self.scene.remove_reroutes(graph, dots)
            for link in links:
                if link in graph.links:
                    graph.disconnect(link)
            for nid in nodes:
                graph.remove_node(nid)
            collapse.forget(graph, nodes)
            if groups:
                graph.set_groups([g for g in graph.groups if g.id not in groups])

        self.session.edit("Delete", mutate)

    def _copied(self) -> tuple[list[str], list[str]]:
        """What copy takes: the selected nodes, the selected groups and the nodes inside them."""
        groups = self.scene.selected_group_ids()
        wanted = set(self.scene.selected_node_ids())
        for gid in groups:
            wanted.update(self.scene.nodes_in_group(gid))
        return [nid for nid in self.session.graph.nodes if nid in wanted], groups

    def copy(self) -> None:
        nodes, groups = self._copied()
        if clipboard.copy_nodes(self.session, nodes, groups):
            extra = f" in {len(groups)} group(s)" if groups else ""
            self.say(f"copied {len(nodes)} node(s){extra}", 3000)

    def cut(self) -> None:
        nodes, groups = self._copied()
        if clipboard.copy_nodes(self.session, nodes, groups):
            self.scene.select_nodes(nodes)  # the nodes inside a cut group go with it
            for gid in groups:
                self.scene.groups[gid].setSelected(True)
            self.delete_selected()

    def _select_pasted(self, nodes: list[str], groups: list[str]) -> None:
        self.scene.select_nodes(nodes)
        for gid in groups:
            if gid in self.scene.groups:
                self.scene.groups[gid].setSelected(True)

    def paste(self) -> None:
        pos = self.view.cursor_scene_pos()
        groups: list[str] = []
        created = clipboard.paste_clipboard(self.session, (pos.x(), pos.y()), groups)
        if created or groups:
            self._select_pasted(created, groups)
        else:
            self.say("nothing to paste: the clipboard holds no Studio nodes", 4000)

    def duplicate(self) -> None:
        nodes, groups = self._copied()
        if nodes or groups:
            new_groups: list[str] = []
            created = clipboard.paste_json(
                self.session,
                clipboard.selection_json(self.session, nodes, groups),
                label="Duplicate",
                groups_out=new_groups,
            )
            self._select_pasted(created, new_groups)

    def select_all(self) -> None:
        for item in self.scene.nodes.values():
            item.setSelected(True)

    def toggle_bypass(self) -> None:
        ids = self.scene.selected_node_ids()
        if not ids:
            return
        graph = self.session.graph
        on = not all(graph.nodes[nid].bypassed for nid in ids)

        def mutate(g: Graph) -> None:
            for nid in ids:
                g.update_node(nid, bypassed=on)

        self.session.edit("Bypass" if on else "Un-bypass", mutate)

    def toggle_collapse(self) -> None:
        """Collapse the selected nodes to their title bars, or expand them if all are collapsed."""
        ids = self.scene.selected_node_ids()
        if not ids:
            return
        on = not all(self.scene.nodes[nid].collapsed for nid in ids)
        self.session.edit("Collapse" if on else "Expand", lambda g: collapse.set_collapsed(g, ids, on))

    def group_selected(self, title: str = "Group") -> str | None:
        ids = self.scene.selected_node_ids()
        if not ids:
            return None
        rect = self.scene.nodes_rect(ids).adjusted(-20, -46, 20, 20)
        existing = {g.id for g in self.session.graph.groups}
        gid = next(
            f"group_{i}" if i > 1 else "group"
            for i in range(1, 10_000)
            if (f"group_{i}" if i > 1 else "group") not in existing
        )
        group = Group(gid, title, (rect.x(), rect.y(), rect.width(), rect.height()))
        self.session.edit("Group", lambda g: g.set_groups([*g.groups, group]))
        return gid

    def align(self, how: str) -> None:
        """Line up the selected nodes (left or top edges) or space them evenly, as one undo step."""
        ids = self.scene.selected_node_ids()
        if len(ids) < 2:
            self.say("select two or more nodes to align", 4000)
            return
        graph = self.session.graph
        pos = {nid: graph.nodes[nid].position for nid in ids}
        new = dict(pos)
        if how == "left":
            x = min(p[0] for p in pos.values())
            new = {nid: (x, p[1]) for nid, p in pos.items()}
        elif how == "top":
            y = min(p[1] for p in pos.values())
            new = {nid: (p[0], y) for nid, p in pos.items()}
        else:
            axis = 0 if how == "spread_x" else 1
            order = sorted(ids, key=lambda n: pos[n][axis])
            first, last = pos[order[0]][axis], pos[order[-1]][axis]
            step = (last - first) / (len(order) - 1)
            for i, nid in enumerate(order):
                value = round((first + i * step) / GRID) * GRID if self.scene.snap else first + i * step
                new[nid] = (value, pos[nid][1]) if axis == 0 else (pos[nid][0], value)
        self.session.move({nid: (pos[nid], new[nid]) for nid in ids})

    def rename(self, kind: str, ident: str) -> None:
        graph = self.session.graph
        if kind == "node" and ident in graph.nodes:
            node = graph.nodes[ident]
            spec = self.registry.get(node.type)
            text, ok = QInputDialog.getText(
                self.parent,
                "Rename node",
                "Name (empty for the type's name):",
                text=node.title or (spec.title if spec else ""),
            )
            if ok:
                text = printable(text)
                title = "" if spec is not None and text.strip() == spec.title else text.strip()
                self.session.edit("Rename node", lambda g: g.update_node(ident, title=title))
        elif kind == "group":
            group = next((g for g in graph.groups if g.id == ident), None)
            if group is None:
                return
            text, ok = QInputDialog.getText(self.parent, "Rename group", "Label:", text=group.title)
            text = printable(text).strip()
            if ok:
                self.session.edit(
                    "Rename group",
                    lambda g: g.set_groups(
                        [Group(x.id, text, x.rect, x.color) if x.id == ident else x for x in g.groups]
                    ),
                )
