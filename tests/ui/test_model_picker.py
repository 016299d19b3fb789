"""Load Model's Models… picker: what Studio finds, with family, kind and size; the choice is one undo step."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialog

from studio.graph import NodeRegistry
from tests.ui.conftest import settle


@pytest.fixture
def registry():
    from nodes.model import load_model
    from tests.ui.conftest import ui_registry

    reg: NodeRegistry = ui_registry()
    reg.register(load_model)
    return reg


def test_the_picker_lists_the_embedded_model_and_a_folder_added_to_it(qtbot, tiny_wan):
    from studio.ui.dialogs.model_picker import ModelPicker

    picker = ModelPicker("embedded")
    qtbot.addWidget(picker)
    qtbot.waitUntil(lambda: bool(picker.found), timeout=30_000)
    names = [info.source for info, _ in picker.found]
    assert "embedded" in names and picker.chosen == "embedded"  # the current one is selected
    picker.add_folder(str(tiny_wan))
    qtbot.waitUntil(lambda: any(info.kind == "folder" for info, _ in picker.found), timeout=30_000)
    row = next(i for i, (info, _) in enumerate(picker.found) if info.kind == "folder")
    info, size = picker.found[row]
    assert info.family == "wan" and size > 0
    assert picker.table.item(row, 1).text() == "wan" and picker.table.item(row, 4).text() == "ready"
    picker.table.selectRow(row)
    assert picker.chosen == info.source


def test_choosing_a_model_in_the_inspector_sets_the_parameter_as_one_undo_step(window, monkeypatch, qtbot):
    from studio.ui.dialogs.model_picker import ModelPicker

    window.session.edit("Add", lambda g: g.add_node(window.registry.get("studio.LoadModel"), "model"))
    window.inspector.show_node("model")
    settle()

    def choose(picker) -> int:
        qtbot.waitUntil(lambda: bool(picker.found), timeout=30_000)
        picker.chosen = "/models/wan-1.3b"
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ModelPicker, "exec", choose)
    steps = window.session.undo.count()
    assert window.inspector.pick_model(window.inspector.editors["source"]) == "/models/wan-1.3b"
    assert window.session.graph.nodes["model"].params["source"] == "/models/wan-1.3b"
    assert window.session.undo.count() == steps + 1
    window.session.undo.undo()
    assert window.session.graph.nodes["model"].params["source"] == "embedded"
