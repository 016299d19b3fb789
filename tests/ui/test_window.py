"""The window around the canvas: entry point, preview dock, shortcuts list, context menu, theme."""

from __future__ import annotations

import importlib.util

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from studio.engine import NodeProgress, RunStarted
from studio.graph import dumps
from tests.ui.test_canvas import add


def test_main_opens_the_editor_on_a_file_and_returns_when_closed(qtbot, registry, tmp_path, monkeypatch):
    from studio.graph import Graph
    from studio.ui.shell import app, files, window

    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    g = Graph()
    g.add_node(registry.get("test.Number"), "n")
    path = tmp_path / "start.studio.json"
    path.write_text(dumps(g, registry), encoding="utf-8")
    seen = []

    def run_the_loop_a_while(*_args) -> int:
        # stands in for app.exec(): quitting the test runner's application would stop the
        # event loops of every later test
        qtbot.wait(300)
        win = window.WINDOWS[-1]
        seen.append((list(win.session.graph.nodes), win.windowTitle(), win.isVisible(),
                     win.timeline is not None or importlib.util.find_spec("studio.ui.timeline") is None))
        for w in list(window.WINDOWS):
            w.close()
        return 0

    warmed = []  # the real warm-up would go on importing torch into the tests that follow
    monkeypatch.setattr(app, "warm_up", lambda: warmed.append(True))
    monkeypatch.setattr(QApplication, "exec", run_the_loop_a_while)
    assert app.main(str(path), registry=registry) == 0
    qtbot.waitUntil(lambda: warmed == [True], timeout=3000)  # scheduled once the window is up
    assert seen == [(["n"], "start.studio.json[*] — Studio", True, True)]
    assert QApplication.instance().styleSheet()  # the dark theme is on


def test_preview_dock_shows_the_clip_of_the_running_node(window):
    frames = np.zeros((5, 16, 24, 3), np.uint8)
    frames[-1, :, :, 0] = 255
    window._run_event(RunStarted(1, ("gen",)))
    window._run_event(NodeProgress(1, "gen", 3, 10, preview=frames))
    panel = window.preview
    assert panel.slider.maximum() == 4 and panel.slider.value() == 4
    assert "step 3/10" in panel.caption.text() and "24x16" in panel.caption.text()
    shown = panel.image.pixmap().toImage()
    assert shown.pixelColor(shown.width() // 2, shown.height() // 2).red() > 200
    panel.slider.setValue(0)
    shown = panel.image.pixmap().toImage()
    assert shown.pixelColor(shown.width() // 2, shown.height() // 2).red() < 50
    assert not panel.show_preview("gen", 1, 2, [1.0, 2])  # toy previews are not pictures


def test_keyboard_shortcuts_are_listed(window):
    from studio.ui.shell.shortcuts import ShortcutsDialog

    dialog = ShortcutsDialog(window.all_actions, window)
    table = dialog.table
    rows = {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount()) if table.item(i, 1)}
    assert rows["Undo"] == "Ctrl+Z" and rows["Render"].startswith("Ctrl+Return")
    assert rows["Add a node (search box)"].startswith("Tab")
    assert "Frame all" in rows and "Pan" in rows and rows["Duplicate"] == "Ctrl+D"
    assert rows["Collapse / Expand"] == "H"
    # the timeline's transport keys, each under the timeline heading
    from studio.ui.timeline.transport import KEYS

    timeline = next(v for k, v in dialog.sections.items() if k.startswith("Timeline"))
    keys = {k for _, k in timeline}
    assert {"Space", "J", "K", "L", "Left", "Right", "Home", "End", "I", "O"} <= keys
    assert ("Play / pause", "Space") in timeline and ("Set the in point here (again: clear it)", "I") in timeline
    assert {what for what, _ in timeline} == {what for _, _, what in KEYS.values()}
    assert len(timeline) == len(KEYS)
    headings = [table.item(i, 0).text() for i in range(table.rowCount()) if table.columnSpan(i, 0) == 2]
    assert headings[:2] == ["Menus and toolbar", "Canvas"] and headings[2].startswith("Timeline")


def test_context_menu_offers_node_or_canvas_actions(window):
    a = add(window, "test.Number", (0, 0))
    window.scene.clearSelection()
    menu = window.canvas_menu(QPoint(10, 10), window.scene.nodes[a].mapToScene(QPointF(50, 40)))
    texts = [act.text() for act in menu.actions() if act.text()]
    assert "&Bypass" in texts and "Rename…" in texts and window.scene.selected_node_ids() == [a]
    menu.close()
    window.scene.clearSelection()
    menu = window.canvas_menu(QPoint(10, 10), QPointF(2000, 2000))
    assert "Add Node…" in [act.text() for act in menu.actions()]
    menu.close()


def test_examples_open_with_the_real_node_library_and_every_inspector_builds(qtbot, monkeypatch):
    from studio.graph import NodeRegistry
    from studio.ui.shell import files
    from studio.ui.shell.window import MainWindow
    from tests.ui.conftest import settle

    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    registry = NodeRegistry.default()
    win = MainWindow(registry)
    qtbot.addWidget(win)
    win.show()
    win.files.fill_examples_menu(win.examples_menu)
    actions = [a for a in win.examples_menu.actions() if a.isEnabled()]
    assert len(actions) == len(files.examples())
    for action in actions:
        action.trigger()
        graph = win.session.graph
        assert graph.nodes and win.session.path is None  # examples open as untitled copies
        assert all(not item.missing for item in win.scene.nodes.values())
        for nid in graph.nodes:
            win.scene.select_nodes([nid])
            settle()
            assert win.inspector.node_id == nid
    # every node type of the library can be added and inspected
    for spec in registry:
        nid = win.editing.add_node(spec, QPointF(0, 0))
        settle()
        assert win.inspector.node_id == nid and set(win.inspector.editors) == {p.name for p in spec.params}


def test_the_timeline_docks_join_the_window_and_get_run_events(qtbot, registry, monkeypatch):
    import importlib.util

    import pytest

    from studio.ui.shell import files
    from studio.ui.shell.window import MainWindow

    if importlib.util.find_spec("studio.ui.timeline") is None:
        pytest.skip("no timeline package")
    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    win = MainWindow(registry)
    qtbot.addWidget(win)
    win.show()
    assert win.timeline is not None and not win.timeline.timeline_dock.isHidden()
    assert win.preview_dock.isHidden()
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    frames[..., 2] = 200
    win.renderer.event.emit(RunStarted(1, ("gen",)))
    win.renderer.event.emit(NodeProgress(1, "gen", 1, 2, preview=frames))
    model = win.timeline.model  # the real timeline took the event: the step's frames are on it
    assert model.count == 3 and model.status == "step 1 of 2"
    assert int(model.store.frame(0)[0, 0, 2]) == 200


def test_screenshot_script_saves_the_editor_with_an_example(tmp_path, qtbot):
    from PySide6.QtGui import QImage

    from tests.ui.screenshot import shoot

    out = shoot(tmp_path / "editor.png")
    image = QImage(str(out))
    assert image.width() >= 1400 and image.height() >= 850
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 41)}
    assert len(colours) > 30  # a real picture, not a blank window


def _dock_sizes(win) -> dict[str, tuple[int, int]]:
    docks = {"inspector": win.inspector_dock, "viewer": win.timeline.viewer_dock,
             "timeline": win.timeline.timeline_dock}
    return {name: (d.width(), d.height()) for name, d in docks.items()}


def test_first_launch_layout_leaves_room_for_inspector_and_timeline_and_is_remembered(qtbot, registry):
    from studio.ui.shell.window import TIMELINE_H, MainWindow

    sizes = {}
    for width, height in ((1280, 800), (1600, 1000)):
        win = MainWindow(registry, timeline=False)
        qtbot.addWidget(win)
        win.resize(width, height)
        win.show()
        qtbot.waitExposed(win)
        win.attach_timeline()  # as the app does, once the window shows
        qtbot.wait(50)
        found = _dock_sizes(win)
        inspector, viewer, timeline = found["inspector"], found["viewer"], found["timeline"]
        assert timeline[1] >= TIMELINE_H - 10, found  # the lanes and the steps slider fit
        assert inspector[1] >= 0.45 * height and viewer[1] >= 220, found
        # the right column runs the full height; the timeline sits under the canvas only
        assert timeline[0] + inspector[0] <= width and win.view.width() == timeline[0], found
        assert win.view.height() >= 0.38 * height, (found, win.view.height())
        sizes[width] = found
        win.resizeDocks([win.inspector_dock], [inspector[0] + 60], Qt.Orientation.Horizontal)
        qtbot.wait(50)
        moved = _dock_sizes(win)
        win.session.undo.setClean()
        win.close()  # saves the layout
        again = MainWindow(registry, timeline=False)
        qtbot.addWidget(again)
        again.resize(width, height)  # the offscreen screen is small: restoreGeometry clamps the size
        again.show()
        qtbot.waitExposed(again)
        again.attach_timeline()
        qtbot.wait(50)
        for name, (w, h) in _dock_sizes(again).items():
            assert abs(w - moved[name][0]) <= 2 and abs(h - moved[name][1]) <= 2, (name, moved, _dock_sizes(again))
        again.session.undo.setClean()
        again.close()
        from studio.ui.shell.settings import settings

        settings().clear()  # the next size is a first launch again
    assert sizes[1600]["inspector"][1] > sizes[1280]["inspector"][1]
