"""Every node of the library fits the inspector at its narrowest: no horizontal scroll bar, no text cut at the
edge (Load Model's LoRA table and its Models… button once made it wider than the right column of a 1262 px
window)."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from studio.graph import NodeRegistry


def test_every_node_type_fits_the_inspector_without_a_horizontal_scroll(qtbot):
    from studio.ui.inspector.inspector import Inspector
    from studio.ui.shell.session import EditSession

    registry = NodeRegistry.default()
    session = EditSession(registry)
    inspector = Inspector(session)
    qtbot.addWidget(inspector)
    inspector.resize(inspector.minimumWidth(), 700)  # as narrow as its dock may make it
    inspector.show()
    too_wide = {}
    for spec in registry:
        session.graph.add_node(spec, spec.type_id.replace(".", "_"))
    for nid, node in session.graph.nodes.items():
        inspector.show_node(nid)
        QApplication.processEvents()
        need = inspector.widget().minimumSizeHint().width()
        if need > inspector.viewport().width():
            too_wide[node.type] = need
    assert not too_wide, f"wider than the inspector's {inspector.viewport().width()} px: {too_wide}"


def _wheel(widget, down: bool = True):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent

    centre = QPointF(widget.width() / 2, widget.height() / 2)
    delta = QPoint(0, -120 if down else 120)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), delta, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def inspecting(qtbot, node_type: str, node_id: str, size: tuple[int, int] = (340, 700)):
    """An inspector of ``size`` showing one new node of ``node_type``; returns (session, inspector)."""
    from studio.ui.inspector.inspector import Inspector
    from studio.ui.shell.session import EditSession

    registry = NodeRegistry.default()
    session = EditSession(registry)
    session.graph.add_node(registry.get(node_type), node_id)
    inspector = Inspector(session)
    qtbot.addWidget(inspector)
    inspector.resize(*size)
    inspector.show()
    inspector.show_node(node_id)
    QApplication.processEvents()
    return session, inspector


def test_scrolling_over_the_inspector_scrolls_it_and_changes_no_parameter(qtbot):
    from PySide6.QtWidgets import QComboBox

    session, inspector = inspecting(qtbot, "studio.LoadModel", "model", (300, 300))  # short: it scrolls
    device = inspector.editors["device"].findChild(QComboBox)
    before = dict(session.graph.nodes["model"].params)
    for _ in range(3):
        _wheel(device)
    QApplication.processEvents()
    assert dict(session.graph.nodes["model"].params) == before and device.currentText() == "auto"
    assert inspector.verticalScrollBar().value() > 0  # the wheel scrolled the inspector instead
    device.setFocus()  # clicked into: now the wheel is the person's choice
    QApplication.processEvents()
    _wheel(device)
    QApplication.processEvents()
    assert device.currentText() != "auto"


def test_the_speed_setting_offers_its_presets_and_takes_any_setting_typed(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QComboBox

    session, inspector = inspecting(qtbot, "studio.GenerateVideo", "generate")
    combo = inspector.editors["speed"].findChild(QComboBox)
    assert combo.isEditable() and combo.currentText() == "off"
    assert [combo.itemText(i) for i in range(3)] == ["off", "balanced", "fast"]
    combo.setCurrentIndex(1)
    combo.activated.emit(1)  # what a click on the item sends
    assert session.graph.nodes["generate"].params["speed"] == "balanced"
    combo.lineEdit().selectAll()
    QTest.keyClicks(combo.lineEdit(), "first_block@0.12")
    QTest.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    assert session.graph.nodes["generate"].params["speed"] == "first_block@0.12"
    assert combo.count() == 6  # a typed setting is the node's value, not a new preset
    session.undo.undo()
    assert session.graph.nodes["generate"].params["speed"] == "balanced"
