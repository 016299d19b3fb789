"""Every node of the library fits the inspector at the width the editor opens it with: no horizontal scroll
bar, no text cut at the edge (Load Model's LoRA table once made it 8 px too wide)."""

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
    inspector.resize(340, 700)  # the right column's width in a 1262 px window (seen under Xvfb)
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
