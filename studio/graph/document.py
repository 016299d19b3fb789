"""The graph document: nodes with stable ids, links between typed ports, groups; pure data."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field, fields
from enum import StrEnum
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


class ChangeKind(StrEnum):
    """The kinds of change a graph announces. A str enum: ``change.kind == "reset"`` still holds."""

    NODE_ADDED = "node_added"
    NODE_REMOVED = "node_removed"
    NODE_CHANGED = "node_changed"  # detail: {"param", "old", "new"} or the attributes set
    LINK_ADDED = "link_added"
    LINK_REMOVED = "link_removed"
    GROUP_CHANGED = "group_changed"
    META_CHANGED = "meta_changed"  # detail: {"key", "old", "new"}; new is None when the key went
    ORDER_CHANGED = "order_changed"  # same content, nodes, links or meta keys in another order (undo)
    RESET = "reset"  # the whole content was replaced: views rebuild


@dataclass(frozen=True)
class GraphChange:
    """What changed in a graph, for views that keep themselves in sync."""

    kind: ChangeKind
    node_id: str | None = None
    link: Link | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a misspelt kind fails where it is made, not silently in every view that ignores it
        if type(self.kind) is not ChangeKind:
            object.__setattr__(self, "kind", ChangeKind(self.kind))


Listener = Callable[[GraphChange], None]


class Graph:
    """Nodes, links, groups and metadata. Every write goes through a method, which tells subscribers;
    assigning a whole attribute (a loader filling a new graph) announces a reset."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._links: list[Link] = []
        self._index: _LinkIndex | None = None
        self._groups: list[Group] = []
        self._meta: dict[str, Any] = {}
        self._listeners: list[Listener] = []

    # ---- content: read it here, change it through the methods
    @property
    def nodes(self) -> dict[str, Node]:
        return self._nodes

    @nodes.setter
    def nodes(self, value: dict[str, Node]) -> None:
        self._nodes = dict(value)
        self._emit(GraphChange(ChangeKind.RESET))

    @property
    def links(self) -> list[Link]:
        """All links. Change them through the methods (or assign a new list), not in place."""
        return self._links

    @links.setter
    def links(self, value: list[Link]) -> None:
        self._links = list(value)
        self._index = None
        self._emit(GraphChange(ChangeKind.RESET))

    @property
    def groups(self) -> list[Group]:
        return self._groups

    @groups.setter
    def groups(self, value: list[Group]) -> None:
        self._groups = list(value)
        self._emit(GraphChange(ChangeKind.RESET))

    @property
    def meta(self) -> dict[str, Any]:
        """Document metadata (render settings, reroute points, collapsed nodes); change it with set_meta."""
        return self._meta

    @meta.setter
    def meta(self, value: dict[str, Any]) -> None:
        self._meta = dict(value)
        self._emit(GraphChange(ChangeKind.RESET))

    def _lookup(self) -> _LinkIndex:
        # Built on demand and dropped on every change: validation and evaluation look links up
        # many times between edits, which made big graphs quadratic with plain list scans.
        if self._index is None:
            self._index = _LinkIndex(self._links)
        return self._index

    def add_link(self, link: Link) -> None:
        """Append a link as is (file loading, undo); ``connect`` is the editing operation."""
        self._append(link)
        self._emit(GraphChange(ChangeKind.LINK_ADDED, link=link))

    def _append(self, link: Link) -> None:
        self._links.append(link)
        if self._index is not None:
            self._index.add(link)

    def _discard(self, link: Link) -> None:
        self._links.remove(link)
        if self._index is not None:
            self._index.remove(link)

    def set_meta(self, key: str, value: Any) -> Any:
        """Set document metadata (render settings, reroute points...) and tell the views; None removes
        the key. Returns the old value."""
        return self._put_meta(key, _ABSENT if value is None else value)

    def _put_meta(self, key: str, value: Any) -> Any:
        old = self._meta.get(key)
        if value is _ABSENT:
            self._meta.pop(key, None)
        else:
            self._meta[key] = value
        new = None if value is _ABSENT else value
        self._emit(GraphChange(ChangeKind.META_CHANGED, detail={"key": key, "old": old, "new": new}))
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
        if stem not in self._nodes:
            return stem
        for i in itertools.count(2):
            candidate = f"{stem}_{i}"
            if candidate not in self._nodes:
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
        if nid in self._nodes:
            raise ValueError(f"a node with id '{nid}' already exists")
        values = spec.default_params()
        values.update(params or {})
        node = Node(id=nid, type=spec.type_id, params=values, position=position, version=spec.version)
        return self.insert_node(node)

    def insert_node(self, node: Node) -> Node:
        if node.id in self._nodes:
            raise ValueError(f"a node with id '{node.id}' already exists")
        self._nodes[node.id] = node
        self._emit(GraphChange(ChangeKind.NODE_ADDED, node.id))
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[Link]]:
        """Remove a node and its links; returns both so an undo can put them back."""
        node = self._nodes.pop(node_id)
        removed = self.inputs_of(node_id) + [lk for lk in self.links_from(node_id) if lk.dst != node_id]
        for link in removed:
            self._discard(link)
            self._emit(GraphChange(ChangeKind.LINK_REMOVED, link=link))
        self._emit(GraphChange(ChangeKind.NODE_REMOVED, node_id))
        return node, removed

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        node = self._nodes[node_id]
        old = node.params.get(name)
        node.params[name] = value
        self._emit(GraphChange(ChangeKind.NODE_CHANGED, node_id, detail={"param": name, "old": old, "new": value}))
        return old

    def update_node(self, node_id: str, **attributes: Any) -> dict[str, Any]:
        """Change position, title or bypassed; returns the old values."""
        node = self._nodes[node_id]
        old = {}
        for key, value in attributes.items():
            if key not in _EDITABLE:
                raise ValueError(f"cannot set {key!r} on a node")
            old[key] = getattr(node, key)
            setattr(node, key, value)
        self._emit(GraphChange(ChangeKind.NODE_CHANGED, node_id, detail=dict(attributes)))
        return old

    # ---- links
    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> tuple[Link, Link | None]:
        """Link an output to an input; an input takes one link, so an existing one is replaced.

        Returns the new link and the one it replaced (None if the input was free).
        Type checking is the caller's (see ``studio.graph.validate.check_link``).
        """
        for nid in (src, dst):
            if nid not in self._nodes:
                raise ValueError(f"no node with id '{nid}'")
        replaced = self.link_into(dst, dst_port)
        if replaced is not None:
            self._discard(replaced)
            self._emit(GraphChange(ChangeKind.LINK_REMOVED, link=replaced))
        link = Link(src, src_port, dst, dst_port)
        self._append(link)
        self._emit(GraphChange(ChangeKind.LINK_ADDED, link=link))
        return link, replaced

    def disconnect(self, link: Link) -> None:
        self._discard(link)
        self._emit(GraphChange(ChangeKind.LINK_REMOVED, link=link))

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
        old = self._groups
        self._groups = list(groups)
        self._emit(GraphChange(ChangeKind.GROUP_CHANGED))
        return old

    # ---- whole-graph helpers
    def upstream(self, node_ids: Iterable[str], stop: Container[str] = ()) -> set[str]:
        """The given nodes and everything they depend on; a node in ``stop`` is included but not looked past."""
        seen: set[str] = set()
        stack = [n for n in node_ids if n in self._nodes]
        while stack:
            nid = stack.pop()
            if nid in seen:
                continue
            seen.add(nid)
            if nid not in stop:
                stack.extend(lk.src for lk in self.inputs_of(nid) if lk.src in self._nodes)
        return seen

    def copy(self) -> Graph:
        """A detached copy of the content, without subscribers (undo states, a render's own graph).

        Nodes, groups and metadata are copied field by field with a plain-data copier (about ten
        times faster than copy.deepcopy on parameter data); links are immutable and shared."""
        other = Graph()
        other._nodes = {nid: _copy_record(n) for nid, n in self._nodes.items()}
        other._links = list(self._links)
        other._groups = [_copy_record(g) for g in self._groups]
        other._meta = _copy_value(self._meta)
        return other

    def same_content(self, other: Graph) -> bool:
        """Whether two graphs hold the same nodes, links, groups and metadata (a parameter 1 is not 1.0)."""
        return (
            self._links == other._links
            and _same(self._groups, other._groups)
            and list(self._nodes) == list(other._nodes)
            and all(_same(a, other._nodes[nid]) for nid, a in self._nodes.items())
            and _same(self._meta, other._meta)
        )

    def restore(self, state: Graph) -> None:
        """Turn this graph into ``state`` (a copy taken earlier: undo and redo) through the evented
        methods, so views update item by item; then put nodes, links and meta keys in its order."""
        if self._links != state._links:  # most edits keep the links: the lists share their objects
            wanted = set(state._links)
            for link in [lk for lk in self._links if lk not in wanted]:
                self.disconnect(link)
        for nid in [n for n in self._nodes if n not in state._nodes]:
            self.remove_node(nid)
        for nid, want in state._nodes.items():
            have = self._nodes.get(nid)
            if have is None:
                self.insert_node(_copy_record(want))
            elif not _same(have, want):
                self._restore_node(have, want)
        if self._links != state._links:
            present = set(self._links)
            for link in state._links:
                if link not in present:
                    self.add_link(link)
        if not _same(self._groups, state._groups):
            self.set_groups([_copy_record(g) for g in state._groups])
        for key in [k for k in self._meta if k not in state._meta]:
            self._put_meta(key, _ABSENT)
        for key, value in state._meta.items():
            if key not in self._meta or not _same(self._meta[key], value):
                self._put_meta(key, _copy_value(value))
        self._reorder(state)

    def _restore_node(self, have: Node, want: Node) -> None:
        if have.params.keys() != want.params.keys() or any(
            getattr(have, name) != getattr(want, name) for name in _FIXED
        ):
            self.remove_node(have.id)  # its links come back with the others
            self.insert_node(_copy_record(want))
            return
        if not _same(have.params, want.params):
            for name, value in want.params.items():
                if not _same(have.params[name], value):
                    self.set_param(have.id, name, _copy_value(value))
        changed = {}
        for name in _EDITABLE:
            old, new = getattr(have, name), getattr(want, name)
            if old != new or type(old) is not type(new):
                changed[name] = _copy_value(new)
        if changed:
            self.update_node(have.id, **changed)

    def _reorder(self, state: Graph) -> None:
        # An undone delete puts its node and links back at the end; the file and the evaluation
        # order follow the document's order, so undo restores it too.
        moved = False
        if list(self._nodes) != list(state._nodes):
            self._nodes = {nid: self._nodes[nid] for nid in state._nodes}
            moved = True
        if self._links != state._links:
            self._links = list(state._links)
            self._index = None
            moved = True
        if list(self._meta) != list(state._meta):
            self._meta = {key: self._meta[key] for key in state._meta}
            moved = True
        if moved:
            self._emit(GraphChange(ChangeKind.ORDER_CHANGED))

    def replace_with(self, other: Graph) -> None:
        """Take over another graph's content (new, open, recover): views rebuild."""
        taken = other.copy()
        self._nodes, self._links, self._groups, self._meta = taken._nodes, taken._links, taken._groups, taken._meta
        self._index = None
        self._emit(GraphChange(ChangeKind.RESET))


_ABSENT = object()  # a meta key that is not there (None may be a value in a file's meta)
_EDITABLE = ("position", "title", "bypassed")  # what update_node may set
_FIXED = tuple(f.name for f in fields(Node) if f.name not in ("id", "params", *_EDITABLE))  # change = replace
_ATOMS = frozenset({str, int, float, bool, type(None)})  # immutable: copied by reference
_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in (Node, Group)}


def _copy_record(record: Node | Group) -> Any:
    """Copy a Node or Group field by field, by name: a field added later is copied too and never shifts
    into another's place. (Built through __init__: an instance given a __dict__ of its own is slower to
    read and to garbage-collect.)"""
    values = {}
    for name in _FIELDS[type(record)]:
        value = getattr(record, name)
        values[name] = value if type(value) in _ATOMS else _copy_value(value)
    return type(record)(**values)


def _copy_value(value: Any) -> Any:
    """Copy plain data (numbers, text, lists, dicts, tuples) far faster than copy.deepcopy; anything
    else (a subclass, an object a plugin stored) is deep-copied."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {k: v if type(v) in _ATOMS else _copy_value(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else _copy_value(v) for v in value]
    if kind is tuple:
        return value if _ATOMS.issuperset(map(type, value)) else tuple(_copy_value(v) for v in value)
    return copy.deepcopy(value)


def _same(a: Any, b: Any) -> bool:
    """Equal, with numbers of the same type: undo must bring back 1.0, not 1 (they compare equal)."""
    if a is b:
        return True
    if type(a) is Node and type(b) is Node:  # the common case: only the parameters' types to check
        return a == b and _same_types(a.params, b.params)
    return a == b and _same_types(a, b)


def _same_types(a: Any, b: Any) -> bool:
    # Called on values that compare equal, so only the types are left to check. Loops rather than
    # a call per value: undo compares every node of the graph.
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        for key, x in a.items():
            y = b[key]
            if type(x) is not type(y) or (type(x) not in _ATOMS and not _same_types(x, y)):
                return False
        return True
    if kind is list or kind is tuple:
        for x, y in zip(a, b, strict=True):
            if type(x) is not type(y) or (type(x) not in _ATOMS and not _same_types(x, y)):
                return False
        return True
    if kind is Node:  # (positions are saved as float(), so only the parameters can differ in a file)
        return _same_types(a.params, b.params)
    if kind is Group:
        return _same_types(a.rect, b.rect)
    return True


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
