"""The inspector dock: the selected node's parameters with fitting widgets, help and problems."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph import GraphChange, ParamSpec, validate
from studio.ui.inspector.driving import drive_button, driven_note
from studio.ui.inspector.records import RecordTable
from studio.ui.inspector.undo_keys import UndoKeys
from studio.ui.inspector.wheel import WheelGuard
from studio.ui.shell import theme
from studio.ui.shell.session import EditSession

SEED_MAX = 2**63 - 1
SLIDER_STEPS = 1000
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # a QSpinBox holds 32 bits
Commit = Callable[[Any, object], None]


class MergeClock:
    """Gives the same merge key to edits of one widget that follow each other within ``window`` s."""

    def __init__(self, name: str, window: float = 1.0) -> None:
        self.name, self.window = name, window
        self._last = 0.0
        self._serial = 0
        self.hold = False  # while a slider is held, everything merges

    def key(self) -> tuple[str, int]:
        now = time.monotonic()
        if not self.hold and now - self._last > self.window:
            self._serial += 1
        self._last = now
        return self.name, self._serial

    def restart(self) -> None:
        self._serial += 1
        self._last = time.monotonic()


class ParamEditor(QWidget):
    """One parameter's editing widget; ``set_value`` shows a value without committing it."""

    def __init__(self, spec: ParamSpec, commit: Commit, output_node: bool = False,
                 output_folder: Callable[[], Path] | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.output_folder = output_folder  # where a written file's name is relative to (see output_folder.py)
        self._commit = commit
        self._quiet = False
        self.clock = MergeClock(spec.name)
        self.output_node = output_node
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.layout_ = layout
        self._build(spec)

    def commit(self, value: Any, merge: bool = True) -> None:
        if not self._quiet:
            self._commit(value, self.clock.key() if merge else None)

    def set_value(self, value: Any) -> None:
        self._quiet = True
        try:
            self._show(value)
        finally:
            self._quiet = False

    # ---- per kind
    def _build(self, spec: ParamSpec) -> None:
        kind = spec.kind
        if kind in ("int", "float"):
            self._build_number(spec)
        elif kind == "seed":
            # seeds go up to 2**63 - 1, beyond a QSpinBox: a validated line edit and a dice button
            self.seed_edit = QLineEdit()
            self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,19}")))
            self.seed_edit.editingFinished.connect(self._seed_typed)
            dice = QToolButton()
            dice.setIcon(theme.icon("dice"))
            dice.setToolTip("A new random seed")
            dice.setObjectName("dice")
            dice.clicked.connect(self._roll)
            self.dice = dice
            self.layout_.addWidget(self.seed_edit, 1)
            self.layout_.addWidget(dice)
            self._show = lambda v: self.seed_edit.setText(str(int(v or 0)))
        elif kind == "bool":
            self.check = QCheckBox()
            self.check.toggled.connect(lambda on: self.commit(bool(on), False))
            self.layout_.addWidget(self.check)
            self.layout_.addStretch(1)
            self._show = lambda v: self.check.setChecked(bool(v))
        elif kind == "enum":
            self.combo = QComboBox()
            self.combo.addItems(list(spec.choices))
            self.combo.currentTextChanged.connect(lambda t: self.commit(t, False))
            self.layout_.addWidget(self.combo, 1)
            self._show = lambda v: self.combo.setCurrentText(str(v))
        elif kind == "text":
            self.text = QPlainTextEdit()
            self.text.setFixedHeight(72)
            self.text.setTabChangesFocus(True)
            self.clock.window = 2.0
            self.text.textChanged.connect(lambda: self.commit(self.text.toPlainText()))
            self.layout_.addWidget(self.text, 1)
            self._show = self._show_text
        elif kind == "json":
            self._build_json()
        elif kind == "color":
            self.swatch = QPushButton()
            self.swatch.clicked.connect(self._pick_color)
            self.layout_.addWidget(self.swatch, 1)
            self._show = self._show_color
        elif kind == "string" and spec.choices:
            # choices of a string are suggestions (the speed presets): pick one, or type any other value
            self.combo = QComboBox()
            self.combo.setEditable(True)
            self.combo.addItems(list(spec.choices))
            self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            self.combo.activated.connect(lambda _i: self.commit(self.combo.currentText(), False))
            self.combo.lineEdit().editingFinished.connect(lambda: self.commit(self.combo.currentText(), False))
            self.layout_.addWidget(self.combo, 1)
            self._show = lambda v: self.combo.setEditText("" if v is None else str(v))
        else:  # string and path
            self.line = QLineEdit()
            self.line.editingFinished.connect(lambda: self.commit(self.line.text(), False))
            self.layout_.addWidget(self.line, 1)
            if kind == "path":
                browse = QToolButton()
                browse.setIcon(theme.icon("folder"))
                browse.setToolTip("Choose a file…")
                browse.clicked.connect(self._browse)
                self.layout_.addWidget(browse)
            self._show = lambda v: self.line.setText("" if v is None else str(v))

    def _build_json(self) -> None:
        """Structured data (keyframes, schedules) as JSON text; committed whenever it parses. A list of records
        with declared columns shows as a table first, with the JSON text one click away."""
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        self.table = None
        if self.spec.columns:
            self.table = RecordTable(self.spec.columns, lambda records: self.commit(records, False))
            column.addWidget(self.table)
            self.json_toggle = QToolButton(text="JSON")
            self.json_toggle.setCheckable(True)
            self.json_toggle.setToolTip("Edit the list as JSON text")
            self.table.layout().itemAt(1).layout().addWidget(self.json_toggle)
        self.text = QPlainTextEdit()
        self.text.setFixedHeight(96)
        self.text.setTabChangesFocus(True)
        self.text.setFont(theme.font(8.5))
        self.json_error = QLabel()
        self.json_error.setObjectName("Problem")
        self.json_error.setWordWrap(True)
        self.json_error.hide()
        column.addWidget(self.text)
        column.addWidget(self.json_error)
        self.layout_.addWidget(box, 1)
        self.clock.window = 2.0
        self.text.textChanged.connect(self._json_typed)
        self._show = self._show_json
        if self.table is not None:
            self.text.hide()
            self.json_toggle.toggled.connect(self.text.setVisible)

    def _json_typed(self) -> None:
        if self._quiet:
            return
        try:
            value = json.loads(self.text.toPlainText())
        except ValueError as exc:
            self.json_error.setText(f"not valid JSON yet: {exc}")
            self.json_error.show()
            return
        if not isinstance(value, list | dict):
            self.json_error.setText("expects a list [...] or an object {...}")
            self.json_error.show()
            return
        self.json_error.hide()
        self.commit(value)

    def _show_json(self, value: Any) -> None:
        if self.table is not None:
            self.table.show_records(value)
        try:
            current = json.loads(self.text.toPlainText())
        except ValueError:
            current = object()
        if current != value:
            self.text.setPlainText(json.dumps(value, indent=1, ensure_ascii=False))
        self.json_error.hide()

    def _build_number(self, spec: ParamSpec) -> None:
        is_int = spec.kind == "int"
        lo = spec.minimum
        hi = spec.soft_maximum if spec.soft_maximum is not None else spec.maximum
        if is_int:
            self.spin = QSpinBox()
            self.spin.setRange(max(INT_MIN, int(spec.minimum)) if spec.minimum is not None else INT_MIN,
                               min(INT_MAX, int(spec.maximum)) if spec.maximum is not None else INT_MAX)
            self.spin.valueChanged.connect(lambda v: self.commit(int(v)))
        else:
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(3)
            self.spin.setSingleStep(0.1 if hi is None or lo is None or hi - lo > 2 else 0.01)
            self.spin.setRange(spec.minimum if spec.minimum is not None else -1e9,
                               spec.maximum if spec.maximum is not None else 1e9)
            self.spin.valueChanged.connect(lambda v: self.commit(float(v)))
        self.slider = None
        if lo is not None and hi is not None and hi > lo:
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, SLIDER_STEPS)
            slider.setPageStep(SLIDER_STEPS // 10)
            slider.valueChanged.connect(self._slider_moved)
            slider.sliderPressed.connect(self._slider_pressed)
            slider.sliderReleased.connect(self._slider_released)
            self.slider = slider
            self._lo, self._hi = float(lo), float(hi)
            self.layout_.addWidget(slider, 3)
        self.layout_.addWidget(self.spin, 2 if self.slider else 1)
        self._show = self._show_number

    def _seed_range(self) -> tuple[int, int]:
        lo = int(self.spec.minimum) if self.spec.minimum is not None else 0
        hi = int(self.spec.maximum) if self.spec.maximum is not None else SEED_MAX
        return lo, hi

    def _seed_typed(self) -> None:
        text = self.seed_edit.text()
        if text:
            lo, hi = self._seed_range()
            self.commit(max(lo, min(hi, int(text))), False)

    def _roll(self) -> None:
        lo, hi = self._seed_range()
        value = random.randint(lo, max(lo, min(hi, 2**32 - 1)))
        self.seed_edit.setText(str(value))
        self.commit(value, False)

    def _slider_pressed(self) -> None:
        self.clock.restart()
        self.clock.hold = True

    def _slider_released(self) -> None:
        self.clock.hold = False

    def _slider_moved(self, position: int) -> None:
        if self._quiet:
            return
        value = self._lo + (self._hi - self._lo) * position / SLIDER_STEPS
        if self.spec.kind == "int":
            value = round(value)
        self.spin.setValue(value)  # commits through the spin box, with the slider's merge key

    def _show_number(self, value: Any) -> None:
        value = value if isinstance(value, int | float) else 0
        # The spin box commits as each key is typed and hears the value back here: setValue on the value it
        # already holds still rewrites its text ("1" -> "1.000", cursor after it), so "12.5" typed into a
        # float became 12. Only a different value is written.
        if self.spin.value() != value:
            self.spin.setValue(value)
        if self.slider is not None:
            t = (float(value) - self._lo) / (self._hi - self._lo)
            self.slider.setValue(round(max(0.0, min(1.0, t)) * SLIDER_STEPS))

    def _show_text(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.text.toPlainText() != text:
            cursor = self.text.textCursor().position()
            self.text.setPlainText(text)
            c = self.text.textCursor()
            c.setPosition(min(cursor, len(text)))
            self.text.setTextCursor(c)

    def _show_color(self, value: Any) -> None:
        text = value if isinstance(value, str) and QColor(value).isValid() else "#000000"
        self.swatch.setText(text)
        fg = "#000000" if QColor(text).lightness() > 128 else "#ffffff"
        self.swatch.setStyleSheet(f"background: {text}; color: {fg};")

    def _pick_color(self) -> None:
        chosen = QColorDialog.getColor(QColor(self.swatch.text()), self, self.spec.title)
        if chosen.isValid():
            self.commit(chosen.name(), False)

    def _browse(self) -> None:
        spec = self.spec
        current = self.line.text()
        if spec.output_file and self.output_folder is not None:
            self._browse_output(self.output_folder())
            return
        if self.output_node:
            path, _ = QFileDialog.getSaveFileName(self, spec.title, current, spec.file_filter)
        else:
            path, _ = QFileDialog.getOpenFileName(self, spec.title, current, spec.file_filter)
        if path:
            self.line.setText(path)
            self.commit(path, False)

    def _browse_output(self, folder: Path) -> None:
        """A save dialog that starts in the output folder; the file is stored as a name inside it."""
        from studio.ui.shell.output_folder import name_in_folder, refuse_outside

        folder.mkdir(parents=True, exist_ok=True)
        start = str(folder / (self.line.text() or ""))
        path, _ = QFileDialog.getSaveFileName(self, self.spec.title, start, self.spec.file_filter)
        if not path:
            return
        name = name_in_folder(path, folder)
        if name is None:
            refuse_outside(self, folder)
            return
        self.line.setText(name)
        self.commit(name, False)


class Inspector(QScrollArea):
    """Shows one node (or several of one type, edited together): name, help, bypass switch,
    parameters and problems."""

    # (node id, parameter, row): a row of a parameter's table was selected (-1: none or several); the window
    # hands it to the timeline, which outlines the shot of a Shot List's row
    record_chosen = Signal(str, str, int)

    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.node_id: str | None = None
        self.node_ids: list[str] = []  # every node an edit applies to (node_id first)
        self.editors: dict[str, ParamEditor] = {}
        self.problem_labels: dict[str, QLabel] = {}
        self.setWidgetResizable(True)
        self.setMinimumWidth(280)
        self._wheel_guard = WheelGuard(self)
        self._undo_keys = UndoKeys(self)
        self._problem_timer = QTimer(self)  # one validation after a burst of changes, not one per change
        self._problem_timer.setSingleShot(True)
        self._problem_timer.setInterval(0)
        self._problem_timer.timeout.connect(self._show_problems)
        session.graph_changed.connect(self._on_change)
        self.show_node(None)

    def show_nodes(self, node_ids: list[str]) -> None:
        graph = self.session.graph
        types = {graph.nodes[n].type for n in node_ids if n in graph.nodes}
        if len(node_ids) == 1:
            self.show_node(node_ids[0])
        elif node_ids and len(types) == 1 and self.session.registry.get(next(iter(types))) is not None:
            self.show_node(node_ids[0], together=node_ids)
        elif node_ids:
            self.show_node(None, f"{len(node_ids)} nodes of different types selected.\n"
                                 "Select nodes of one type to edit them together.")
        else:
            self.show_node(None)

    def show_node(self, node_id: str | None, hint: str = "", together: list[str] | None = None) -> None:
        self.node_id = node_id if node_id in self.session.graph.nodes else None
        self.node_ids = [n for n in (together or [node_id]) if n in self.session.graph.nodes]
        self.editors.clear()
        self.problem_labels.clear()
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(8)
        if self.node_id is None:
            label = QLabel(hint or "Select a node to see its parameters.\nTab or double-click the canvas to add one.")
            label.setObjectName("EmptyHint")
            label.setWordWrap(True)
            outer.addWidget(label)
            outer.addStretch(1)
            self.setWidget(body)
            return
        node = self.session.graph.nodes[self.node_id]
        spec = self.session.registry.get(node.type)
        self._type_title = spec.title if spec else node.type
        self.title_edit = QLineEdit(node.title or self._type_title)
        self.title_edit.setObjectName("InspectorTitle")
        self.title_edit.setToolTip("The node's name on the canvas (clear it for the type's name)")
        self.title_edit.editingFinished.connect(self._rename)
        outer.addWidget(self.title_edit)
        many = len(self.node_ids) > 1
        if many:
            self.title_edit.setText(f"{len(self.node_ids)} × {self._type_title}")
            self.title_edit.setEnabled(False)
        where = ", ".join(self.node_ids) if many else node.id
        kind = QLabel(f"{where}  ·  {node.type}" + (f"  ·  {spec.category}" if spec else ""))
        kind.setWordWrap(True)
        kind.setObjectName("InspectorType")
        kind.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(kind)
        if spec is None:
            missing = QLabel(f"This node's type '{node.type}' is not installed. It is kept unchanged in the "
                             "file; install its node pack to edit or run it.")
            missing.setObjectName("Problem")
            missing.setWordWrap(True)
            outer.addWidget(missing)
        elif spec.help:
            help_label = QLabel(spec.help)
            help_label.setObjectName("InspectorHelp")
            help_label.setWordWrap(True)
            outer.addWidget(help_label)
        self.bypass = QCheckBox("Bypass (pass the input through)")
        self.bypass.setChecked(node.bypassed)
        self.bypass.toggled.connect(self._set_bypass)
        outer.addWidget(self.bypass)
        self.general_problems = QLabel()
        self.general_problems.setObjectName("Problem")
        self.general_problems.setWordWrap(True)
        outer.addWidget(self.general_problems)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        # In a narrow column a wide editor (a table, a path with its button) goes under its label instead of
        # widening the inspector past its dock (a horizontal scroll bar, text cut at the edge).
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setVerticalSpacing(4)
        for pspec in spec.params if spec else ():
            editor = ParamEditor(pspec, self._committer(pspec.name), output_node=spec.is_output,
                                 output_folder=self._output_folder)
            editor.set_value(node.params.get(pspec.name, pspec.default))
            editor.setToolTip(pspec.help)
            self.editors[pspec.name] = editor
            table = getattr(editor, "table", None)
            if table is not None and not many:
                table.row_selected.connect(
                    lambda row, nid=self.node_id, name=pspec.name: self.record_chosen.emit(nid, name, row))
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 6)
            column.setSpacing(2)
            note = None
            beside = None  # a button beside the editor: the model picker, or driving it by a link
            if spec is not None and spec.roles.model_source == pspec.name and not many:
                beside = self._models_button(editor)
            elif pspec.name == "speed" and spec is not None and spec.param("seed") is not None and not many:
                beside = self._measure_button()
            elif pspec.drivable and not many and spec is not None:
                beside = drive_button(self.session, self.node_id, pspec)
                note = driven_note(self.session, self.node_id, pspec)
                editor.setEnabled(note is None)
            if beside is not None:
                row = QHBoxLayout()
                row.setSpacing(4)
                row.addWidget(editor, 1)
                row.addWidget(beside)
                column.addLayout(row)
            else:
                column.addWidget(editor)
            if note is not None:
                column.addWidget(note)
            if pspec.help:
                help_label = QLabel(pspec.help)
                help_label.setObjectName("ParamHelp")
                help_label.setWordWrap(True)
                column.addWidget(help_label)
            problem = QLabel()
            problem.setObjectName("Problem")
            problem.setWordWrap(True)
            problem.hide()
            column.addWidget(problem)
            self.problem_labels[pspec.name] = problem
            label = QLabel(pspec.title)
            label.setWordWrap(True)  # "Transformer file" takes two lines rather than widening the inspector
            label.setToolTip(pspec.help)
            if many and len({repr(self.session.graph.nodes[n].params.get(pspec.name)) for n in self.node_ids}) > 1:
                label.setText(pspec.title + " ≠")  # the selected nodes differ here; shown: the first's
                label.setToolTip("The selected nodes have different values; an edit sets all of them.\n"
                                 + pspec.help)
            form.addRow(label, cell)
        outer.addLayout(form)
        outer.addStretch(1)
        self.setWidget(body)
        self._wheel_guard.guard(body)
        self._undo_keys.guard(body)
        self._show_problems()

    def _models_button(self, editor: ParamEditor) -> QToolButton:
        button = QToolButton()
        button.setText("Models…")
        button.setToolTip("Choose from the models Studio finds: the embedded one, your folders, the HF cache")
        button.clicked.connect(lambda: self.pick_model(editor))
        return button

    def _measure_button(self) -> QToolButton:
        button = QToolButton()
        button.setText("Measure…")
        button.setToolTip("Render this shot exactly and with each speed setting; keep which settings hold 25 dB "
                          "for this model (what 'balanced' picks from). As `studio bench-speed`.")
        button.clicked.connect(self.measure_speed)
        return button

    def measure_speed(self):  # noqa: ANN201 - the SpeedDialog, shown (not modal: the editor goes on)
        from studio.ui.dialogs.speed_dialog import SpeedDialog

        base = self.session.path.parent if self.session.path is not None else None
        self.speed_dialog = SpeedDialog(self.session.graph, self.session.registry, self.node_id, base, parent=self)
        self.speed_dialog.show()
        return self.speed_dialog

    def pick_model(self, editor: ParamEditor) -> str:
        """Open the model picker; the chosen model becomes the parameter (one undo step). Returns it or ''."""
        from studio.ui.dialogs.model_picker import ModelPicker

        node = self.session.graph.nodes.get(self.node_id) if self.node_id else None
        current = str(node.params.get(editor.spec.name, "")) if node is not None else ""
        self.model_picker = ModelPicker(current, self)
        if self.model_picker.exec() == ModelPicker.DialogCode.Accepted and self.model_picker.chosen:
            editor.commit(self.model_picker.chosen, False)
            return self.model_picker.chosen
        return ""

    def _output_folder(self) -> Path:
        from studio.ui.shell.output_folder import output_folder

        return output_folder(self.session.path)

    def _committer(self, name: str) -> Commit:
        def commit(value: Any, merge_key: object) -> None:
            if self.node_id is not None:
                key = (tuple(self.node_ids), merge_key) if merge_key is not None else None
                self.session.set_param(list(self.node_ids), name, value, key)

        return commit

    def _rename(self) -> None:
        nid = self.node_id
        if nid is None:
            return
        title = self.title_edit.text().strip()
        if title == self._type_title:
            title = ""
        if not title:
            self.title_edit.setText(self._type_title)
        if title != self.session.graph.nodes[nid].title:
            self.session.edit("Rename node", lambda g: g.update_node(nid, title=title))

    def _set_bypass(self, on: bool) -> None:
        ids = [n for n in self.node_ids if self.session.graph.nodes[n].bypassed != on]
        if ids:
            self.session.edit("Bypass" if on else "Un-bypass",
                              lambda g: [g.update_node(n, bypassed=on) for n in ids])

    def _on_change(self, change: GraphChange) -> None:
        if self.node_id is None:
            return
        if change.kind == "reset" or (change.kind == "node_removed" and change.node_id in self.node_ids):
            self.show_nodes([n for n in self.node_ids if n in self.session.graph.nodes])
            return
        if change.kind in ("link_added", "link_removed"):
            link = change.link
            if link is not None and link.dst == self.node_id and link.dst_port in self.editors:
                self.show_nodes(list(self.node_ids))  # a parameter started or stopped being driven
                return
            self._problem_timer.start()
            return
        if change.kind != "node_changed" or change.node_id != self.node_id:
            return
        if self.node_id not in self.session.graph.nodes:
            return
        node = self.session.graph.nodes[self.node_id]
        if "param" in change.detail:
            name = change.detail["param"]
            if name in self.editors:
                self.editors[name].set_value(node.params.get(name))
        if "title" in change.detail and self.title_edit.text() != (node.title or self._type_title):
            self.title_edit.setText(node.title or self._type_title)
        if "bypassed" in change.detail:
            self.bypass.blockSignals(True)
            self.bypass.setChecked(node.bypassed)
            self.bypass.blockSignals(False)
        self._problem_timer.start()

    def _show_problems(self) -> None:
        if self.node_id not in self.session.graph.nodes:
            return  # being removed: the node_removed notification follows
        ids = set(self.node_ids)
        many = len(ids) > 1
        problems = validate(self.session.graph, self.session.registry, ids)
        per_param: dict[str, list[str]] = {}
        rows: dict[str, dict[int, list[str]]] = {}  # the shown node's bad table rows (0-based), per parameter
        general = []
        for p in problems:
            if p.node_id not in ids:
                continue
            who = f"{p.node_id}: " if many else ""
            if p.where and p.where.startswith("parameter '"):
                name = p.where[len("parameter '"):-1]
                per_param.setdefault(name, []).append(who + p.message)
                if p.row is not None and p.node_id == self.node_id:  # the table shows the first node's rows
                    rows.setdefault(name, {}).setdefault(p.row - 1, []).append(p.message)
            else:
                general.append(who + (p.where + ": " if p.where else "") + p.message)
        for name, label in self.problem_labels.items():
            messages = per_param.get(name)
            label.setText("\n".join(messages or []))
            label.setVisible(bool(messages))
        for name, editor in self.editors.items():
            table = getattr(editor, "table", None)
            if table is not None:
                table.mark_rows({row: "\n".join(found) for row, found in rows.get(name, {}).items()})
        self.general_problems.setText("\n".join(general))
        self.general_problems.setVisible(bool(general))

    def select_row(self, name: str, row: int, column: str | None = None) -> bool:
        """Select row ``row`` (0-based) of parameter ``name``'s table, scrolled into view (a problem of that row
        was clicked, or its shot on the timeline), to its field ``column`` when given. Returns whether the row
        is there."""
        records = getattr(self.editors.get(name), "table", None)
        if records is None or not records.select_row(row, column):
            return False
        self.ensureWidgetVisible(records, 0, 40)
        return True
