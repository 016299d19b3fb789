"""What a node's result depends on in the document, as one digest: its render key.

The editor compares these instead of counting edits: a node is stale when its key differs from the key it was
rendered with, so an undo back to exactly the rendered graph reads as current again (an edit counter or the
undo index cannot tell "changed and changed back" from "changed"). Like the engine's cache key, a key covers
the node's type and version, bypass, parameters (defaults filled in) and, through the links into it, the keys of
what feeds it; it does not stat input files (the engine's own key does that when it runs).
"""

from __future__ import annotations

from collections.abc import Iterable

from studio.engine.keys import digest
from studio.graph import Graph, NodeRegistry


class RenderKeys:
    """Keys of ``graph``'s nodes, each computed once (a node's key needs its upstream's keys first)."""

    def __init__(self, graph: Graph, registry: NodeRegistry) -> None:
        self.graph, self.registry = graph, registry
        self._keys: dict[str, str] = {}

    def key(self, node_id: str) -> str | None:
        """The node's key; None when it is not in the graph."""
        if node_id not in self.graph.nodes:
            return None
        found = self._keys.get(node_id)
        if found is not None:
            return found
        # an explicit walk, not recursion: a long chain of nodes must not hit Python's recursion limit
        todo, on_path = [node_id], set()
        while todo:
            nid = todo[-1]
            if nid in self._keys:
                todo.pop()
                continue
            waiting = [lk.src for lk in self.graph.inputs_of(nid)
                       if lk.src in self.graph.nodes and lk.src not in self._keys and lk.src not in on_path]
            if waiting:
                on_path.add(nid)
                todo.extend(waiting)
                continue
            todo.pop()
            on_path.discard(nid)
            self._keys[nid] = self._own(nid)
        return self._keys[node_id]

    def keys(self, node_ids: Iterable[str] | None = None) -> dict[str, str]:
        ids = self.graph.nodes if node_ids is None else node_ids
        return {nid: key for nid in ids if (key := self.key(nid)) is not None}

    def _own(self, nid: str) -> str:
        node = self.graph.nodes[nid]
        spec = self.registry.get(node.type)
        params = (spec.default_params() if spec is not None else {}) | dict(node.params)
        inputs = sorted([lk.dst_port, self._keys.get(lk.src, "?"), lk.src_port] for lk in self.graph.inputs_of(nid))
        return digest({"type": node.type, "version": node.version, "bypassed": node.bypassed, "params": params,
                       "inputs": inputs})


def render_keys(graph: Graph, registry: NodeRegistry, node_ids: Iterable[str] | None = None) -> dict[str, str]:
    """The render key of each of ``node_ids`` (default: every node) in ``graph``."""
    return RenderKeys(graph, registry).keys(node_ids)
