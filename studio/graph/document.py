"""The graph document: nodes with stable ids, links between typed ports, groups; pure data."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from studio.graph.spec import NodeSpec


@dataclass
class Node:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)
    title: str = ""  # a user's own name for the node; empty shows the type's title
    bypassed: bool = False
    version: int = 1
    # A node whose type is not installed (a missing plugin) keeps its saved dict here,
    # so that saving the graph writes it back unchanged.
    unknown: dict[str, Any] | None = None


@dataclass(frozen=True)
class Link:
    src: str
    src_port: str
    dst: str
    dst_port: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


@dataclass
class Group:
    """A labelled frame drawn behind nodes on the canvas."""

    id: str
    title: str
    rect: tuple[float, float, float, float]  # x, y, width, height
    color: str = "#3a4660"


@dataclass(frozen=True)
class GraphChange:
    """What changed in a graph, for views that keep themselves in sync."""

    kind: str  # node_added, node_removed, node_changed, link_added, link_removed, group_changed, reset
    node_id: str | None = None
    link: Link | None = None
    detail: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[GraphChange], None]


class Graph:
    """Nodes and links. Every mutation goes through a method, which notifies subscribers."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._links: list[Link] = []
        self._index: _LinkIndex | None = None
        self.groups: list[Group] = []
        self.meta: dict[str, Any] = {}
        self._listeners: list[Listener] = []

    @property
    def links(self) -> list[Link]:
        """All links. Change them through the methods (or assign a new list), not in place."""
        return self._links

    @links.setter
    def links(self, value: list[Link]) -> None:
        self._links = list(value)
        self._index = None

    def _lookup(self) -> _LinkIndex:
        # Built on demand and dropped on every change: validation and evaluation look links up
        # many times between edits, which made big graphs quadratic with plain list scans.
        if self._index is None:
            self._index = _LinkIndex(self._links)
        return self._index

    def add_link(self, link: Link) -> None:
        """Append a link as is (file loading); ``connect`` is the editing operation."""
        self._append(link)
        self._emit(GraphChange("link_added", link=link))

    def _append(self, link: Link) -> None:
        self._links.append(link)
        if self._index is not None:
            self._index.add(link)

    def _discard(self, link: Link) -> None:
        self._links.remove(link)
        if self._index is not None:
            self._index.remove(link)

    def set_meta(self, key: str, value: Any) -> Any:
        """Set document metadata (render settings, reroute points...) and tell the views."""
        old = self.meta.get(key)
        if value is None:
            self.meta.pop(key, None)
        else:
            self.meta[key] = value
        self._emit(GraphChange("meta_changed", detail={"key": key, "old": old, "new": value}))
        return old

    # ---- observation
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, change: GraphChange) -> None:
        for listener in list(self._listeners):
            listener(change)

    # ---- ids
    def new_id(self, base: str) -> str:
        """A fresh id readable by people: 'generate', 'generate_2', ..."""
        stem = re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_") or "node"
        if stem not in self.nodes:
            return stem
        for i in itertools.count(2):
            candidate = f"{stem}_{i}"
            if candidate not in self.nodes:
                return candidate
        raise AssertionError("unreachable")

    # ---- nodes
    def add_node(
        self,
        spec: NodeSpec,
        node_id: str | None = None,
        position: tuple[float, float] = (0.0, 0.0),
        params: dict[str, Any] | None = None,
    ) -> Node:
        nid = node_id or self.new_id(spec.type_id.rsplit(".", 1)[-1])
        if nid in self.nodes:
            raise ValueError(f"a node with id '{nid}' already exists")
        values = spec.default_params()
        values.update(params or {})
        node = Node(id=nid, type=spec.type_id, params=values, position=position, version=spec.version)
        return self.insert_node(node)

    def insert_node(self, node: Node) -> Node:
        if node.id in self.nodes:
            raise ValueError(f"a node with id '{node.id}' already exists")
        self.nodes[node.id] = node
        self._emit(GraphChange("node_added", node.id))
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[Link]]:
        """Remove a node and its links; returns both so an undo can put them back."""
        node = self.nodes.pop(node_id)
        removed = self.inputs_of(node_id) + [lk for lk in self.links_from(node_id) if lk.dst != node_id]
        for link in removed:
            self._discard(link)
            self._emit(GraphChange("link_removed", link=link))
        self._emit(GraphChange("node_removed", node_id))
        return node, removed

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        node = self.nodes[node_id]
        old = node.params.get(name)
        node.params[name] = value
        self._emit(GraphChange("node_changed", node_id, detail={"param": name, "old": old, "new": value}))
        return old

    def update_node(self, node_id: str, **attributes: Any) -> dict[str, Any]:
        """Change position, title or bypassed; returns the old values."""
        node = self.nodes[node_id]
        old = {}
        for key, value in attributes.items():
            if key not in ("position", "title", "bypassed"):
                raise ValueError(f"cannot set {key!r} on a node")
            old[key] = getattr(node, key)
            setattr(node, key, value)
        self._emit(GraphChange("node_changed", node_id, detail=dict(attributes)))
        return old

    # ---- links
    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> tuple[Link, Link | None]:
        """Link an output to an input; an input takes one link, so an existing one is replaced.

        Returns the new link and the one it replaced (None if the input was free).
        Type checking is the caller's (see ``studio.graph.validate.check_link``).
        """
        for nid in (src, dst):
            if nid not in self.nodes:
                raise ValueError(f"no node with id '{nid}'")
        replaced = self.link_into(dst, dst_port)
        if replaced is not None:
            self._discard(replaced)
            self._emit(GraphChange("link_removed", link=replaced))
        link = Link(src, src_port, dst, dst_port)
        self._append(link)
        self._emit(GraphChange("link_added", link=link))
        return link, replaced

    def disconnect(self, link: Link) -> None:
        self._discard(link)
        self._emit(GraphChange("link_removed", link=link))

    def link_into(self, dst: str, dst_port: str) -> Link | None:
        return self._lookup().into.get((dst, dst_port))

    def has_link(self, link: Link) -> bool:
        return self._lookup().into.get((link.dst, link.dst_port)) == link

    def links_from(self, src: str) -> list[Link]:
        return list(self._lookup().outgoing.get(src, ()))

    def inputs_of(self, node_id: str) -> list[Link]:
        return list(self._lookup().incoming.get(node_id, ()))

    # ---- groups
    def set_groups(self, groups: Iterable[Group]) -> list[Group]:
        old = self.groups
        self.groups = list(groups)
        self._emit(GraphChange("group_changed"))
        return old

    # ---- whole-graph helpers
    def upstream(self, node_ids: Iterable[str]) -> set[str]:
        """The given nodes and everything they depend on."""
        seen: set[str] = set()
        stack = [n for n in node_ids if n in self.nodes]
        while stack:
            nid = stack.pop()
            if nid in seen:
                continue
            seen.add(nid)
            stack.extend(lk.src for lk in self.inputs_of(nid) if lk.src in self.nodes)
        return seen

    def copy(self) -> Graph:
        """A deep copy without subscribers."""
        other = Graph()
        other.nodes = copy.deepcopy(self.nodes)
        other.links = self._links
        other.groups = copy.deepcopy(self.groups)
        other.meta = copy.deepcopy(self.meta)
        return other

    def replace_with(self, other: Graph) -> None:
        """Take over another graph's content (used by undo of large edits and by reload)."""
        self.nodes = copy.deepcopy(other.nodes)
        self.links = other.links
        self.groups = copy.deepcopy(other.groups)
        self.meta = copy.deepcopy(other.meta)
        self._emit(GraphChange("reset"))


class _LinkIndex:
    """Links by their input end and by the nodes at either end, kept in step with each edit."""

    def __init__(self, links: list[Link]) -> None:
        self.into: dict[tuple[str, str], Link] = {}
        self.outgoing: dict[str, list[Link]] = {}
        self.incoming: dict[str, list[Link]] = {}
        for link in links:
            self.add(link)

    def add(self, link: Link) -> None:
        self.into.setdefault((link.dst, link.dst_port), link)
        self.outgoing.setdefault(link.src, []).append(link)
        self.incoming.setdefault(link.dst, []).append(link)

    def remove(self, link: Link) -> None:
        if self.into.get((link.dst, link.dst_port)) == link:
            del self.into[(link.dst, link.dst_port)]
        self.outgoing[link.src].remove(link)
        self.incoming[link.dst].remove(link)
        for other in self.incoming[link.dst]:  # a second link into that input (a hand-made list)
            if other.dst_port == link.dst_port:
                self.into.setdefault((other.dst, other.dst_port), other)
