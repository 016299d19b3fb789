"""Undo commands: every edit of the graph is one of these on the session's QUndoStack."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from studio.graph import Graph, Group, Node

if TYPE_CHECKING:
    from studio.ui.session import EditSession

MOVE_ID = 1001
PARAM_ID = 1002


def _plain_copy(value: Any) -> Any:
    """Copy parameter data (numbers, text, lists, dicts) much faster than copy.deepcopy."""
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool | tuple) or value is None:
        return value
    return copy.deepcopy(value)


def snapshot(graph: Graph) -> Graph:
    """A detached copy of the graph's content for undo (Graph.copy's deepcopy is ~10x slower)."""
    other = Graph()
    other.nodes = {
        nid: Node(n.id, n.type, _plain_copy(n.params), tuple(n.position), n.title, n.bypassed, n.version,
                  copy.deepcopy(n.unknown) if n.unknown is not None else None)
        for nid, n in graph.nodes.items()
    }
    other.links = list(graph.links)
    other.groups = [Group(g.id, g.title, tuple(g.rect), g.color) for g in graph.groups]
    other.meta = _plain_copy(graph.meta)
    return other


def same_content(a: Graph, b: Graph) -> bool:
    return a.nodes == b.nodes and a.links == b.links and a.groups == b.groups and a.meta == b.meta


def apply_state(graph: Graph, target: Graph) -> None:
    """Turn ``graph`` into ``target`` through the graph's own methods, so views update
    incrementally, then restore the exact order of nodes and links (undo is exact)."""
    target_links = set(target.links)
    for link in [lk for lk in graph.links if lk not in target_links]:
        graph.disconnect(link)
    for nid in [n for n in graph.nodes if n not in target.nodes]:
        graph.remove_node(nid)
    for nid, want in target.nodes.items():
        have = graph.nodes.get(nid)
        if have is None:
            graph.insert_node(copy.deepcopy(want))
            continue
        if have == want:
            continue
        if (have.type, have.version, have.unknown, set(have.params)) != (
            want.type, want.version, want.unknown, set(want.params)
        ):
            graph.remove_node(nid)  # its links come back below
            graph.insert_node(copy.deepcopy(want))
            continue
        for name, value in want.params.items():
            if have.params.get(name) != value:
                graph.set_param(nid, name, copy.deepcopy(value))
        changed = {
            key: getattr(want, key)
            for key in ("position", "title", "bypassed")
            if getattr(have, key) != getattr(want, key)
        }
        if changed:
            graph.update_node(nid, **changed)
    current = set(graph.links)
    for link in target.links:
        if link not in current:
            graph.connect(link.src, link.src_port, link.dst, link.dst_port)
    if graph.groups != target.groups:
        graph.set_groups(copy.deepcopy(target.groups))
    if graph.meta != target.meta:
        graph.meta = copy.deepcopy(target.meta)
    graph.nodes = {nid: graph.nodes[nid] for nid in target.nodes}
    graph.links = list(target.links)


class GraphEdit(QUndoCommand):
    """A structural edit: runs ``mutate`` once, then undoes and redoes by snapshots."""

    def __init__(self, session: EditSession, text: str, mutate: Callable[[Graph], Any],
                 errors: list[BaseException] | None = None) -> None:
        super().__init__(text)
        self._session = session
        self._mutate = mutate
        self._errors = errors if errors is not None else []
        self._before: Graph | None = None
        self._after: Graph | None = None

    def redo(self) -> None:
        graph = self._session.graph
        if self._after is None:
            self._before = snapshot(graph)
            try:
                self._mutate(graph)
            except Exception as exc:  # leave the graph as it was; the pusher re-raises
                apply_state(graph, self._before)
                self._errors.append(exc)
            self._after = snapshot(graph)
            if self._errors or same_content(self._before, self._after):
                self.setObsolete(True)
        else:
            apply_state(graph, self._after)

    def undo(self) -> None:
        assert self._before is not None
        apply_state(self._session.graph, self._before)


class MoveNodes(QUndoCommand):
    """Nodes moved; consecutive nudges of the same nodes merge into one step."""

    def __init__(self, session: EditSession, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
                 mergeable: bool = False) -> None:
        super().__init__("Move " + (f"'{next(iter(moves))}'" if len(moves) == 1 else f"{len(moves)} nodes"))
        self._session = session
        self.moves = dict(moves)
        self.mergeable = mergeable

    def id(self) -> int:
        return MOVE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not isinstance(other, MoveNodes) or not (self.mergeable and other.mergeable):
            return False
        if set(other.moves) != set(self.moves):
            return False
        for nid, (_, new) in other.moves.items():
            self.moves[nid] = (self.moves[nid][0], new)
        return True

    def _apply(self, which: int) -> None:
        graph = self._session.graph
        for nid, pair in self.moves.items():
            if nid in graph.nodes:
                graph.update_node(nid, position=pair[which])

    def redo(self) -> None:
        self._apply(1)

    def undo(self) -> None:
        self._apply(0)


class SetParam(QUndoCommand):
    """A parameter set on one or more nodes (of one type); a slider drag or a typing burst merges
    into one step via ``merge_key``."""

    def __init__(self, session: EditSession, olds: dict[str, Any], name: str, new: Any,
                 merge_key: object | None = None) -> None:
        ids = list(olds)
        super().__init__(f"Set {name} of " + (f"'{ids[0]}'" if len(ids) == 1 else f"{len(ids)} nodes"))
        self._session = session
        self.olds = {nid: copy.deepcopy(v) for nid, v in olds.items()}
        self.name, self.new = name, copy.deepcopy(new)
        self.merge_key = merge_key

    def id(self) -> int:
        return PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not isinstance(other, SetParam) or self.merge_key is None or other.merge_key != self.merge_key:
            return False
        if set(other.olds) != set(self.olds) or other.name != self.name:
            return False
        self.new = other.new
        if all(old == self.new for old in self.olds.values()):
            self.setObsolete(True)
        return True

    def redo(self) -> None:
        for nid in self.olds:
            self._session.graph.set_param(nid, self.name, copy.deepcopy(self.new))

    def undo(self) -> None:
        for nid, old in self.olds.items():
            self._session.graph.set_param(nid, self.name, copy.deepcopy(old))
