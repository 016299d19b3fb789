"""Collapsed nodes (shown as their title bar only), kept in the graph's meta so files remember them."""

from __future__ import annotations

from collections.abc import Iterable

from studio.graph import Graph

META_KEY = "collapsed"  # graph.meta["collapsed"] = ["node_id", ...]


def collapsed_ids(graph: Graph) -> set[str]:
    """The ids of the collapsed nodes that exist (a stale entry never collapses a new node)."""
    raw = graph.meta.get(META_KEY, [])
    if not isinstance(raw, list):
        return set()
    return {nid for nid in raw if isinstance(nid, str) and nid in graph.nodes}


def set_collapsed(graph: Graph, node_ids: Iterable[str], on: bool) -> None:
    """Collapse or expand nodes (call it inside an edit: it goes through the undo stack)."""
    ids = collapsed_ids(graph)
    ids = ids | set(node_ids) if on else ids - set(node_ids)
    graph.set_meta(META_KEY, sorted(ids) if ids else None)


def forget(graph: Graph, node_ids: Iterable[str]) -> None:
    """Drop removed nodes from the list (inside the edit that removes them: ids are reused)."""
    raw = graph.meta.get(META_KEY)
    if isinstance(raw, list) and set(raw) & set(node_ids):
        set_collapsed(graph, node_ids, False)
