"""Canvas gestures driven with simulated mouse and keyboard: search, links, refusals, moves."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtTest import QTest

from studio.graph import Link
from tests.ui.conftest import drag, view_point


def add(win, type_id: str, pos: tuple[float, float]) -> str:
    return win.editing.add_node(win.registry.get(type_id), QPointF(*pos))


def port(win, node_id: str, direction: str, name: str) -> QPointF:
    return win.scene.nodes[node_id].port_scene_pos(direction, name)


def test_tab_opens_search_and_enter_adds_the_best_match(window, qtbot):
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    assert window.view.search.isVisible()
    QTest.keyClicks(window.view.search.edit, "add")
    assert window.view.search.current().type_id == "test.Add"
    QTest.keyClick(window.view.search.edit, Qt.Key.Key_Return)
    assert [n.type for n in window.session.graph.nodes.values()] == ["test.Add"]
    assert not window.view.search.isVisible()
    assert window.scene.selected_node_ids() == ["add"]


def test_fuzzy_search_matches_scattered_letters_and_categories(window):
    from studio.ui.canvas.search import rank

    specs = list(window.registry)
    assert rank("shwimg", specs)[0].type_id == "uitest.ShowImage"
    assert rank("slw", specs)[0].type_id == "test.Slow"
    assert {s.category for s in rank("inputs", specs)[:1]} == {"Inputs"}
    assert rank("zzzz", specs) == []


def test_double_click_on_empty_canvas_opens_search_there(window, qtbot):
    at = view_point(window, QPointF(100, 100))
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    assert window.view.search.isVisible()
    QTest.keyClicks(window.view.search.edit, "number")
    QTest.keyClick(window.view.search.edit, Qt.Key.Key_Enter)
    node = window.session.graph.nodes["number"]
    assert abs(node.position[0] - 100) <= 20 and abs(node.position[1] - 100) <= 20


def test_drag_from_output_to_input_connects(window, qtbot):
    a = add(window, "test.Number", (-300, 0))
    b = add(window, "test.Add", (100, 0))
    drag(window, port(window, a, "out", "value"), port(window, b, "in", "a"))
    assert window.session.graph.links == [Link(a, "value", b, "a")]
    assert b in window.scene.nodes and len(window.scene.links) == 1


def test_drag_from_input_to_output_connects_too(window):
    a = add(window, "test.Number", (-300, 0))
    b = add(window, "test.Add", (100, 0))
    drag(window, port(window, b, "in", "b"), port(window, a, "out", "value"))
    assert window.session.graph.links == [Link(a, "value", b, "b")]


def test_wrong_link_is_refused_visibly(window, qtbot):
    a = add(window, "test.Number", (-300, 0))
    b = add(window, "uitest.ShowImage", (100, 0))
    drag(window, port(window, a, "out", "value"), port(window, b, "in", "image"))
    assert window.session.graph.links == []
    assert window.scene.nodes[b].marks == {("in", "image"): "bad"}
    message = window.statusBar().currentMessage()
    assert "cannot connect FLOAT output 'value'" in message and "IMAGE input 'image'" in message
    qtbot.waitUntil(lambda: not window.scene.nodes[b].marks, timeout=3000)


def test_link_onto_itself_is_refused(window):
    a = add(window, "test.Add", (0, 0))
    drag(window, port(window, a, "out", "sum"), port(window, a, "in", "a"))
    assert window.session.graph.links == []
    assert "cannot feed itself" in window.statusBar().currentMessage()


def test_drop_on_empty_canvas_offers_only_compatible_types(window):
    a = add(window, "uitest.Picture", (-300, 0))
    drag(window, port(window, a, "out", "image"), QPointF(150, 40))
    search = window.view.search
    assert search.isVisible()
    offered = [search.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(search.list.count())]
    assert offered == ["uitest.ShowImage"]
    QTest.keyClick(search.edit, Qt.Key.Key_Return)
    assert window.session.graph.links == [Link(a, "image", "showimage", "image")]


def test_dragging_a_connected_input_away_disconnects(window):
    a = add(window, "test.Number", (-300, 0))
    b = add(window, "test.Add", (100, 0))
    window.session.edit("link", lambda g: g.connect(a, "value", b, "a"))
    drag(window, port(window, b, "in", "a"), QPointF(40, 300))
    assert window.session.graph.links == []
    assert not window.view.search.isVisible()


def test_moving_a_node_is_one_undo_step_and_snaps(window):
    a = add(window, "test.Number", (0, 0))
    item = window.scene.nodes[a]
    start = item.mapToScene(QPointF(60, 10))
    drag(window, start, start + QPointF(93, 47))
    assert window.session.graph.nodes[a].position == (100.0, 40.0)
    window.session.undo.undo()
    assert window.session.graph.nodes[a].position == (0.0, 0.0)
    assert item.pos() == QPointF(0, 0)


def test_dropping_a_node_onto_a_link_inserts_it(window):
    a = add(window, "test.Number", (-400, 0))
    s = add(window, "test.Sink", (400, 0))
    window.session.edit("link", lambda g: g.connect(a, "value", s, "x"))
    mid = add(window, "test.Add", (0, 300))
    item = window.scene.nodes[mid]
    grab = item.mapToScene(QPointF(60, 10))
    link_mid = window.scene.links[Link(a, "value", s, "x")].path().pointAtPercent(0.5)
    target = grab + (link_mid - item.sceneBoundingRect().center())
    drag(window, grab, target, steps=10)
    assert set(window.session.graph.links) == {Link(a, "value", mid, "a"), Link(mid, "sum", s, "x")}


def test_rubber_band_and_shift_click_select(window):
    a = add(window, "test.Number", (0, 0))
    b = add(window, "test.Number", (300, 0))
    c = add(window, "test.Number", (0, 400))
    window.scene.clearSelection()
    drag(window, QPointF(-50, -50), QPointF(520, 200))
    assert sorted(window.scene.selected_node_ids()) == sorted([a, b])
    at = view_point(window, window.scene.nodes[c].mapToScene(QPointF(60, 10)))
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, at)
    assert sorted(window.scene.selected_node_ids()) == sorted([a, b, c])


def test_wheel_zoom_keeps_the_point_under_the_cursor(window):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    view = window.view
    at = QPoint(200, 150)
    before = view.mapToScene(at)
    event = QWheelEvent(QPointF(at), QPointF(view.viewport().mapToGlobal(at)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom > 1.3
    after = view.mapToScene(at)
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2


def test_middle_drag_pans_and_f_frames_all(window):
    add(window, "test.Number", (2000, 2000))
    view = window.view
    centre = view.mapToScene(view.viewport().rect().center())
    vp = view.viewport()
    QTest.mousePress(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, vp.rect().center())
    QTest.mouseMove(vp, vp.rect().center() + QPointF(-100, -50).toPoint())
    QTest.mouseRelease(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier,
                       vp.rect().center() + QPointF(-100, -50).toPoint())
    moved = view.mapToScene(view.viewport().rect().center())
    assert abs(moved.x() - centre.x() - 100) < 2 and abs(moved.y() - centre.y() - 50) < 2
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_F)
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(window.scene.nodes["number"].sceneBoundingRect())


def test_minimap_appears_for_larger_graphs_and_clicking_it_moves_the_view(window):
    for i in range(10):
        add(window, "test.Number", (i * 400, (i % 3) * 300))
    window.scene.layout_changed.emit()
    mini = window.view.minimap
    assert mini.isVisible()
    box = mini.rect()
    before = window.view.mapToScene(window.view.viewport().rect().center())
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     box.topLeft() + QPoint(box.width() - 20, box.height() // 2))
    after = window.view.mapToScene(window.view.viewport().rect().center())
    assert after.x() - before.x() > 500
    window.view.frame_all()
    assert not mini.isVisible()  # everything is in view: no overview needed
    window.view.zoom_at(3.0)
    assert mini.isVisible()
    window.act_minimap.setChecked(False)
    assert not mini.isVisible()


def test_bindings_refcount_guard_keeps_none_alive():
    import sys

    from PySide6.QtCore import QObject

    from studio.ui.shell import refcount_guard

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(200_000):
        probe.setObjectName("x")
    if refcount_guard._applied:  # the installed bindings drop references: the guard absorbed it
        assert sys.getrefcount(None) > 1 << 40
    else:
        assert sys.getrefcount(None) >= before - 10


def test_reroute_points_add_move_undo_and_delete(window):
    from studio.ui.canvas.reroutes import points_of

    a = add(window, "test.Number", (-400, 0))
    s = add(window, "test.Sink", (400, 200))
    window.session.edit("link", lambda g: g.connect(a, "value", s, "x"))
    link = Link(a, "value", s, "x")
    on_link = window.scene.links[link].path().pointAtPercent(0.5)
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      view_point(window, on_link))
    pts = points_of(window.session.graph, link)
    assert len(pts) == 1 and abs(pts[0][0] - on_link.x()) < 2
    dot = window.scene.reroutes[link][0]
    drag(window, dot.pos(), dot.pos() + QPointF(0, 200))
    moved = points_of(window.session.graph, link)[0]
    assert abs(moved[1] - pts[0][1] - 200) < 2
    assert window.scene.links[link].path().intersects(QRectF(moved[0] - 3, moved[1] - 3, 6, 6))
    window.act_undo.trigger()
    assert points_of(window.session.graph, link) == pts
    assert window.scene.reroutes[link][0].pos() == QPointF(*pts[0])
    window.scene.clearSelection()
    window.scene.reroutes[link][0].setSelected(True)
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert points_of(window.session.graph, link) == [] and link not in window.scene.reroutes
    assert window.session.graph.links == [link]


def test_dragging_a_link_rings_the_ports_that_could_take_it(window):
    a = add(window, "test.Number", (-300, 0))
    b = add(window, "test.Add", (100, 0))
    c = add(window, "uitest.ShowImage", (100, 300))
    vp = window.view.viewport()
    start = view_point(window, port(window, a, "out", "value"))
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(vp, start + QPoint(40, 60))
    assert window.scene.nodes[b].marks == {("in", "a"): "hint", ("in", "b"): "hint"}
    assert window.scene.nodes[c].marks == {}
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(40, 60))
    assert window.scene.nodes[b].marks == {}


def test_a_node_of_a_missing_type_is_shown_kept_and_saved_back(window, tmp_path):
    import json

    from studio.graph import dumps

    doc = {"format": "studio.graph", "version": 1, "nodes": [
        {"id": "n", "type": "test.Number", "position": [0, 0], "params": {"value": 2.0}},
        {"id": "x", "type": "somepack.Magic", "position": [300, 0], "params": {"power": 9}, "extra": [1]}],
        "links": [{"from": ["n", "value"], "to": ["x", "in"]}], "groups": []}
    path = tmp_path / "m.studio.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert window.open_path(path, confirmed=True)
    item = window.scene.nodes["x"]
    assert item.missing and item.title == "Magic"
    assert len(window.scene.links) == 1
    window.scene.select_nodes(["x"])
    from tests.ui.conftest import settle

    settle()
    assert "not installed" in window.inspector.widget().findChildren(type(window.inspector.general_problems))[1].text()
    saved = json.loads(dumps(window.session.graph, window.registry))
    assert saved["nodes"][1]["extra"] == [1] and saved["nodes"][1]["params"] == {"power": 9}


def test_ctrl_right_drag_cuts_the_links_it_crosses(window):
    a = add(window, "test.Number", (-400, 0))
    b = add(window, "test.Add", (300, 0))
    window.session.edit("links", lambda g: (g.connect(a, "value", b, "a"), g.connect(a, "value", b, "b")))
    vp = window.view.viewport()
    top, bottom = view_point(window, QPointF(0, -200)), view_point(window, QPointF(0, 300))
    ctrl = Qt.KeyboardModifier.ControlModifier
    QTest.mousePress(vp, Qt.MouseButton.RightButton, ctrl, top)
    QTest.mouseMove(vp, (top + bottom) / 2)
    QTest.mouseMove(vp, bottom)
    QTest.mouseRelease(vp, Qt.MouseButton.RightButton, ctrl, bottom)
    assert window.session.graph.links == []
    window.act_undo.trigger()
    assert len(window.session.graph.links) == 2


def test_dragging_to_the_edge_scrolls_the_view(window, qtbot):
    a = add(window, "test.Number", (0, 0))
    vp = window.view.viewport()
    grab = view_point(window, window.scene.nodes[a].mapToScene(QPointF(60, 10)))
    before = window.view.mapToScene(vp.rect().center())
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grab)
    edge = QPoint(vp.width() - 5, grab.y())
    QTest.mouseMove(vp, (grab + edge) / 2)
    QTest.mouseMove(vp, edge)
    qtbot.wait(250)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, edge)
    after = window.view.mapToScene(vp.rect().center())
    assert after.x() - before.x() > 50
    assert not window.view._edge_timer.isActive()


def test_typing_in_the_search_box_does_not_trigger_canvas_shortcuts(window, qtbot):
    a = add(window, "test.Number", (0, 0))
    window.scene.select_nodes([a])
    window.activateWindow()
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    QTest.keyClicks(window.view.search.edit, "mslow")
    QTest.keyClick(window.view.search.edit, Qt.Key.Key_Backspace)
    QTest.keyClick(window.view.search.edit, Qt.Key.Key_Delete)
    assert window.view.search.edit.text() == "mslo"
    assert window.act_minimap.isChecked() and a in window.session.graph.nodes


def test_panning_paints_the_same_picture_as_a_full_repaint(window, qtbot):
    """Links draw fast while the view moves and smooth once it rests: the rested picture must
    match painting everything."""
    from PySide6.QtWidgets import QApplication

    from studio.ui.canvas.reroutes import set_points

    ids = [add(window, "test.Number", (0, i * 160)) for i in range(4)]
    adds = [add(window, "test.Add", (700, i * 160)) for i in range(4)]
    for i, nid in enumerate(adds):  # long crossing links, one with a reroute point
        window.session.edit("l", lambda g, i=i, nid=nid: (g.connect(ids[3 - i], "value", nid, "a"),
                                                          g.connect(ids[i], "value", nid, "b")))
    window.session.edit("r", lambda g: set_points(g, Link(ids[0], "value", adds[0], "b"), [(350.0, 700.0)]))
    view, app = window.view, QApplication.instance()
    window.act_minimap.setChecked(False)
    view.centerOn(350, 300)
    app.processEvents()
    for _ in range(30):
        view.pan_by(QPoint(7, 5))
        app.processEvents()
    assert view.moving
    qtbot.waitUntil(lambda: not view.moving, timeout=2000)
    app.processEvents()
    panned = view.viewport().grab().toImage()
    view.viewport().repaint()
    full = view.viewport().grab().toImage()
    differing = 0
    for y in range(0, panned.height(), 2):
        for x in range(0, panned.width(), 2):
            a, b = panned.pixelColor(x, y), full.pixelColor(x, y)
            differing += abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) > 90
    assert differing == 0


def test_search_lists_recently_added_types_first(window):
    window.view.setFocus()
    for name in ("slow", "sink"):
        QTest.keyClick(window.view, Qt.Key.Key_Tab)
        QTest.keyClicks(window.view.search.edit, name)
        QTest.keyClick(window.view.search.edit, Qt.Key.Key_Return)
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    first = [window.view.search.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(2)]
    assert first == ["test.Sink", "test.Slow"]
    QTest.keyClick(window.view.search.edit, Qt.Key.Key_Escape)
    assert not window.view.search.isVisible()


def test_ctrl_f_finds_a_node_by_name_and_goes_there(window):
    add(window, "test.Number", (0, 0))
    far = add(window, "test.Slow", (3000, 2000))
    window.session.edit("rename", lambda g: g.update_node(far, title="Denoiser"))
    window.activateWindow()
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.view.finder.isVisible()
    QTest.keyClicks(window.view.finder.edit, "denois")
    QTest.keyClick(window.view.finder.edit, Qt.Key.Key_Return)
    assert window.scene.selected_node_ids() == [far]
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.nodes[far].sceneBoundingRect().center())


def test_space_drag_pans_and_shift_f_frames_the_selection(window):
    near = add(window, "test.Number", (0, 0))
    far = add(window, "test.Number", (4000, 3000))
    view, vp = window.view, window.view.viewport()
    view.setFocus()
    centre = view.mapToScene(vp.rect().center())
    QTest.keyPress(view, Qt.Key.Key_Space)
    start = vp.rect().center()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(vp, start + QPoint(-120, -80))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(-120, -80))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    moved = view.mapToScene(vp.rect().center())
    assert abs(moved.x() - centre.x() - 120) < 2 and abs(moved.y() - centre.y() - 80) < 2
    assert window.session.graph.nodes[near].position == (0.0, 0.0)  # panning moved no node
    window.scene.select_nodes([far])
    QTest.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ShiftModifier)
    visible = view.mapToScene(vp.rect()).boundingRect()
    assert visible.contains(window.scene.nodes[far].sceneBoundingRect())
    assert not visible.contains(window.scene.nodes[near].sceneBoundingRect())


def _visible(win) -> QRectF:
    return win.view.mapToScene(win.view.viewport().rect()).boundingRect()


def test_a_framed_graph_stays_framed_when_the_canvas_shrinks_until_the_person_moves(window, qtbot):
    """Opening a graph frames it; the timeline docking in under it (or a smaller window) must not cut
    it off. Once the person pans or zooms, a resize leaves their view alone."""
    for pos in ((0, 0), (1600, 0), (0, 900), (1600, 900)):
        add(window, "test.Number", pos)
    window.view.frame_all()
    nodes = window.scene.nodes_rect()
    assert _visible(window).contains(nodes)
    window.attach_timeline()  # as the editor does just after a graph given on the command line opens
    window.resize(900, 620)
    qtbot.waitUntil(lambda: window.view.viewport().height() < 400, timeout=5000)
    assert _visible(window).contains(nodes)
    window.view.zoom_at(2.0)
    zoom = window.view.zoom
    window.resize(1100, 760)
    qtbot.wait(50)
    assert window.view.zoom == zoom and not _visible(window).contains(nodes)


def _bright_pixels_in(win, node_id: str) -> int:
    item = win.scene.nodes[node_id]
    box = win.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    image = win.view.viewport().grab(box).toImage()
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).lightness() > 170
    )


def test_zoomed_out_nodes_still_say_what_they_are(window, qtbot):
    """Below 35% the node's own text is too small to read; its name is drawn at a readable size instead,
    while the node is at least 50 px wide (a graph framed on a small screen)."""
    nid = add(window, "test.Number", (0, 0))
    window.view.look_at(window.scene.nodes[nid].sceneBoundingRect().center())
    seen = {}
    for zoom in (0.3, 0.2):
        window.view.resetTransform()
        window.view.scale(zoom, zoom)
        window.view.look_at(window.scene.nodes[nid].sceneBoundingRect().center())
        qtbot.wait(20)
        seen[zoom] = _bright_pixels_in(window, nid)
    assert seen[0.3] > 20 and seen[0.2] == 0
