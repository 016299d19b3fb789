"""Files: save and open, dirty marker and prompt, recent files, drops, settings, autosave and recovery."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from studio.graph import Link, dumps, load_graph
from studio.ui.shell import files
from studio.ui.shell.recovery import AUTOSAVE_DELAY_MS, pending_recoveries, recovery_dir
from tests.ui.conftest import settle
from tests.ui.test_canvas import add

ROOT = Path(__file__).resolve().parents[2]


def test_save_open_dirty_marker_and_recent(window, tmp_path, monkeypatch):
    assert not window.isWindowModified() and window.windowTitle().startswith("Untitled")
    a = add(window, "test.Number", (0, 0))
    assert window.isWindowModified()
    target = tmp_path / "mine.studio.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "mine"), ""))
    window.act_save.trigger()
    assert target.exists() and not window.isWindowModified()
    assert window.windowTitle().startswith("mine.studio.json")
    assert load_graph(target, window.registry).nodes[a].type == "test.Number"
    window.session.set_param(a, "value", 3.0)
    assert window.isWindowModified()
    window.act_undo.trigger()
    assert not window.isWindowModified()  # back at the saved state
    window.act_new.trigger()
    assert window.session.graph.nodes == {} and window.session.path is None
    assert window.open_path(target)
    assert list(window.session.graph.nodes) == [a]
    assert window.files.recent_files()[0] == target.resolve()
    window.files.fill_recent_menu(window.recent_menu)
    assert [act.text() for act in window.recent_menu.actions()][0] == "mine.studio.json"


def test_a_bad_file_is_reported_and_the_graph_kept(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    add(window, "test.Number", (0, 0))
    bad = tmp_path / "bad.studio.json"
    bad.write_text("{ not json", encoding="utf-8")
    assert not window.open_path(bad, confirmed=True)
    assert "not valid JSON" in shown[0]
    assert list(window.session.graph.nodes) == ["number"]


def test_close_asks_to_save_and_cancel_keeps_the_window(window, monkeypatch, tmp_path):
    add(window, "test.Number", (0, 0))
    monkeypatch.setattr(files, "ask_save", lambda *a: "cancel")
    assert not window.close()
    assert window.isVisible()
    window.session.path = tmp_path / "kept.studio.json"
    monkeypatch.setattr(files, "ask_save", lambda *a: "save")
    assert window.close()
    assert (tmp_path / "kept.studio.json").exists()


def test_window_layout_is_remembered_under_studio_home(qtbot, registry, studio_home, monkeypatch):
    from studio.ui.shell.window import MainWindow

    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    first = MainWindow(registry)
    qtbot.addWidget(first)
    first.show()
    first.log_dock.hide()
    first.act_minimap.setChecked(False)
    first.close()
    assert (studio_home / "config" / "editor.ini").exists()
    second = MainWindow(registry)
    qtbot.addWidget(second)
    second.show()
    assert not second.log_dock.isVisible() and second.inspector_dock.isVisible()
    assert not second.act_minimap.isChecked()


def _drop(window, paths: list[Path], at: QPoint) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    vp = window.view.viewport()
    with warnings.catch_warnings():  # PySide marks the only constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    drop = QDropEvent(QPointF(at), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, drop)


def test_dropping_an_image_makes_its_node_and_a_graph_opens(window, tmp_path):
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    _drop(window, [image], QPoint(200, 200))
    nodes = list(window.session.graph.nodes.values())
    assert [n.type for n in nodes] == ["uitest.Picture"]
    assert nodes[0].params["path"] == str(image.resolve())
    settle()
    assert window.inspector.editors["path"].line.text() == str(image.resolve())
    other = tmp_path / "other.studio.json"
    other.write_text(dumps(_two_nodes(window), window.registry), encoding="utf-8")
    _drop(window, [other], QPoint(100, 100))
    assert sorted(window.session.graph.nodes) == ["a", "b"] and window.session.path == other.resolve()
    unknown = tmp_path / "notes.xyz"
    unknown.write_text("x")
    _drop(window, [unknown], QPoint(100, 100))
    assert "no node type reads '.xyz'" in window.statusBar().currentMessage()


def _two_nodes(window):
    from studio.graph import Graph

    g = Graph()
    g.add_node(window.registry.get("test.Number"), "a")
    g.add_node(window.registry.get("test.Add"), "b", position=(300, 0))
    g.connect("a", "value", "b", "a")
    return g


def test_examples_menu_lists_the_example_graphs_and_opens_one_as_an_untitled_copy(window):
    shipped = files.examples()
    assert len(shipped) >= 4  # the shipped examples are there to list
    window.files.fill_examples_menu(window.examples_menu)
    actions = window.examples_menu.actions()
    assert [a.text() for a in actions][:len(shipped)] and len(actions) == len(shipped)
    assert "First clip" in [a.text() for a in actions]
    next(a for a in actions if a.text() == "First clip").trigger()
    assert window.session.graph.nodes and window.session.path is None  # a copy: the shipped file stays as it is


def test_autosave_writes_a_recovery_file_and_saving_removes_it(window, qtbot, tmp_path):
    add(window, "test.Number", (0, 0))
    rec = window.autosaver.graph_file
    qtbot.waitUntil(rec.exists, timeout=3000)
    assert rec.read_text(encoding="utf-8") == dumps(window.session.graph, window.registry)
    assert rec.parent == recovery_dir() and str(recovery_dir()).startswith(os.environ["STUDIO_HOME"])
    window.session.save(tmp_path / "saved.studio.json")
    assert not rec.exists()


def test_the_first_edit_is_autosaved_within_a_second(qtbot, registry, tmp_path, monkeypatch):
    from studio.ui.shell.window import MainWindow

    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    win = MainWindow(registry, timeline=False)  # the editor's own autosave delays, not a test's
    qtbot.addWidget(win)
    win.show()
    assert win.autosaver.delay_ms == AUTOSAVE_DELAY_MS > 1000
    rec = win.autosaver.graph_file
    started = time.monotonic()
    add(win, "test.Number", (0, 0))
    qtbot.waitUntil(rec.exists, timeout=1000)
    assert time.monotonic() - started < 1.0
    assert rec.read_text(encoding="utf-8") == dumps(win.session.graph, win.registry)
    assert win.autosaver.lock_file.exists()  # held while this editor runs
    win.session.save(tmp_path / "first.studio.json")
    assert not rec.exists() and not win.autosaver.lock_file.exists()
    # the first change after a save is quick again; the ones after it are batched
    win.session.set_param("number", "value", 7.0)
    assert win.autosaver.timer.interval() <= 1000
    qtbot.waitUntil(rec.exists, timeout=1000)
    win.session.set_param("number", "value", 8.0)
    assert win.autosaver.timer.interval() == AUTOSAVE_DELAY_MS


def test_an_open_editors_autosave_is_not_offered_to_another_window_of_it(window, qtbot):
    add(window, "test.Number", (0, 0))
    qtbot.waitUntil(window.autosaver.info_file.exists, timeout=3000)
    assert pending_recoveries() == []  # its lock is held (by this process): it is not a crash's leftover
    assert window.autosaver.graph_file.exists()


def test_recovery_after_the_process_is_killed(window, qtbot, monkeypatch, studio_home):
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-m", "tests.ui.crash_session"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    found = pending_recoveries()
    assert len(found) == 1 and found[0].source is None
    asked = []
    monkeypatch.setattr(files, "ask_restore", lambda parent, rec: asked.append(rec) or True)
    assert window.offer_recovery() == 1
    assert len(asked) == 1 and "Untitled" in asked[0].describe()  # the user was offered it
    graph = window.session.graph
    assert sorted(graph.nodes) == ["add", "number"]
    assert graph.nodes["number"].params["value"] == 42.0
    assert graph.links == [Link("number", "value", "add", "a")]
    assert window.isWindowModified() and window.session.dirty
    assert set(window.scene.nodes) == {"add", "number"}
    assert not found[0].graph_file.exists()  # taken over by this session's own autosave
    assert pending_recoveries() == []


def test_declining_recovery_discards_it_and_one_equal_to_the_saved_file_is_not_offered(window, monkeypatch, tmp_path):
    import json

    saved = tmp_path / "g.studio.json"
    saved.write_text(dumps(_two_nodes(window), window.registry), encoding="utf-8")
    d = recovery_dir()
    for key, source, written in (("old", str(saved), time.time() - 100), ("new", None, time.time())):
        (d / f"{key}.recovery.studio.json").write_text(dumps(_two_nodes(window), window.registry))
        (d / f"{key}.info.json").write_text(json.dumps({"source": source, "written": written, "pid": 999999999}))
    found = pending_recoveries()
    assert [r.key for r in found] == ["new"]  # the saved file holds what "old" holds: nothing to recover
    monkeypatch.setattr(files, "ask_restore", lambda parent, rec: False)
    assert window.offer_recovery() == 0
    assert pending_recoveries() == [] and not list(d.iterdir())


def test_revert_reloads_the_saved_file(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    a = add(window, "test.Number", (0, 0))
    window.session.save(tmp_path / "r.studio.json")
    window.session.set_param(a, "value", 9.0)
    monkeypatch.setattr(files, "ask_revert", lambda *args: QMessageBox.StandardButton.Yes)
    window.act_revert.trigger()
    assert window.session.graph.nodes[a].params["value"] == 1.0 and not window.session.dirty


def test_dropping_a_clip_makes_a_load_video_node(window, tmp_path):
    from nodes.video import load_video

    window.registry.register(load_video)
    clip = tmp_path / "take.MP4"  # the extension in any case
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    _drop(window, [clip], QPoint(200, 200))
    nodes = list(window.session.graph.nodes.values())
    assert [n.type for n in nodes] == ["studio.LoadVideo"] and nodes[0].params["path"] == str(clip.resolve())
