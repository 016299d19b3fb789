"""Undo commands: every edit of the graph is one of these on the session's QUndoStack."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtGui import QUndoCommand

from studio.graph import Graph


class EditSession(Protocol):
    """What a command needs of the session it edits (studio.ui.shell.session.EditSession): its graph."""

    graph: Graph

MOVE_ID = 1001
PARAM_ID = 1002


class GraphEdit(QUndoCommand):
    """A structural edit: runs ``mutate`` once, then undoes and redoes by restoring copies of the graph
    taken before and after (``Graph.restore`` goes through the evented methods: views follow)."""

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
            self._before = graph.copy()
            try:
                self._mutate(graph)
            except Exception as exc:  # leave the graph as it was; the pusher re-raises
                graph.restore(self._before)
                self._errors.append(exc)
            self._after = graph.copy()
            if self._errors or self._before.same_content(self._after):
                self.setObsolete(True)
        else:
            graph.restore(self._after)

    def undo(self) -> None:
        assert self._before is not None
        self._session.graph.restore(self._before)


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
