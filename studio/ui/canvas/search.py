"""The add-node search box: type a few letters, fuzzy-matched over titles, categories and ids."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from studio.graph import NodeSpec


def _token_score(token: str, text: str) -> float | None:
    """How well ``token`` matches ``text``: substring beats word start beats scattered letters."""
    at = text.find(token)
    if at >= 0:
        starts_word = at == 0 or not text[at - 1].isalnum()
        return 10.0 + (6.0 if at == 0 else 3.0 if starts_word else 0.0) - 0.01 * at + 2.0 * (len(token) == len(text))
    score, pos, run = 0.0, 0, 0
    for ch in token:
        found = text.find(ch, pos)
        if found < 0:
            return None
        run = run + 1 if found == pos else 0
        score += 1.0 + run + (1.5 if found == 0 or not text[found - 1].isalnum() else 0.0)
        score -= 0.05 * (found - pos)
        pos = found + 1
    return max(0.1, score / max(1, len(token)))


def fuzzy_score(query: str, spec: NodeSpec) -> float | None:
    """Score of a node type for a query; None when some word of the query does not match at all."""
    return score_fields(query, ((spec.title, 3.0), (spec.type_id, 1.5), (spec.category, 1.0)))


def score_fields(query: str, fields: tuple[tuple[str, float], ...]) -> float | None:
    """Every word of the query must match one of the weighted fields; the best matches add up."""
    words = query.lower().split()
    if not words:
        return 0.0
    fields = tuple((text.lower(), weight) for text, weight in fields)
    total = 0.0
    for word in words:
        best = None
        for text, weight in fields:
            s = _token_score(word, text)
            if s is not None and (best is None or s * weight > best):
                best = s * weight
        if best is None:
            return None
        total += best
    return total


def rank(query: str, specs: list[NodeSpec]) -> list[NodeSpec]:
    scored = [(fuzzy_score(query, s), s) for s in specs]
    kept = [(sc, s) for sc, s in scored if sc is not None]
    kept.sort(key=lambda pair: (-pair[0], pair[1].category, pair[1].title))
    return [s for _, s in kept]


class NodeSearch(QFrame):
    """A small floating box over the canvas: a line edit and the matching node types."""

    chosen = Signal(object)  # NodeSpec

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("NodeSearch")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Add node: type a name…")
        self.edit.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.resize(300, 320)
        self._specs: list[NodeSpec] = []
        self.recent: list[str] = []  # type ids added lately: listed first while nothing is typed
        self.edit.textChanged.connect(self._refilter)
        self.edit.installEventFilter(self)
        self.list.itemClicked.connect(lambda _item: self.accept())
        self.hide()

    def open_at(self, at: QPoint, specs: list[NodeSpec]) -> None:
        self._specs = specs
        self.move(at)
        self.keep_inside()
        self.edit.clear()
        self._refilter("")
        self.show()
        self.raise_()
        self.edit.setFocus()

    def keep_inside(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        x = max(0, min(self.x(), parent.width() - self.width()))
        y = max(0, min(self.y(), parent.height() - self.height()))
        self.move(x, y)

    def _refilter(self, text: str) -> None:
        self.list.clear()
        found = rank(text, self._specs)
        if not text.strip() and self.recent:
            order = {type_id: i for i, type_id in enumerate(self.recent)}
            found.sort(key=lambda s: order.get(s.type_id, len(order)))  # stable: the rest keep their order
        for spec in found:
            item = QListWidgetItem(f"{spec.title}    ·  {spec.category}")
            item.setData(Qt.ItemDataRole.UserRole, spec.type_id)
            item.setToolTip(f"{spec.type_id}\n{spec.help}".strip())
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def current(self) -> NodeSpec | None:
        item = self.list.currentItem()
        if item is None:
            return None
        type_id = item.data(Qt.ItemDataRole.UserRole)
        return next((s for s in self._specs if s.type_id == type_id), None)

    def accept(self) -> None:
        spec = self.current()
        self.hide()
        if spec is not None:
            self.recent = [spec.type_id] + [t for t in self.recent if t != spec.type_id][:7]
            self.chosen.emit(spec)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.edit and event.type() == QEvent.Type.ShortcutOverride:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Escape:
                # Esc is ours while the box is open: not the window's Cancel Render (it would stop a render).
                event.accept()
                return True
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept()
                return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                self.parentWidget().setFocus()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
                step = -1 if key in (Qt.Key.Key_Up, Qt.Key.Key_Backtab) else 1
                if self.list.count():
                    self.list.setCurrentRow((self.list.currentRow() + step) % self.list.count())
                return True
        if watched is self.edit and event.type() == QEvent.Type.FocusOut and not self.list.underMouse():
            self.hide()
        return super().eventFilter(watched, event)


class NodeFinder(NodeSearch):
    """The same box over the nodes of the graph (Ctrl+F): pick one to select it and go there."""

    found = Signal(str)  # node id

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.edit.setPlaceholderText("Find a node: name, id or type…")
        self._nodes: list[tuple[str, str, str]] = []  # id, title, type id

    def open_nodes(self, at: QPoint, nodes: list[tuple[str, str, str]]) -> None:
        self._nodes = nodes
        self.open_at(at, [])

    def _refilter(self, text: str) -> None:
        self.list.clear()
        scored = [(score_fields(text, ((title, 3.0), (nid, 2.0), (kind, 1.0))), nid, title, kind)
                  for nid, title, kind in getattr(self, "_nodes", [])]
        for _, nid, title, kind in sorted((x for x in scored if x[0] is not None), key=lambda x: (-x[0], x[1])):
            item = QListWidgetItem(f"{title}    ·  {nid}")
            item.setData(Qt.ItemDataRole.UserRole, nid)
            item.setToolTip(kind)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def accept(self) -> None:
        item = self.list.currentItem()
        self.hide()
        if item is not None:
            self.found.emit(item.data(Qt.ItemDataRole.UserRole))
