"""Driving a number parameter with a signal from the inspector: link, socket, note, undo."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QToolButton

from studio.graph import NodeRegistry, ParamSpec, PortSpec, node
from tests.ui.conftest import settle, ui_registry


@node("uitest.Wave", title="Wave", category="Test", outputs=[PortSpec("signal", "SIGNAL")],
      inputs=[PortSpec("level", "SIGNAL", optional=True)],
      params=[ParamSpec("speed", "float", 1.0, minimum=0, maximum=4, animatable=True)])
def wave(ctx, level, speed):
    return None


@pytest.fixture
def registry() -> NodeRegistry:
    reg = ui_registry()
    reg.register(wave)
    return reg


def drive_actions(window, param: str):
    button = next(b for b in window.inspector.findChildren(QToolButton) if b.objectName() == "DriveButton"
                  and param in b.toolTip().lower())
    menu = button.menu()
    menu.aboutToShow.emit()
    return menu.actions()


def test_drive_a_parameter_from_the_inspector_and_undo_it(window, qtbot):
    graph = window.session.graph
    window.session.edit("add", lambda g: (g.add_node(wave, "lfo", position=(-300, 0)),
                                          g.add_node(wave, "shaped", position=(0, 0))))
    window.scene.select_nodes(["shaped"])
    settle()
    assert window.inspector.node_id == "shaped"
    labels = [a.text() for a in drive_actions(window, "speed")]
    assert any("(lfo) · signal" in t for t in labels), labels
    assert not any("(shaped)" in t for t in labels)  # a node cannot drive itself
    action = next(a for a in drive_actions(window, "speed") if "(lfo) · signal" in a.text())
    action.trigger()
    settle()
    link = graph.link_into("shaped", "speed")
    assert link is not None and (link.src, link.src_port) == ("lfo", "signal")
    # The parameter's editor gives way to a note, the node grows a socket where the link lands.
    assert not window.inspector.editors["speed"].isEnabled()
    notes = [w.text() for w in window.inspector.findChildren(QLabel) if w.objectName() == "DrivenNote"]
    assert notes and "frame by frame" in notes[0]
    item = window.scene.nodes["shaped"]
    assert item.driven == ("speed",)
    title_bar_end = item.mapToScene(item.port_local("in", "nowhere"))
    assert item.port_scene_pos("in", "speed") != title_bar_end
    # Driving the upstream node from the downstream one would loop: not offered.
    window.scene.select_nodes(["lfo"])
    settle()
    assert not any("(shaped)" in a.text() for a in drive_actions(window, "speed"))

    window.session.undo.undo()
    settle()
    assert graph.link_into("shaped", "speed") is None and window.scene.nodes["shaped"].driven == ()
    window.scene.select_nodes(["shaped"])
    settle()
    assert window.inspector.editors["speed"].isEnabled()
    window.session.undo.redo()
    settle()
    assert graph.link_into("shaped", "speed") is not None
    stop = next(a for a in drive_actions(window, "speed") if a.text().startswith("Stop driving"))
    stop.trigger()
    settle()
    assert graph.link_into("shaped", "speed") is None
