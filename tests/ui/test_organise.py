"""Tidying a graph: collapsed nodes, group colours, groups carried by copy and paste."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QMenu

from studio.graph import Link, load_graph
from studio.ui.canvas.groups import PALETTE, add_color_menu
from studio.ui.canvas.items import TITLE_H
from tests.ui.conftest import settle
from tests.ui.test_canvas import add
from tests.ui.test_editing import key, state


def linked_pair(win) -> tuple[str, str]:
    a = add(win, "test.Number", (0, 0))
    b = add(win, "test.Add", (300, 0))
    win.session.edit("link", lambda g: g.connect(a, "value", b, "b"))
    return a, b


def test_collapse_folds_a_node_to_its_title_bar_through_undo_and_the_file(window, tmp_path):
    a, b = linked_pair(window)
    item = window.scene.nodes[b]
    full = item.boundingRect().height()
    link = window.scene.links[Link(a, "value", b, "b")]
    end_before = link.path().pointAtPercent(1.0)
    window.scene.select_nodes([b])
    key(window, Qt.Key.Key_H)
    assert window.session.graph.meta["collapsed"] == [b]
    assert item.collapsed and item.boundingRect().height() < full / 2
    # the link now meets the title bar's left end
    end = link.path().pointAtPercent(1.0)
    assert end != end_before
    assert end == item.mapToScene(QPointF(0, TITLE_H / 2))
    assert item.port_at(end) is None  # a folded side of two inputs is no single port
    window.act_undo.trigger()
    assert not item.collapsed and "collapsed" not in window.session.graph.meta
    assert link.path().pointAtPercent(1.0) == end_before
    window.act_redo.trigger()
    assert item.collapsed
    # saved with the graph, shown collapsed when opened again
    path = tmp_path / "folded.studio.json"
    window.session.save(path)
    assert load_graph(path, window.registry).meta["collapsed"] == [b]
    window.open_path(path, confirmed=True)
    assert window.scene.nodes[b].collapsed and not window.scene.nodes[a].collapsed
    # H again expands; with a mixed selection it collapses them all first
    window.scene.select_nodes([a, b])
    key(window, Qt.Key.Key_H)
    assert window.session.graph.meta["collapsed"] == sorted([a, b])
    key(window, Qt.Key.Key_H)
    assert "collapsed" not in window.session.graph.meta
    assert window.scene.nodes[b].boundingRect().height() == full


def test_a_deleted_collapsed_node_does_not_fold_its_successor(window):
    a = add(window, "test.Number", (0, 0))
    window.scene.select_nodes([a])
    key(window, Qt.Key.Key_H)
    key(window, Qt.Key.Key_Delete)
    assert "collapsed" not in window.session.graph.meta
    again = add(window, "test.Number", (0, 0))
    assert again == a and not window.scene.nodes[again].collapsed


def test_collapsed_node_shows_run_progress_as_a_line(window):
    from studio.engine import NodeProgress, NodeStarted, RunStarted

    a = add(window, "test.Number", (0, 0))
    window.scene.select_nodes([a])
    key(window, Qt.Key.Key_H)
    scene, item = window.scene, window.scene.nodes[a]
    scene.apply_run_event(RunStarted(1, (a,)))
    scene.apply_run_event(NodeStarted(1, a, "first run"))
    scene.apply_run_event(NodeProgress(1, a, 5, 10))
    strip = item.status.mapRectToScene(item.status.boundingRect())
    assert strip.bottom() <= item.mapToScene(QPointF(0, TITLE_H)).y()
    settle()
    image = window.view.grab().toImage()
    left = window.view.mapFromScene(QPointF(strip.left() + strip.width() * 0.2, strip.center().y()))
    right = window.view.mapFromScene(QPointF(strip.left() + strip.width() * 0.8, strip.center().y()))
    running = QColor("#4f8fe6")
    assert image.pixelColor(left).blue() > 180 and image.pixelColor(left) != image.pixelColor(right)
    assert abs(image.pixelColor(left).red() - running.red()) < 40


def test_group_colour_from_its_context_menu_is_undoable_and_saved(window, tmp_path):
    a = add(window, "test.Number", (0, 0))
    window.scene.select_nodes([a])
    gid = window.editing.group_selected()
    x, y, w, _ = window.session.graph.groups[0].rect
    header = QPointF(x + w / 2, y + 10)
    menu = window.canvas_menu(window.view.mapToGlobal(window.view.mapFromScene(header)), header)
    try:
        colour = next(m for m in menu.findChildren(QMenu) if m.title() == "Colour")
        names = [act.text() for act in colour.actions() if act.text()]
        assert names == [name for name, _ in PALETTE] + ["Other…"]
        assert next(act for act in colour.actions() if act.text() == "Slate").isChecked()
        next(act for act in colour.actions() if act.text() == "Teal").trigger()
    finally:
        menu.close()
    assert window.session.graph.groups[0].color == "#2f7d75"
    assert window.scene.groups[gid]._head.name() == "#2f7d75"
    window.act_undo.trigger()
    assert window.session.graph.groups[0].color == "#3a4660"
    window.act_redo.trigger()
    # "Other…" asks for any colour
    holder = QMenu(window)
    sub = add_color_menu(holder, window.session, gid, window, ask=lambda start, owner: QColor("#123456"))
    next(act for act in sub.actions() if act.text() == "Other…").trigger()
    assert window.session.graph.groups[0].color == "#123456"
    path = tmp_path / "coloured.studio.json"
    window.session.save(path)
    assert load_graph(path, window.registry).groups[0].color == "#123456"


def test_copied_group_pastes_as_a_group_with_its_nodes(window):
    a, b = linked_pair(window)
    window.scene.select_nodes([b])
    key(window, Qt.Key.Key_H)
    window.scene.select_nodes([a, b])
    gid = window.editing.group_selected("Shots")
    window.session.edit(
        "colour", lambda g: g.set_groups([type(x)(x.id, x.title, x.rect, "#8f3434") for x in g.groups])
    )
    outside = add(window, "test.Number", (0, 600))
    # select the frame only: its nodes come with it
    window.scene.clearSelection()
    window.scene.groups[gid].setSelected(True)
    key(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    window.view.centerOn(QPointF(1000, 1000))
    before = state(window)
    key(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    graph = window.session.graph
    assert len(graph.groups) == 2 and outside in graph.nodes
    new = graph.groups[1]
    assert new.id != gid and new.title == "Shots" and new.color == "#8f3434"
    added = sorted(set(graph.nodes) - {a, b, outside})
    assert len(added) == 2
    assert len([lk for lk in graph.links if lk.src in added and lk.dst in added]) == 1
    assert sorted(window.scene.nodes_in_group(new.id)) == added  # the nodes sit inside the new frame
    assert window.scene.groups[new.id].isSelected()
    folded = [nid for nid in added if graph.nodes[nid].type == "test.Add"]
    assert window.scene.nodes[folded[0]].collapsed  # collapse travels too
    window.act_undo.trigger()
    assert state(window) == before
    # duplicate and cut of a frame take its nodes as well
    window.scene.clearSelection()
    window.scene.groups[gid].setSelected(True)
    key(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(window.session.graph.groups) == 2 and len(window.session.graph.nodes) == 5
    window.act_undo.trigger()
    window.scene.clearSelection()
    window.scene.groups[gid].setSelected(True)
    key(window, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
    assert window.session.graph.groups == [] and list(window.session.graph.nodes) == [outside]
    key(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(window.session.graph.groups) == 1 and len(window.session.graph.nodes) == 3
    QApplication.clipboard().clear()
