"""Copy, paste and duplicate: selected nodes (and group frames with the nodes inside them) travel
as graph JSON, also between windows."""

from __future__ import annotations

import copy
import re

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from studio.errors import GraphFileError
from studio.graph import Graph, Group, dumps, loads
from studio.ui.canvas.collapse import META_KEY as COLLAPSED
from studio.ui.canvas.collapse import collapsed_ids, set_collapsed
from studio.ui.shell.session import EditSession

MIME = "application/x-studio-graph+json"
PASTE_OFFSET = 40.0


def selection_json(session: EditSession, node_ids: list[str], group_ids: list[str] = ()) -> str:
    """The selected nodes, the links among them and the selected groups, as a graph document
    (the caller adds the nodes inside the groups: see GraphScene.nodes_in_group)."""
    graph = session.graph
    wanted = set(node_ids)
    part = Graph()
    part.nodes = {nid: copy.deepcopy(graph.nodes[nid]) for nid in graph.nodes if nid in wanted}
    part.links = [lk for lk in graph.links if lk.src in wanted and lk.dst in wanted]
    part.groups = [copy.deepcopy(g) for g in graph.groups if g.id in set(group_ids)]
    folded = sorted(collapsed_ids(graph) & wanted)
    if folded:
        part.meta[COLLAPSED] = folded
    return dumps(part, session.registry)


def copy_nodes(session: EditSession, node_ids: list[str], group_ids: list[str] = ()) -> bool:
    if not node_ids and not group_ids:
        return False
    text = selection_json(session, node_ids, group_ids)
    data = QMimeData()
    data.setData(MIME, text.encode("utf-8"))
    data.setText(text)
    QApplication.clipboard().setMimeData(data)
    return True


def clipboard_text() -> str | None:
    data = QApplication.clipboard().mimeData()
    if data is None:
        return None
    if data.hasFormat(MIME):
        return bytes(data.data(MIME)).decode("utf-8")
    if data.hasText() and '"studio.graph"' in data.text():
        return data.text()
    return None


def paste_json(session: EditSession, text: str, at: tuple[float, float] | None = None,
               label: str = "Paste", groups_out: list[str] | None = None) -> list[str]:
    """Add the nodes and groups of ``text`` with fresh ids; returns the new node ids (the new
    group ids go to ``groups_out``). GraphFileError if the text is not a graph."""
    part = loads(text, session.registry)
    if not part.nodes and not part.groups:
        return []
    xs = [n.position[0] for n in part.nodes.values()] + [g.rect[0] for g in part.groups]
    ys = [n.position[1] for n in part.nodes.values()] + [g.rect[1] for g in part.groups]
    if at is None:
        dx, dy = PASTE_OFFSET, PASTE_OFFSET
    else:
        dx, dy = at[0] - min(xs), at[1] - min(ys)
    folded = part.meta.get(COLLAPSED, [])
    created: list[str] = []
    new_groups: list[str] = []

    def mutate(graph: Graph) -> None:
        created.clear()
        new_groups.clear()
        mapping: dict[str, str] = {}
        for old_id, node in part.nodes.items():
            new_id = graph.new_id(re.sub(r"_\d+$", "", old_id))
            mapping[old_id] = new_id
            fresh = copy.deepcopy(node)
            fresh.id = new_id
            fresh.position = (node.position[0] + dx, node.position[1] + dy)
            if fresh.unknown is not None:
                fresh.unknown["id"] = new_id
            graph.insert_node(fresh)
            created.append(new_id)
        for link in part.links:
            graph.connect(mapping[link.src], link.src_port, mapping[link.dst], link.dst_port)
        if part.groups:
            taken = {g.id for g in graph.groups}
            added = []
            for group in part.groups:
                gid = _fresh_group_id(re.sub(r"_\d+$", "", group.id), taken)
                taken.add(gid)
                x, y, w, h = group.rect
                added.append(Group(gid, group.title, (x + dx, y + dy, w, h), group.color))
                new_groups.append(gid)
            graph.set_groups([*graph.groups, *added])
        if isinstance(folded, list) and any(nid in mapping for nid in folded):
            set_collapsed(graph, [mapping[nid] for nid in folded if nid in mapping], True)

    session.edit(label, mutate)
    if groups_out is not None:
        groups_out[:] = new_groups
    return list(created)


def _fresh_group_id(stem: str, taken: set[str]) -> str:
    stem = stem or "group"
    if stem not in taken:
        return stem
    return next(f"{stem}_{i}" for i in range(2, 100_000) if f"{stem}_{i}" not in taken)


def paste_clipboard(session: EditSession, at: tuple[float, float] | None = None,
                    groups_out: list[str] | None = None) -> list[str]:
    text = clipboard_text()
    if text is None:
        return []
    try:
        return paste_json(session, text, at, groups_out=groups_out)
    except GraphFileError:
        return []
