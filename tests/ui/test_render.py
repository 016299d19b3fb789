"""Rendering from the editor: node states on the canvas change as the engine's events arrive."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.engine import NodeProgress, RunFinished
from tests.ui.test_canvas import add


def build(win, steps: int) -> tuple[str, str, str]:
    n = add(win, "test.Number", (0, 0))
    s = add(win, "test.Slow", (300, 0))
    k = add(win, "test.Sink", (600, 0))
    win.session.edit("links", lambda g: (g.connect(n, "value", s, "x"), g.connect(s, "y", k, "x")))
    win.session.set_param(s, "steps", steps)
    return n, s, k


def record(win) -> list:
    seen: list = []
    win.renderer.event.connect(lambda ev: seen.append((ev, {nid: it.state for nid, it in win.scene.nodes.items()})))
    return seen


def finished(seen) -> bool:
    return any(isinstance(ev, RunFinished) for ev, _ in seen)


def test_render_shows_queued_running_done_then_cached(window, qtbot):
    n, s, k = build(window, 25)
    seen = record(window)
    window.activateWindow()
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.renderer.running or finished(seen)
    assert window.act_render.isEnabled()  # while it runs, another Ctrl+Enter queues behind it
    qtbot.waitUntil(lambda: finished(seen), timeout=10_000)
    states_of_slow = [states[s] for _, states in seen]
    assert "queued" in states_of_slow and "running" in states_of_slow
    progress = [ev for ev, _ in seen if isinstance(ev, NodeProgress)]
    assert progress and progress[-1].step == 25
    running_texts = {window.scene.nodes[s].state_text} | {f"step {ev.step}/{ev.total}" for ev in progress}
    assert "step 25/25" in running_texts
    assert {nid: window.scene.nodes[nid].state for nid in (n, s, k)} == {n: "done", s: "done", k: "done"}
    assert window.act_render.isEnabled() and not window.act_cancel.isEnabled()
    assert "render ok" in window.logs.log.toPlainText()
    # the second run is served from the cache
    seen.clear()
    window.act_render.trigger()
    qtbot.waitUntil(lambda: finished(seen), timeout=10_000)
    assert {nid: window.scene.nodes[nid].state for nid in (n, s, k)} == {n: "cached", s: "cached", k: "cached"}
    # changing a parameter makes the node and everything made from it stale, not "done"
    window.session.set_param(s, "seed", 4)
    states = {nid: (window.scene.nodes[nid].state, window.scene.nodes[nid].state_text) for nid in (n, s, k)}
    assert states == {n: ("cached", "cached"), s: ("stale", "stale: edited"), k: ("stale", "stale: an input changed")}


def test_cancel_stops_at_the_next_step(window, qtbot):
    n, s, k = build(window, 400)
    seen = record(window)
    window.act_render.trigger()
    qtbot.waitUntil(lambda: window.scene.nodes[s].state == "running", timeout=10_000)
    assert window.act_cancel.isEnabled()
    window.activateWindow()
    QTest.keyClick(window.view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: finished(seen), timeout=5_000)
    final = next(ev for ev, _ in seen if isinstance(ev, RunFinished))
    assert final.status == "cancelled"
    assert window.scene.nodes[s].state == "cancelled"
    assert window.scene.nodes[n].state == "done"


def test_a_failing_node_shows_its_message(window, qtbot):
    n = add(window, "test.Number", (0, 0))
    f = add(window, "test.Fail", (300, 0))
    window.session.edit("link", lambda g: g.connect(n, "value", f, "x"))
    seen = record(window)
    window.act_render.trigger()
    qtbot.waitUntil(lambda: finished(seen), timeout=10_000)
    item = window.scene.nodes[f]
    assert item.state == "failed"
    assert "the input is not usable" in item.state_text and "try another one" in item.toolTip()
    assert "FAILED" in window.logs.log.toPlainText()


def test_progress_events_are_coalesced_not_queued(window, qtbot):
    """The worker outruns the main thread; pending progress for a node is replaced, not stacked."""
    from studio.engine import NodeProgress as P

    ctl = window.renderer
    got: list = []
    ctl.event.connect(got.append)
    for k in range(1, 501):
        ctl._listen(P(1, "slow", k, 500))
    qtbot.waitUntil(lambda: bool(got), timeout=2000)
    assert [ev.step for ev in got] == [500]
    assert ctl.coalesced == 499


def test_renders_run_at_the_editors_cpu_priority(window, qtbot, monkeypatch):
    """A render in the editor runs as fast as `studio render` in a terminal while other processes keep the cores
    busy: lowered to nice +10 it took 8x as long, and the editor stalled more (bench_render_priority)."""
    import os
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        pytest.skip("a thread's own CPU priority exists on Linux only")
    build(window, 5)
    seen = record(window)
    priorities: set[int] = set()
    listen = window.renderer._listen

    def observe(event):  # called on the engine's worker thread, as the engine calls the renderer
        priorities.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        listen(event)

    monkeypatch.setattr(window.renderer, "_listen", observe)
    window.render()
    qtbot.waitUntil(lambda: finished(seen), timeout=10_000)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert priorities == {mine}


def test_a_warning_given_while_running_shows_on_the_node_and_in_the_log_until_the_next_render(window, qtbot):
    from studio.engine import NodeWarning, RunStarted

    n = add(window, "test.Number", (0, 0))
    window.scene.show_problems([])  # validation: nothing
    window._run_event(RunStarted(1, (n,)))
    window._run_event(NodeWarning(1, n, "the model ignores 'bleu' (did you mean 'blue'?)"))
    item = window.scene.nodes[n]
    assert item.problems == ["the model ignores 'bleu' (did you mean 'blue'?)"]
    assert "warning: the model ignores 'bleu'" in window.logs.log.toPlainText()
    window.refresh_problems()  # a validation pass keeps the run's warning
    assert window.checker.wait_idle()
    qtbot.wait(50)
    assert item.problems == ["the model ignores 'bleu' (did you mean 'blue'?)"]
    window._run_event(RunStarted(2, (n,)))
    assert item.problems == []


def test_select_shot_selects_the_shot_list_and_its_row(window, qtbot):
    from nodes.sequence import shot_list

    window.registry.register(shot_list)
    window.session.edit("add", lambda g: g.add_node(shot_list, "shots"))
    window.select_shot("shots", 1)  # the node's default list has two shots
    qtbot.wait(50)  # the inspector follows the selection, then the row is chosen
    table = window.inspector.editors["shots"].table.table
    assert window.scene.selected_node_ids() == ["shots"] and window.inspector.node_id == "shots"
    assert [i.row() for i in table.selectionModel().selectedRows()] == [1]
