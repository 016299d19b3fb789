"""One open document in the editor: the graph, its file, its undo stack and its dirty state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from studio.fileio import file_sha256
from studio.graph import Graph, GraphChange, NodeRegistry, load_graph, save_graph
from studio.ui.shell.commands import GraphEdit, MoveNodes, SetParam


class EditSession(QObject):
    """The document model the widgets share. Edits go through ``undo`` (a QUndoStack)."""

    changed = Signal()  # any change of the graph (edit, undo, redo, load)
    graph_changed = Signal(object)  # each GraphChange, for views that sync item by item
    path_changed = Signal(object)  # Path | None
    dirty_changed = Signal(bool)

    def __init__(self, registry: NodeRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.graph = Graph()
        self.path: Path | None = None
        # The digest of the file as this session last read or wrote it (None: not known), so a save can see
        # that another window or program wrote it meanwhile instead of overwriting that work unseen.
        self.disk_digest: str | None = None
        self.undo = QUndoStack(self)
        self.undo.setUndoLimit(500)
        self._restored = False  # content came from a recovery file: dirty until saved
        self.graph.subscribe(self._on_graph_change)
        self.undo.cleanChanged.connect(self._clean_changed)

    # ---- state
    @property
    def dirty(self) -> bool:
        return self._restored or not self.undo.isClean()

    @property
    def display_name(self) -> str:
        return self.path.name if self.path else "Untitled"

    def _clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(self._restored or not clean)

    def _on_graph_change(self, change: GraphChange) -> None:
        self.graph_changed.emit(change)
        self.changed.emit()

    # ---- edits
    def edit(self, text: str, mutate: Callable[[Graph], Any]) -> None:
        """Push a structural edit (add, remove, connect, group...) as one undo step."""
        errors: list[BaseException] = []
        self.undo.push(GraphEdit(self, text, mutate, errors))
        if errors:
            raise errors[0]

    def move(self, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
             mergeable: bool = False) -> None:
        moves = {nid: pair for nid, pair in moves.items() if pair[0] != pair[1] and nid in self.graph.nodes}
        if moves:
            self.undo.push(MoveNodes(self, moves, mergeable))

    def set_param(self, node_id: str | list[str], name: str, value: Any, merge_key: object | None = None) -> None:
        """Set a parameter on a node, or on several at once (one undo step)."""
        ids = [node_id] if isinstance(node_id, str) else list(node_id)
        olds = {nid: self.graph.nodes[nid].params.get(name) for nid in ids if nid in self.graph.nodes}
        if all(old == value and type(old) is type(value) for old in olds.values()):
            return
        self.undo.push(SetParam(self, olds, name, value, merge_key))

    # ---- files
    def new(self) -> None:
        self.graph.replace_with(Graph())
        self._reset(None)

    def load(self, path: str | Path, as_copy: bool = False) -> None:
        """Open a graph file (GraphFileError on a bad file, leaving the current one alone).

        ``as_copy`` opens it untitled (examples), so saving asks for a new name."""
        path = Path(path).resolve()
        digest = file_digest(path)
        loaded = load_graph(path, self.registry)
        self.graph.replace_with(loaded)
        self._reset(None if as_copy else path)
        self.disk_digest = None if as_copy else digest

    def restore(self, graph: Graph, source: Path | None) -> None:
        """Take over a recovered graph; it stays dirty until the user saves it."""
        self.graph.replace_with(graph)
        self._reset(source)
        self._restored = True
        self.dirty_changed.emit(True)

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path).resolve() if path else self.path
        if target is None:
            raise ValueError("no file name: use save as")
        save_graph(self.graph, target, self.registry)
        self.disk_digest = file_digest(target)
        self._restored = False
        self.undo.setClean()
        if target != self.path:
            self.path = target
            self.path_changed.emit(target)
        self.dirty_changed.emit(self.dirty)
        return target

    def changed_on_disk(self) -> bool:
        """Whether the file this session edits was written by someone else since it read or saved it (another
        Studio window on the same file, a text editor, a sync tool). A file gone is not a change: saving
        writes it again."""
        if self.path is None or self.disk_digest is None:
            return False
        now = file_digest(self.path)
        return now is not None and now != self.disk_digest

    def _reset(self, path: Path | None) -> None:
        self.disk_digest = None
        self.undo.clear()
        self.undo.setClean()
        self._restored = False
        self.path = path
        self.path_changed.emit(path)
        self.dirty_changed.emit(False)


def file_digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or None when it cannot be read."""
    try:
        return file_sha256(path)
    except OSError:
        return None
