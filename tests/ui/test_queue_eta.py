"""The ETA kept across sessions and the pass indicator: seconds per step measured by one editor give the next
editor's queued renders an ETA before they start; a render of two passes says which one its steps count, on
the job, on the node and in the status bar."""

from __future__ import annotations

import json
import threading

import pytest

from studio.engine.outputs import OutputPolicy
from studio.graph import ParamSpec, PortSpec, node
from studio.paths import data_dir
from studio.runtime.recipes.steering import GUIDE_PASS, pass_message
from studio.ui.shell.eta import FILE, StepTimes, step_key
from studio.ui.shell.passes import next_pass
from studio.ui.shell.queue import DONE, RenderQueue
from tests.ui.test_queue import all_ended
from tests.ui.test_render import build

GATE = threading.Event()


@node("etatest.TwoPass", title="Two Pass", category="Test", inputs=[PortSpec("x", "FLOAT")],
      outputs=[PortSpec("y", "FLOAT")], params=[ParamSpec("steps", "int", 4, minimum=1, maximum=100)])
def two_pass(ctx, x, steps):
    """Steps as Generate Video does with a camera guide and no picture: the first frame, then the clip."""
    for k in range(1, steps + 1):
        ctx.progress(k, steps, message=pass_message(1, 2, GUIDE_PASS))
    GATE.wait(10)
    for k in range(1, steps + 1):
        ctx.progress(k, steps)
        if k == 2:
            GATE.clear()
            GATE.wait(10)
    return x


@pytest.fixture
def registry():
    from tests.ui.conftest import ui_registry

    reg = ui_registry()
    reg.register(two_pass)
    return reg


def test_step_times_measured_in_one_session_give_a_queued_render_an_eta_in_the_next(window, qtbot):
    n, s, k = build(window, 30)
    window.render()
    qtbot.waitUntil(lambda: all_ended(window), timeout=20_000)
    first = window.renderer.queue.entries[0]
    qtbot.waitUntil(lambda: (data_dir() / FILE).exists(), timeout=5000)  # saved off the main thread
    kept = json.loads((data_dir() / FILE).read_text(encoding="utf-8"))["steps"]
    graph = window.session.graph
    assert list(kept) == [step_key(graph, s)]
    per_step = kept[step_key(graph, s)]["per_step"]
    assert 0.009 < per_step * 30 <= first.seconds  # the Slow node sleeps 10 ms a step

    later = RenderQueue(times=StepTimes())  # another session: nothing finished there yet
    twice = graph.copy()
    twice.set_param(s, "steps", 60)
    entry = later.add("twice as many steps", twice, None, None, OutputPolicy())
    assert later.eta(entry) == pytest.approx(per_step * 60)
    other = graph.copy()
    other.nodes[s].params["width"] = 640  # a size never rendered: no ETA yet, rather than a wrong one
    assert later.eta(later.add("other size", other, None, None, OutputPolicy())) is None
    assert later.eta(entry) == pytest.approx(per_step * 60)
    unlinked = graph.copy()
    unlinked.disconnect(unlinked.link_into(s, "x"))  # another input wiring is other work (a camera guide's pass)
    assert step_key(unlinked, s) != step_key(graph, s)


def test_a_damaged_table_of_step_times_costs_the_etas_not_the_editor(tmp_path):
    path = tmp_path / FILE
    path.write_text("{not json", encoding="utf-8")
    times = StepTimes(path)
    assert times.per_step("k") is None
    times.record("k", 10, 5.0)
    times.record("k", 10, 15.0)  # halfway to the newest measure
    times.save()
    assert StepTimes(path).per_step("k") == pytest.approx(1.0)


def test_passes_are_read_from_progress_messages():
    first = next_pass(None, "gen", pass_message(1, 2, GUIDE_PASS))
    assert first.label() == "pass 1 of 2: camera guide"
    assert next_pass(first, "gen", first.message) is first
    second = next_pass(first, "gen", "")
    assert second.label() == "pass 2 of 2: video"
    assert next_pass(second, "gen", "") is second
    assert next_pass(None, "gen", "") is None and next_pass(second, "export", "") is None
    assert next_pass(None, "seq", "pass 2 of 3: shot b").label() == "pass 2 of 3: shot b"
    assert next_pass(None, "seq", "pass 4 of 3: x") is None


def test_a_render_of_two_passes_shows_its_pass_on_the_job_the_node_and_the_status_bar(window, qtbot):
    GATE.clear()
    window.session.edit("Add", lambda g: (g.add_node(window.registry.get("test.Number"), "n"),
                                          g.add_node(two_pass, "gen"), g.connect("n", "value", "gen", "x")))
    window.renderer.submit(["gen"])
    entry = window.renderer.queue.entries[0]
    bar = window.queue_panel._bars[entry.number]
    try:
        qtbot.waitUntil(lambda: entry.step == 4 and "pass 1 of 2" in window.run_label.text(), timeout=10_000)
        assert bar.format() == "gen: pass 1 of 2: camera guide · step 4/4"
        assert window.scene.nodes["gen"].state_text == "pass 1/2: camera guide · 4/4"
        assert "rendering gen: pass 1 of 2: camera guide · step 4/4" in window.run_label.text()
        GATE.set()
        qtbot.waitUntil(lambda: entry.passes is not None and entry.passes.number == 2 and entry.step == 2,
                        timeout=10_000)
        qtbot.waitUntil(lambda: "pass 2 of 2" in window.run_label.text(), timeout=5000)
        assert bar.format() == "gen: pass 2 of 2: video · step 2/4"
        assert window.scene.nodes["gen"].state_text == "pass 2/2: video · 2/4"
    finally:
        GATE.set()
    qtbot.waitUntil(lambda: all_ended(window), timeout=10_000)
    assert entry.state == DONE


def test_a_render_slower_than_expected_does_not_count_down_to_zero_with_a_pass_to_come(monkeypatch):
    # Seen under Xvfb on a busy machine: "pass 1 of 2 · step 20/20", ETA 0:00, and the whole video pass to go.
    from studio.graph import Graph
    from studio.ui.shell.queue import RUNNING

    queue = RenderQueue(times=StepTimes())
    entry = queue.add("render", Graph(), None, None, OutputPolicy())
    monkeypatch.setattr(queue, "expected", lambda e, basis=None: 4.0)  # the last render took 4 s
    entry.state, entry.started, entry.node, entry.total = RUNNING, 0.0, "generate", 20
    entry.passes = next_pass(None, "generate", pass_message(1, 2, GUIDE_PASS))
    entry.pace, entry.step = ("generate", 1, 1.0), 20  # one second a step: far slower than the last render
    left = queue.eta(entry, now=20.0)
    assert left == pytest.approx(20.0)  # the video pass: 20 steps at this pace
    entry.pace, entry.step = ("generate", 1, 0.9), 2  # 0.1 s a step: the pace's 3.8 s, over the kept 3 s
    assert queue.eta(entry, now=1.0) == pytest.approx(3.8)
    entry.pace = ("generate", 1, 0.95)  # faster than the last render: the kept figure (it counts the export)
    assert queue.eta(entry, now=1.0) == pytest.approx(3.0)
