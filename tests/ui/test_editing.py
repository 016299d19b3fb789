"""Editing through the UI: undo/redo exactness, clipboard between windows, keys, the inspector."""

from __future__ import annotations

import json

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.graph import Link, dumps
from tests.ui.conftest import drag, settle, view_point
from tests.ui.test_canvas import add, port


def state(win) -> str:
    return dumps(win.session.graph, win.registry)


def activate(qtbot, win) -> None:
    qtbot.waitExposed(win)
    win.windowHandle().requestActivate()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    win.view.setFocus()


def key(win, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    win.view.setFocus()
    QTest.keyClick(win.view, k, mods)


def click_node(win, node_id: str, mods=Qt.KeyboardModifier.NoModifier) -> None:
    at = view_point(win, win.scene.nodes[node_id].mapToScene(QPointF(100, 12)))
    QTest.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, mods, at)


def test_ten_edits_undo_and_redo_restore_every_state_exactly(window, qtbot):
    states = [state(window)]

    def step() -> None:
        states.append(state(window))
        assert states[-1] != states[-2], "each step must change the graph"

    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Tab)  # 1: add through the search box
    QTest.keyClicks(window.view.search.edit, "number")
    QTest.keyClick(window.view.search.edit, Qt.Key.Key_Return)
    step()
    b = add(window, "test.Add", (300, 0))  # 2
    step()
    drag(window, port(window, "number", "out", "value"), port(window, b, "in", "a"))  # 3: connect
    step()
    grab = window.scene.nodes[b].mapToScene(QPointF(60, 10))
    drag(window, grab, grab + QPointF(60, 80))  # 4: move
    step()
    click_node(window, "number")
    settle()
    editor = window.inspector.editors["value"]
    editor.spin.setValue(7.5)  # 5: a parameter through the inspector
    step()
    key(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)  # 6: bypass
    step()
    key(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # 7: duplicate
    step()
    window.scene.select_nodes(["number", b])
    key(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # 8: group
    step()
    window.scene.select_nodes([b])
    settle()
    window.inspector.title_edit.setText("Adder")
    window.inspector.title_edit.editingFinished.emit()  # 9: rename
    step()
    window.scene.select_nodes(["number"])
    key(window, Qt.Key.Key_Delete)  # 10: delete (takes its link along)
    step()
    assert len(states) == 11
    assert window.session.undo.count() == 10
    for i in range(10, 0, -1):
        window.act_undo.trigger()
        assert state(window) == states[i - 1], f"undo to state {i - 1}"
        assert set(window.scene.nodes) == set(window.session.graph.nodes)
        assert set(window.scene.links) == set(window.session.graph.links)
    for i in range(1, 11):
        window.act_redo.trigger()
        assert state(window) == states[i], f"redo to state {i}"
        assert set(window.scene.links) == set(window.session.graph.links)


def test_copy_paste_between_two_windows(window, qtbot, registry):
    from studio.ui.shell.window import MainWindow

    a = add(window, "test.Number", (0, 0))
    b = add(window, "test.Add", (300, 0))
    window.session.edit("link", lambda g: g.connect(a, "value", b, "a"))
    window.session.set_param(a, "value", 4.0)
    window.scene.select_nodes([a, b])
    key(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    text = QApplication.clipboard().text()
    assert json.loads(text)["format"] == "studio.graph"
    other = MainWindow(registry)
    qtbot.addWidget(other)
    other.show()
    activate(qtbot, other)
    QTest.keyClick(other.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    graph = other.session.graph
    assert sorted(graph.nodes) == ["add", "number"]
    assert graph.links == [Link("number", "value", "add", "a")]
    assert graph.nodes["number"].params["value"] == 4.0
    assert sorted(other.scene.selected_node_ids()) == ["add", "number"]
    # pasting again into the first window makes fresh ids
    activate(qtbot, window)
    QTest.keyClick(window.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert sorted(window.session.graph.nodes) == ["add", "add_2", "number", "number_2"]
    assert Link("number_2", "value", "add_2", "a") in window.session.graph.links
    other.session.undo.setClean()
    other.close()


def test_delete_duplicate_bypass_and_group_with_keys(window):
    a = add(window, "test.Number", (0, 0))
    window.scene.select_nodes([a])
    key(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert sorted(window.session.graph.nodes) == ["number", "number_2"]
    assert window.scene.selected_node_ids() == ["number_2"]
    key(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window.session.graph.nodes["number_2"].bypassed
    assert window.scene.nodes["number_2"].opacity() < 1
    key(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert not window.session.graph.nodes["number_2"].bypassed
    window.scene.select_nodes(["number", "number_2"])
    key(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    group = window.session.graph.groups[0]
    x, y, w, h = group.rect
    for nid in ("number", "number_2"):
        px, py = window.session.graph.nodes[nid].position
        assert x < px < x + w and y < py < y + h
    # dragging the group's title bar moves the group with its nodes, as one undo step
    before = dict((nid, n.position) for nid, n in window.session.graph.nodes.items())
    drag(window, QPointF(x + 30, y + 10), QPointF(x + 230, y + 110))
    assert window.session.graph.groups[0].rect[:2] == (x + 200, y + 100)
    for nid, (px, py) in before.items():
        assert window.session.graph.nodes[nid].position == (px + 200, py + 100)
    window.act_undo.trigger()
    assert window.session.graph.groups[0].rect == (x, y, w, h)
    window.scene.select_nodes(["number"])
    key(window, Qt.Key.Key_Delete)
    assert sorted(window.session.graph.nodes) == ["number_2"]
    # a selected link alone can be deleted too
    b = add(window, "test.Add", (400, 0))
    window.session.edit("link", lambda g: g.connect("number_2", "value", b, "a"))
    window.scene.clearSelection()
    window.scene.links[Link("number_2", "value", b, "a")].setSelected(True)
    key(window, Qt.Key.Key_Delete)
    assert window.session.graph.links == []


def test_arrow_nudges_merge_into_one_undo_step(window):
    a = add(window, "test.Number", (0, 0))
    window.scene.select_nodes([a])
    for _ in range(3):
        key(window, Qt.Key.Key_Right)
    key(window, Qt.Key.Key_Down)
    assert window.session.graph.nodes[a].position == (60.0, 20.0)
    window.act_undo.trigger()
    assert window.session.graph.nodes[a].position == (0.0, 0.0)


def test_inspector_widgets_follow_the_declaration(window, qtbot):
    a = add(window, "uitest.Picture", (0, 0))
    window.scene.select_nodes([a])
    settle()
    ins = window.inspector
    assert set(ins.editors) == {"path", "strength", "mode", "tint", "seed"}
    strength = ins.editors["strength"]
    assert strength.slider is not None and strength.spin.maximum() == 1.0
    # a slider drag is many changes but one undo step
    count = window.session.undo.count()
    strength._slider_pressed()
    for v in (100, 300, 600, 800):
        strength.slider.setValue(v)
    strength._slider_released()
    assert window.session.graph.nodes[a].params["strength"] == 0.8
    assert window.session.undo.count() == count + 1
    window.act_undo.trigger()
    assert window.session.graph.nodes[a].params["strength"] == 0.5
    assert strength.spin.value() == 0.5  # the inspector follows undo
    ins.editors["mode"].combo.setCurrentText("fill")
    assert window.session.graph.nodes[a].params["mode"] == "fill"
    seed = ins.editors["seed"]
    old = window.session.graph.nodes[a].params["seed"]
    QTest.mouseClick(seed.dice, Qt.MouseButton.LeftButton)
    assert window.session.graph.nodes[a].params["seed"] != old
    assert seed.seed_edit.text() == str(window.session.graph.nodes[a].params["seed"])
    assert "How much of it shows." in [lbl.text() for lbl in ins.findChildren(type(ins.general_problems))]
    # a problem is shown where it belongs
    window.session.set_param(a, "strength", 3.0)
    settle()
    assert ins.problem_labels["strength"].isVisibleTo(ins) and "above the maximum" in ins.problem_labels["strength"].text()


def test_inspector_shows_missing_inputs(window, qtbot):
    b = add(window, "test.Add", (0, 0))
    window.scene.select_nodes([b])
    settle()
    assert "input 'a'" in window.inspector.general_problems.text()
    # the problems list is validated off the main thread, shortly after the edit
    qtbot.waitUntil(lambda: "input 'a'" in window.logs.problems.item(0).text(), timeout=3000)
    assert window.logs.tabText(0) == "Problems (1)"


def test_group_corner_resizes_the_frame(window):
    a = add(window, "test.Number", (0, 0))
    window.scene.select_nodes([a])
    key(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    x, y, w, h = window.session.graph.groups[0].rect
    drag(window, QPointF(x + w - 4, y + h - 4), QPointF(x + w + 196, y + h + 96))
    assert window.session.graph.groups[0].rect == (x, y, w + 200, h + 100)
    window.act_undo.trigger()
    assert window.session.graph.groups[0].rect == (x, y, w, h)


def test_json_parameters_edit_as_text_and_commit_when_valid(window, registry):
    from studio.graph import NodeRegistry, ParamSpec, PortSpec, node

    @node("uitest.Keys", title="Keys", category="Test", outputs=[PortSpec("v", "FLOAT")],
          params=[ParamSpec("keys", "json", [[0, 1.0]])])
    def keys(ctx, keys):
        return 0.0

    registry.register(keys)
    k = add(window, "uitest.Keys", (0, 0))
    window.scene.select_nodes([k])
    settle()
    editor = window.inspector.editors["keys"]
    editor.text.setPlainText('[[0, 1.0], [12, 0.5')
    assert editor.json_error.isVisibleTo(editor) and window.session.graph.nodes[k].params["keys"] == [[0, 1.0]]
    editor.text.setPlainText('[[0, 1.0], [12, 0.5]]')
    assert window.session.graph.nodes[k].params["keys"] == [[0, 1.0], [12, 0.5]]
    assert not editor.json_error.isVisibleTo(editor)
    assert window.scene.nodes[k].summary[0] == ("Keys", "[2 items]")
    window.act_undo.trigger()
    assert window.session.graph.nodes[k].params["keys"] == [[0, 1.0]]
    assert isinstance(NodeRegistry, type)


def test_random_edit_sequences_undo_and_redo_exactly(window):
    """Forty random edits of every kind, three times: each undo and redo lands on the exact state."""
    import random

    from studio.graph import Group, check_link
    from studio.ui.canvas.reroutes import set_points

    session, graph, reg = window.session, window.session.graph, window.registry
    types = ["test.Number", "test.Add", "test.Slow", "test.Sink", "uitest.Picture", "uitest.ShowImage"]
    for seed in range(3):
        rnd = random.Random(seed)
        window.act_new.trigger()
        states = [state(window)]
        for _ in range(40):
            kind = rnd.choice(["add", "add", "connect", "connect", "param", "move", "bypass", "remove",
                               "group", "reroute", "disconnect", "rename"])
            ids = list(graph.nodes)
            if kind == "add" or not ids:
                spec, x = reg.get(rnd.choice(types)), rnd.randint(0, 900) * 1.0
                session.edit("add", lambda g, spec=spec, x=x: g.add_node(spec, position=(x, 0.0)))
            elif kind == "connect":
                outs = [(n, p.name) for n in ids for p in reg.get(graph.nodes[n].type).outputs]
                ins = [(n, p.name) for n in ids for p in reg.get(graph.nodes[n].type).inputs]
                pairs = [(o, i) for o in outs for i in ins
                         if check_link(graph, reg, Link(o[0], o[1], i[0], i[1])) is None]
                if not pairs:
                    continue
                (s, sp), (d, dp) = rnd.choice(pairs)
                session.edit("connect", lambda g, s=s, sp=sp, d=d, dp=dp: g.connect(s, sp, d, dp))
            elif kind == "param":
                nid = rnd.choice(ids)
                spec = reg.get(graph.nodes[nid].type)
                if not spec.params:
                    continue
                p = spec.params[0]
                value = {"float": rnd.random(), "int": rnd.randint(1, 9), "path": f"/tmp/{rnd.randint(0, 99)}.png"}.get(
                    p.kind, p.default)
                session.set_param(nid, p.name, value)
            elif kind == "move":
                nid = rnd.choice(ids)
                session.move({nid: (graph.nodes[nid].position, (rnd.random() * 500, rnd.random() * 500))})
            elif kind == "bypass":
                nid = rnd.choice(ids)
                session.edit("bypass", lambda g, nid=nid: g.update_node(nid, bypassed=not g.nodes[nid].bypassed))
            elif kind == "remove":
                nid = rnd.choice(ids)
                session.edit("remove", lambda g, nid=nid: g.remove_node(nid))
            elif kind == "group":
                gid = f"g{rnd.randint(0, 999)}"
                session.edit("group", lambda g, gid=gid: g.set_groups([*g.groups, Group(gid, gid, (0, 0, 300, 200))]))
            elif kind == "reroute" and graph.links:
                link, x = rnd.choice(graph.links), rnd.random() * 300
                session.edit("reroute", lambda g, link=link, x=x: set_points(g, link, [(x, 50.0)]))
            elif kind == "disconnect" and graph.links:
                link = rnd.choice(graph.links)
                session.edit("disconnect", lambda g, link=link: g.disconnect(link))
            elif kind == "rename":
                nid, title = rnd.choice(ids), f"n{rnd.randint(0, 9)}"
                session.edit("rename", lambda g, nid=nid, title=title: g.update_node(nid, title=title))
            if state(window) != states[-1]:
                states.append(state(window))
        steps = session.undo.count()
        assert steps == len(states) - 1
        for i in range(steps, 0, -1):
            session.undo.undo()
            assert state(window) == states[i - 1]
            assert set(window.scene.nodes) == set(graph.nodes) and set(window.scene.links) == set(graph.links)
        for i in range(1, steps + 1):
            session.undo.redo()
            assert state(window) == states[i]
        window.session.undo.setClean()


def test_align_and_distribute_are_one_undo_step_each(window):
    ids = [add(window, "test.Number", (x, y)) for x, y in ((0, 0), (260, 100), (900, -40))]
    window.scene.select_nodes(ids)
    before = state(window)
    window.editing.align("top")
    assert {window.session.graph.nodes[n].position[1] for n in ids} == {-40.0}
    window.editing.align("spread_x")
    assert [window.session.graph.nodes[n].position[0] for n in ids] == [0.0, 440.0, 900.0]  # 450 snapped to the grid
    window.act_undo.trigger()
    window.act_undo.trigger()
    assert state(window) == before


def test_several_nodes_of_one_type_are_edited_together(window):
    a = add(window, "uitest.Picture", (0, 0))
    b = add(window, "uitest.Picture", (300, 0))
    c = add(window, "test.Number", (600, 0))
    window.session.set_param(b, "strength", 0.9)
    window.scene.select_nodes([a, b])
    settle()
    ins = window.inspector
    assert ins.node_ids == [a, b] and not ins.title_edit.isEnabled()
    labels = [lbl.text() for lbl in ins.widget().findChildren(type(ins.general_problems))]
    assert "Strength ≠" in labels and "Mode" in labels
    ins.editors["mode"].combo.setCurrentText("fill")
    assert [window.session.graph.nodes[n].params["mode"] for n in (a, b)] == ["fill", "fill"]
    window.act_undo.trigger()
    assert [window.session.graph.nodes[n].params["mode"] for n in (a, b)] == ["fit", "fit"]
    ins.bypass.setChecked(True)
    assert window.session.graph.nodes[a].bypassed and window.session.graph.nodes[b].bypassed
    window.scene.select_nodes([a, c])
    settle()
    assert ins.node_id is None  # different types: nothing to edit together
