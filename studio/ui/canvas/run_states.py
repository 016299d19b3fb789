"""What the canvas shows of runs on each node (queued, running, done, cached, failed, stale), and when a result
is stale: a node is stale while its render key differs from the key it had when its result came."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from studio.engine import (
    NodeCached,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    NodeWarning,
    RunFinished,
    RunStarted,
)
from studio.engine.engine import draft_copy
from studio.graph import Graph
from studio.ui.shell.render_keys import RenderKeys

if TYPE_CHECKING:
    from studio.ui.canvas.items import NodeItem
    from studio.ui.shell.session import EditSession

SHOWN = ("done", "cached", "failed")  # a result a node keeps showing, until an edit makes it stale


class Canvas(Protocol):
    """What run states need of the scene (its node items and the session), named here so that this module does
    not import the scene that imports it."""

    nodes: dict[str, NodeItem]
    session: EditSession


class RunStates:
    """Node states from a run's events; an edit marks what it touches stale, and an edit that brings a node back
    to the key it was rendered with (an undo, a value typed back) shows its result again."""

    def __init__(self, scene: Canvas) -> None:
        self.scene = scene
        self._ran: RenderKeys | None = None  # keys of the graph the current run renders (its snapshot)
        self._draft = False  # the current run is a draft: its graph is the canvas's at the draft steps
        # node id -> (render key, state, text, from a draft) of the last result each node showed: what "current"
        # means; a draft's result is current while the canvas's draft copy matches it
        self._results: dict[str, tuple[str, str, str, bool]] = {}
        self._returned: set[str] = set()  # nodes deleted and brought back since the last run (their items are new)

    def forget(self) -> None:
        """Another graph is on the canvas: no node shows a result, and none of the old ones can come back."""
        self._results.clear()
        self._returned.clear()
        self._ran = None
        for item in self.scene.nodes.values():
            item.set_state("")

    def apply(self, event: object, graph: Graph | None = None, draft: bool = False) -> None:
        """Show ``event`` on its node. ``graph``: the graph the run renders (a snapshot taken when it was queued;
        the canvas may have been edited since), given with RunStarted; without it, the canvas's graph.
        ``draft``: that graph is a draft copy (studio.engine.engine.draft_copy) of the canvas's."""
        nodes = self.scene.nodes
        if isinstance(event, RunStarted):
            self._ran = RenderKeys(graph if graph is not None else self.scene.session.graph.copy(),
                                   self.scene.session.registry)
            self._returned.clear()
            self._draft = draft
            for item in nodes.values():
                item.set_state("")
                item.clear_run_warnings()
            for nid in event.node_ids:
                if nid in nodes:
                    nodes[nid].set_state("queued", "queued")
            return
        if isinstance(event, RunFinished):
            for item in nodes.values():
                if item.state in ("queued", "running"):
                    item.set_state("cancelled" if event.status == "cancelled" else "", event.status)
            self._ran = None
            self.refresh()  # edits made while it ran: its results may already be stale
            return
        nid = getattr(event, "node_id", "")
        item = nodes.get(nid)
        if item is None:
            return
        if isinstance(event, NodeCached):
            item.set_state("cached", "cached")
        elif isinstance(event, NodeStarted):
            item.set_state("running", "starting", (0, 0))
            item.setToolTip(f"runs because: {event.reason}")
        elif isinstance(event, NodeProgress):
            item.set_state("running", f"step {event.step}/{event.total}", (event.step, event.total))
        elif isinstance(event, NodeFinished):
            item.set_state("done", f"done in {event.seconds:.2f} s")
        elif isinstance(event, NodeFailed):
            item.set_state("failed", event.message)
        elif isinstance(event, NodeWarning):
            item.add_run_warning(event.message)
        if isinstance(event, NodeCached | NodeFinished | NodeFailed):
            key = self._ran.key(nid) if self._ran is not None else None
            if key is not None:
                self._results[nid] = (key, item.state, item.state_text, self._draft)

    def mark_stale(self, node_id: str) -> None:
        """An edit of ``node_id``: it and every node downstream of it show "stale" instead of a result that no
        longer matches the graph, or their result again when the edit brought their key back to it."""
        graph = self.scene.session.graph
        todo, seen = [node_id], []
        while todo:
            nid = todo.pop()
            if nid in seen:
                continue
            seen.append(nid)
            todo.extend(link.dst for link in graph.links_from(nid))
        self._update(seen, "stale: edited", "stale: an input changed", node_id)

    def refresh(self, blank_too: bool = False) -> None:
        """Check every node against the key of its result (a run that ended while the canvas was edited, a graph
        restored whole); ``blank_too``: a node showing nothing shows its result again when the graph matches it."""
        self._update(list(self.scene.nodes), "stale: it rendered another version of the graph",
                     "stale: it rendered another version of the graph",
                     None, blank_too)

    def _update(self, node_ids: list[str], own: str, downstream: str, edited: str | None,
                blank_too: bool = False) -> None:
        session = self.scene.session
        keys = RenderKeys(session.graph, session.registry)
        drafted: RenderKeys | None = None
        for nid in node_ids:
            item = self.scene.nodes.get(nid)
            if item is None or item.state in ("queued", "running"):
                continue  # a run shows what it does now; its end checks again
            result = self._results.get(nid)
            if result is not None and result[3] and drafted is None:
                drafted = RenderKeys(draft_copy(session.graph, session.registry)[0], session.registry)
            now = (drafted if result is not None and result[3] else keys).key(nid)  # type: ignore[union-attr]
            if result is not None and now == result[0]:
                if item.state == "stale" or (not item.state and (blank_too or nid in self._returned)):
                    item.set_state(result[1], result[2])
            elif item.state in (*SHOWN, "cancelled") and (edited is not None or result is not None):
                # (a run's end re-checks results only: a node it cancelled shows "cancelled" until edited)
                item.set_state("stale", own if edited is None or nid == edited else downstream)

    def restore_item(self, node_id: str) -> None:
        """A node's item was made again (an undone delete): it shows its result once the graph matches it again
        (its links come back after it)."""
        self._returned.add(node_id)
        self._update([node_id], "", "", None, blank_too=True)
