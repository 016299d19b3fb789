"""Links and collapsed nodes: a link dropped on one takes the first port that fits, or is refused."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QCursor
from PySide6.QtTest import QTest

from studio.graph import Link
from studio.ui.canvas.items import TITLE_H, WIDTH
from studio.ui.shell import theme
from tests.ui.conftest import drag, settle, view_point
from tests.ui.test_canvas import add, port


@pytest.fixture(autouse=True)
def cursor_off_the_canvas():
    """Park the mouse off the canvas afterwards: the next test's window adds a searched node at the cursor."""
    yield
    QCursor.setPos(QPoint(0, 0))


def collapse(win, *node_ids: str) -> None:
    win.scene.select_nodes(list(node_ids))
    win.act_collapse.trigger()
    win.scene.clearSelection()
    assert all(win.scene.nodes[nid].collapsed for nid in node_ids)


def title_centre(win, node_id: str) -> QPointF:
    return win.scene.nodes[node_id].mapToScene(QPointF(WIDTH / 2, TITLE_H / 2))


def end_of(win, link: Link) -> QPointF:
    return win.scene.links[link].path().pointAtPercent(1.0)


def test_a_link_dropped_on_a_collapsed_node_takes_its_first_free_compatible_input(window):
    a = add(window, "test.Number", (-300, 0))
    c = add(window, "test.Number", (-300, 200))
    b = add(window, "test.Add", (100, 0))
    window.session.edit("link", lambda g: g.connect(c, "value", b, "a"))
    collapse(window, b)
    drag(window, port(window, a, "out", "value"), title_centre(window, b))
    # 'a' is taken (hidden from sight): the new link goes to 'b' instead of replacing it
    new = Link(a, "value", b, "b")
    assert window.session.graph.links == [Link(c, "value", b, "a"), new]
    assert window.statusBar().currentMessage() == f"connected {new}"
    assert window.session.undo.undoText() == "Connect"
    # it draws to the collapsed node's title bar, like the link that was there
    item = window.scene.nodes[b]
    assert end_of(window, new) == item.mapToScene(QPointF(0, TITLE_H / 2))
    assert end_of(window, Link(c, "value", b, "a")) == end_of(window, new)
    assert not item.marks and not window.scene.nodes[a].marks
    window.act_undo.trigger()
    assert window.session.graph.links == [Link(c, "value", b, "a")]
    assert list(window.scene.links) == [Link(c, "value", b, "a")] and item.collapsed
    window.act_redo.trigger()
    assert new in window.scene.links
    # expanded again, the link meets its own port
    collapse(window)  # (nothing selected: nothing happens)
    window.scene.select_nodes([b])
    window.act_collapse.trigger()
    assert not item.collapsed
    assert end_of(window, new) == item.port_scene_pos("in", "b") != item.port_scene_pos("in", "a")


def test_a_link_dragged_from_an_input_onto_a_collapsed_node_takes_its_compatible_output(window):
    pic = add(window, "uitest.Picture", (-300, 0))
    num = add(window, "test.Number", (-300, 200))
    b = add(window, "test.Add", (100, 0))
    collapse(window, pic, num)
    drag(window, port(window, b, "in", "a"), title_centre(window, pic))  # IMAGE: no FLOAT output there
    assert window.session.graph.links == []
    assert "collapsed 'Picture' has no output that takes FLOAT" in window.statusBar().currentMessage()
    drag(window, port(window, b, "in", "a"), title_centre(window, num))
    assert window.session.graph.links == [Link(num, "value", b, "a")]
    # the link leaves the collapsed node at its title bar's right end
    start = window.scene.links[Link(num, "value", b, "a")].path().pointAtPercent(0.0)
    assert start == window.scene.nodes[num].mapToScene(QPointF(WIDTH, TITLE_H / 2))


def test_a_collapsed_node_that_cannot_take_the_link_refuses_it_with_a_message(window, qtbot):
    a = add(window, "test.Number", (-300, 0))
    c = add(window, "test.Number", (-300, 200))
    show = add(window, "uitest.ShowImage", (100, 0))
    sink = add(window, "test.Sink", (100, 200))
    window.session.edit("link", lambda g: g.connect(c, "value", sink, "x"))
    collapse(window, show, sink)
    undo_index = window.session.undo.index()
    # no input of the right type
    drag(window, port(window, a, "out", "value"), title_centre(window, show))
    assert window.session.graph.links == [Link(c, "value", sink, "x")]
    message = window.statusBar().currentMessage()
    assert message == "link refused: collapsed 'Show Image' has no input that takes FLOAT"
    assert window.scene.nodes[show].folded_mark() == "bad"
    qtbot.waitUntil(lambda: not window.scene.nodes[show].marks, timeout=3000)
    # the only input that fits is linked already: replacing a link one cannot see is refused
    drag(window, port(window, a, "out", "value"), title_centre(window, sink))
    assert window.session.graph.links == [Link(c, "value", sink, "x")]
    assert "link refused: every FLOAT input of collapsed 'Sink' is linked already" in (
        window.statusBar().currentMessage())
    assert "expand it (H)" in window.statusBar().currentMessage()
    assert window.session.undo.index() == undo_index  # nothing was edited


def _border(win, node_id: str, colour: str) -> QColor:
    """The pixel nearest ``colour`` across the top edge of a node (antialiasing spreads the line)."""
    image = win.view.grab().toImage()
    at = view_point(win, win.scene.nodes[node_id].mapToScene(QPointF(WIDTH / 2, 0)))
    want = QColor(colour)
    seen = [image.pixelColor(at.x(), at.y() + dy) for dy in range(-2, 3)]
    return min(seen, key=lambda c: sum(abs(a - b) for a, b in zip(c.getRgb()[:3], want.getRgb()[:3], strict=True)))


def test_dragging_a_link_over_a_collapsed_node_highlights_it_when_it_would_take_it(window):
    a = add(window, "test.Number", (-300, 0))
    b = add(window, "test.Add", (100, 0))
    show = add(window, "uitest.ShowImage", (100, 200))
    c = add(window, "test.Number", (-300, 300))
    sink = add(window, "test.Sink", (100, 300))
    window.session.edit("link", lambda g: g.connect(c, "value", sink, "x"))
    collapse(window, b, show, sink)
    settle()
    before = _border(window, b, theme.ACCEPTED)
    vp = window.view.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view_point(window, port(window, a, "out", "value")))
    QTest.mouseMove(vp, view_point(window, QPointF(-50, 100)))
    # while the link is in the air the collapsed node that could take it is ringed; not the one of
    # the wrong type, nor the one whose only input that fits is linked already
    assert window.scene.nodes[b].folded_mark() == "hint"
    assert window.scene.nodes[show].folded_mark() is None
    assert window.scene.nodes[sink].folded_mark() is None
    QTest.mouseMove(vp, view_point(window, title_centre(window, b)))
    assert window.scene.nodes[b].marks[("in", "a")] == "ok"
    assert window.statusBar().currentMessage() == f"release to connect {Link(a, 'value', b, 'a')}"
    settle()
    now = _border(window, b, theme.ACCEPTED)
    assert before.green() < 150 and now.green() > 200 and now.red() < 180
    # over a node that would refuse it: its border turns red and the status bar says why
    QTest.mouseMove(vp, view_point(window, title_centre(window, show)))
    assert window.scene.nodes[show].folded_mark() == "bad"
    assert window.scene.nodes[b].folded_mark() == "hint"
    assert "has no input that takes FLOAT" in window.statusBar().currentMessage()
    settle()
    red = _border(window, show, theme.REFUSED)
    assert red.red() > 200 and red.green() < 150
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       view_point(window, QPointF(-50, 400)))
    assert window.scene.nodes[b].marks == {}


def test_a_collapsed_node_offers_its_folded_dot_as_a_port_only_when_it_is_one_port(window, qtbot):
    num = add(window, "test.Number", (-300, 0))
    b = add(window, "test.Add", (100, 0))
    sink = add(window, "test.Sink", (400, 0))
    collapse(window, num, b)
    # Number has one output: its folded dot is that output, and a link drags from it
    drag(window, port(window, num, "out", "value"), port(window, sink, "in", "x"))
    assert window.session.graph.links == [Link(num, "value", sink, "x")]
    # Add has two inputs: its left dot is not a port; its tooltip says how to link to it
    item = window.scene.nodes[b]
    dot = item.mapToScene(QPointF(0, TITLE_H / 2))
    assert item.port_at(dot) is None and item.folded_side_at(dot) == "in"
    QTest.mouseMove(window.view.viewport(), view_point(window, dot + QPointF(3, 0)))
    qtbot.waitUntil(lambda: "inputs a, b (folded)" in item.toolTip(), timeout=2000)
    # pressing it and dragging moves the node, not a link
    drag(window, dot + QPointF(3, 0), dot + QPointF(83, 100))
    assert window.session.graph.links == [Link(num, "value", sink, "x")]
    assert window.session.graph.nodes[b].position == (180.0, 100.0)
