"""Copy, paste and duplicate: selected nodes travel as graph JSON, also between windows."""

from __future__ import annotations

import copy
import re

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from studio.errors import GraphFileError
from studio.graph import Graph, dumps, loads
from studio.ui.session import EditSession

MIME = "application/x-studio-graph+json"
PASTE_OFFSET = 40.0


def selection_json(session: EditSession, node_ids: list[str]) -> str:
    """The selected nodes and the links among them, as a graph document."""
    graph = session.graph
    wanted = set(node_ids)
    part = Graph()
    part.nodes = {nid: copy.deepcopy(graph.nodes[nid]) for nid in graph.nodes if nid in wanted}
    part.links = [lk for lk in graph.links if lk.src in wanted and lk.dst in wanted]
    return dumps(part, session.registry)


def copy_nodes(session: EditSession, node_ids: list[str]) -> bool:
    if not node_ids:
        return False
    text = selection_json(session, node_ids)
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
               label: str = "Paste") -> list[str]:
    """Add the nodes of ``text`` with fresh ids; returns the new ids. GraphFileError if not a graph."""
    part = loads(text, session.registry)
    if not part.nodes:
        return []
    xs = [n.position[0] for n in part.nodes.values()]
    ys = [n.position[1] for n in part.nodes.values()]
    if at is None:
        dx, dy = PASTE_OFFSET, PASTE_OFFSET
    else:
        dx, dy = at[0] - min(xs), at[1] - min(ys)
    created: list[str] = []

    def mutate(graph: Graph) -> None:
        created.clear()
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

    session.edit(label, mutate)
    return list(created)


def paste_clipboard(session: EditSession, at: tuple[float, float] | None = None) -> list[str]:
    text = clipboard_text()
    if text is None:
        return []
    try:
        return paste_json(session, text, at)
    except GraphFileError:
        return []
