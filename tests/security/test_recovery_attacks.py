"""Attacks on crash recovery: a corrupt recovery file never hides the valid one beside it, a touched saved
file never deletes unsaved work, and an editor's liveness is its lock, never its PID."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.graph import Graph, dumps
from studio.ui.shell import files
from studio.ui.shell.recovery import (
    GRAPH_SUFFIX,
    INFO_SUFFIX,
    LOCK_SUFFIX,
    SET_ASIDE,
    pending_recoveries,
    recovery_dir,
)
from tests.ui.conftest import ui_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(qtbot, qapp, monkeypatch):
    from studio.ui.shell.window import MainWindow

    monkeypatch.setattr(files, "ask_save", lambda *a: "discard")
    win = MainWindow(ui_registry(), autosave_ms=200, timeline=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    qapp.clipboard().clear()


def _graph(value: float = 1.0) -> str:
    registry = ui_registry()
    graph = Graph()
    graph.add_node(registry.get("test.Number"), "number").params["value"] = value
    return dumps(graph, registry)


def _write(key: str, *, info: bytes | str | dict | None, graph: bytes | str | None) -> None:
    d = recovery_dir()
    if info is not None:
        data = json.dumps(info) if isinstance(info, dict) else info
        (d / (key + INFO_SUFFIX)).write_bytes(data.encode() if isinstance(data, str) else data)
    if graph is not None:
        (d / (key + GRAPH_SUFFIX)).write_bytes(graph.encode() if isinstance(graph, str) else graph)


def _good_info(**changes: object) -> dict:
    return {"source": None, "written": time.time() - 60, "pid": 999_999_999, "title": "Untitled"} | changes


CORRUPTIONS = {
    "info not UTF-8": dict(info=b'{"source": null, "written": 1.0, "title": "\xff\xfe"}'),
    "source not text": dict(info=_good_info(source=["a", "b"])),
    "source a number": dict(info=_good_info(source=5)),
    "source with a NUL": dict(info=_good_info(source="/tmp/a\x00b.studio.json")),
    "source relative": dict(info=_good_info(source="../../etc/passwd")),
    "written 'nan' as text": dict(info=_good_info(written="nan")),
    "written NaN": dict(info='{"source": null, "written": NaN, "title": "x"}'),
    "written far future": dict(info=_good_info(written=1e300)),
    "written a bool": dict(info=_good_info(written=True)),
    "info a list": dict(info="[1, 2, 3]"),
    "info truncated": dict(info='{"source": null, "writ'),
    "info nested deeply": dict(info="[" * 60_000),
    "info too large": dict(info=json.dumps(_good_info(title="x" * 70_000))),
    "title not text": dict(info=_good_info(title={"a": 1})),
    "pid not a number": dict(info=_good_info(pid="1; rm -rf /")),
    "graph not UTF-8": dict(info=_good_info(), graph=b'{"format": "\xff"}'),
    "graph truncated": dict(info=_good_info(), graph='{"format": "studio.graph", "nod'),
    "graph not an object": dict(info=_good_info(), graph="[]"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupt_recovery_is_set_aside_and_the_valid_one_beside_it_offered(case, caplog):
    spec = CORRUPTIONS[case]
    _write("a-bad", info=spec["info"], graph=spec.get("graph", _graph(2.0)))
    _write("b-good", info=_good_info(), graph=_graph(3.0))
    with caplog.at_level(logging.WARNING, logger="studio"):
        found = pending_recoveries()
    assert [r.key for r in found] == ["b-good"]
    assert "unsaved changes from" in found[0].describe()
    aside = recovery_dir() / SET_ASIDE
    assert sorted(p.name for p in aside.iterdir()) == ["a-bad" + INFO_SUFFIX, "a-bad" + GRAPH_SUFFIX]
    assert str(aside / ("a-bad" + INFO_SUFFIX)) in caplog.text and "set aside" in caplog.text
    caplog.clear()
    assert [r.key for r in pending_recoveries()] == ["b-good"] and caplog.text == ""  # once, not every start


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_odd_files_in_the_recovery_folder_never_block_or_escape(caplog):
    d = recovery_dir()
    os.mkfifo(d / ("fifo" + INFO_SUFFIX))  # reading it would wait forever
    (d / ("link" + GRAPH_SUFFIX)).symlink_to("/etc/hostname")  # never read through, never moved onto
    (d / ("link" + INFO_SUFFIX)).write_text(json.dumps(_good_info()))
    (d / ("folder" + GRAPH_SUFFIX)).mkdir()
    _write("good", info=_good_info(), graph=_graph())
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="studio"):
        found = pending_recoveries()
    assert time.monotonic() - started < 2
    assert [r.key for r in found] == ["good"]
    aside = {p.name for p in (d / SET_ASIDE).iterdir()}
    assert {"fifo" + INFO_SUFFIX, "link" + GRAPH_SUFFIX, "folder" + GRAPH_SUFFIX} <= aside
    assert Path("/etc/hostname").exists() and (d / SET_ASIDE / ("link" + GRAPH_SUFFIX)).is_symlink()


def test_a_bad_recovery_that_cannot_be_moved_aside_still_hides_nothing(caplog):
    (recovery_dir() / SET_ASIDE).write_text("a file where the set-aside folder goes")
    _write("a-bad", info=_good_info(written="nan"), graph=_graph(2.0))
    _write("b-good", info=_good_info(), graph=_graph(3.0))
    with caplog.at_level(logging.WARNING, logger="studio"):
        assert [r.key for r in pending_recoveries()] == ["b-good"]
    assert "a-bad" in caplog.text and (recovery_dir() / ("a-bad" + INFO_SUFFIX)).exists()  # left, not lost


def test_the_window_offers_the_valid_recovery_and_logs_the_bad_one(window, qtbot, monkeypatch):
    _write("a-bad", info=b"\x80\x81 not text", graph=_graph(2.0))
    _write("b-good", info=_good_info(), graph=_graph(3.0))
    monkeypatch.setattr(files, "ask_restore", lambda parent, rec: True)
    assert window.offer_recovery() == 1
    assert window.session.graph.nodes["number"].params["value"] == 3.0
    bad = recovery_dir() / SET_ASIDE / ("a-bad" + INFO_SUFFIX)
    assert bad.read_bytes() == b"\x80\x81 not text"  # kept for a person, never deleted
    qtbot.waitUntil(lambda: str(bad) in window.logs.log.toPlainText(), timeout=2000)


def test_a_recovery_that_does_not_load_is_set_aside_after_the_error(window, monkeypatch):
    # valid JSON, so it is offered, but not a graph: the error is shown once, not at every start
    _write("odd", info=_good_info(), graph='{"format": "something else"}')
    shown = []
    monkeypatch.setattr(files, "ask_restore", lambda parent, rec: True)
    monkeypatch.setattr(files.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    assert window.offer_recovery() == 0
    assert len(shown) == 1 and "odd" + GRAPH_SUFFIX in shown[0]
    assert (recovery_dir() / SET_ASIDE / ("odd" + GRAPH_SUFFIX)).exists()
    assert pending_recoveries() == []


def test_a_saved_file_touched_after_the_crash_does_not_delete_the_recovery(tmp_path):
    saved = tmp_path / "g.studio.json"
    saved.write_text(_graph(1.0), encoding="utf-8")
    written = time.time() - 600
    _write("k", info=_good_info(source=str(saved), written=written), graph=_graph(5.0))
    later = time.time()
    os.utime(saved, (later, later))  # a sync tool, git checkout: newer, same old content
    found = pending_recoveries()
    assert [r.key for r in found] == ["k"] and found[0].source == saved
    assert found[0].saved_since and "saved again" in found[0].describe()
    assert found[0].graph_file.exists()
    # the person saved exactly this content: nothing to recover, and only then it goes by itself
    saved.write_text(_graph(5.0), encoding="utf-8")
    assert pending_recoveries() == [] and not found[0].graph_file.exists()


def _start_editor() -> tuple[subprocess.Popen, Path]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-m", "tests.ui.crash_session", "--hold"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line, proc.stderr.read()
    return proc, Path(line)


def _set_pid(info_file: Path, pid: int) -> None:
    info = json.loads(info_file.read_text(encoding="utf-8"))
    info["pid"] = pid
    info_file.write_text(json.dumps(info), encoding="utf-8")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_running_editors_recovery_waits_for_it_to_die_whatever_its_pid():
    editor, graph_file = _start_editor()
    key = graph_file.name[: -len(GRAPH_SUFFIX)]
    info_file = graph_file.with_name(key + INFO_SUFFIX)
    try:
        assert graph_file.with_name(key + LOCK_SUFFIX).exists()
        assert pending_recoveries() == []  # it runs: its lock is held
        _set_pid(info_file, _dead_pid())  # a PID that is gone here (another container's editor, say)
        assert pending_recoveries() == []
    finally:
        editor.stdin.write("\n")
        editor.stdin.flush()
        editor.wait(timeout=30)
    assert editor.returncode == -9
    for pid in (1, os.getpid(), os.getppid()):  # PID 1 in a container, a reused PID, ours: all alive here
        _set_pid(info_file, pid)
        found = pending_recoveries()
        assert [r.key for r in found] == [key], pid
    assert found[0].load(ui_registry()).nodes["number"].params["value"] == 42.0


def test_where_locks_do_not_work_the_record_decides_and_a_reused_pid_is_not_believed(tmp_path):
    # what a reader falls back on when the lock file's file system cannot lock (is_held answers None)
    from studio import locks

    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        started = locks.process_started(proc.pid)
        assert started is not None and abs(started - time.time()) < 30
        me = locks.Holder.current()
        alive = locks.Holder(me.host, me.boot, me.space, proc.pid, time.time() + 1)
        assert locks.recorded_holder_alive(alive)
        reused = locks.Holder(me.host, me.boot, me.space, proc.pid, started - 3600)  # took it before it ran
        other_space = locks.Holder("elsewhere", me.boot, "0123abcd", proc.pid, time.time() + 1)
        assert not locks.recorded_holder_alive(reused) and not locks.recorded_holder_alive(other_space)
    finally:
        proc.communicate(b"")
    assert not locks.recorded_holder_alive(alive)  # and once it is gone
    lock_file = tmp_path / "k.lock"
    with locks.hold(lock_file, record=True) as held:
        assert held.locked and locks.read_holder(lock_file).pid == os.getpid()
        assert locks.is_held(lock_file) is True
        with pytest.raises(locks.LockBusy):
            locks.hold(lock_file, record=True, wait=0)
    assert locks.is_held(lock_file) is False
