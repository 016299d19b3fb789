"""While a render runs on this machine, a thread running Python hands the GIL back to the main thread within
studio.priority.SHORT_SWITCH_S (CPython's default is 5 ms: the warm-up's imports, which the first render after
launch waits for, made every repaint wait that long again and again), and the interval from before comes back
when the render ends, however it ends. Not timed: these assert the interpreter's setting, which is what the
launch stall figures rest on (tests/benchmarks/bench_editor.py --batch)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from studio.engine.jobs import parse_seeds, variations
from studio.graph import ParamSpec, PortSpec, node
from studio.priority import SHORT_SWITCH_S, hold_short_switch
from tests.ui.conftest import ui_registry

SEEN: list[float] = []  # the switch interval as the render's own thread sees it, step by step


@node("stalltest.Probe", title="Probe", category="Test", outputs=[PortSpec("y", "FLOAT")], is_output=True,
      params=[ParamSpec("steps", "int", 5, minimum=1, maximum=1000), ParamSpec("seed", "seed", 0),
              ParamSpec("crash", "bool", False)])
def probe(ctx, steps, seed, crash):
    for k in range(1, steps + 1):
        SEEN.append(sys.getswitchinterval())
        time.sleep(0.01)
        ctx.check_cancelled()
        ctx.progress(k, steps)
    if crash:
        raise RuntimeError("the probe fails on purpose")
    return float(seed)


@pytest.fixture
def registry():
    reg = ui_registry()
    reg.register(probe)
    return reg


@pytest.fixture
def default_switch():
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    SEEN.clear()
    yield 0.005
    sys.setswitchinterval(before)


def probe_graph(window, steps: int, crash: bool = False) -> None:
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("stalltest.Probe"), "probe"))
    window.session.set_param("probe", "steps", steps)
    window.session.set_param("probe", "crash", crash)


def ended(window) -> bool:
    return not window.renderer.running and not window.renderer.queue.waiting() and window.renderer.current is None


def test_the_interval_is_short_while_a_batch_renders_and_restored_after(window, qtbot, default_switch):
    probe_graph(window, 5)
    window.renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds("1-3")))
    assert sys.getswitchinterval() == SHORT_SWITCH_S  # from the moment the first render starts
    qtbot.waitUntil(lambda: ended(window), timeout=20_000)
    assert len(SEEN) == 15 and set(SEEN) == {SHORT_SWITCH_S}  # every step of every render of the batch
    assert sys.getswitchinterval() == default_switch


@pytest.mark.parametrize("how", ["cancelled", "failed"])
def test_the_interval_comes_back_when_a_render_is_cancelled_or_fails(window, qtbot, default_switch, how):
    probe_graph(window, 200 if how == "cancelled" else 3, crash=how == "failed")
    window.render()
    qtbot.waitUntil(lambda: len(SEEN) >= 2, timeout=10_000)
    assert sys.getswitchinterval() == SHORT_SWITCH_S
    if how == "cancelled":
        window.renderer.cancel()
    qtbot.waitUntil(lambda: ended(window), timeout=10_000)
    assert window.renderer.queue.entries[-1].state == how
    assert sys.getswitchinterval() == default_switch


def test_the_interval_comes_back_when_the_window_closes_mid_render(window, qtbot, default_switch):
    probe_graph(window, 300)
    window.render()
    qtbot.waitUntil(lambda: len(SEEN) >= 2, timeout=10_000)
    handle = window.renderer.handle
    window.session.undo.setClean()
    window.close()  # cancels the render; the controller may not see its end on the main thread
    handle.wait(10)
    assert sys.getswitchinterval() == default_switch


def test_holds_overlap_and_the_interval_from_before_the_first_comes_back_after_the_last(default_switch):
    first = hold_short_switch()
    assert sys.getswitchinterval() == SHORT_SWITCH_S
    second = hold_short_switch()
    first()
    first()  # a second call of the same release changes nothing
    assert sys.getswitchinterval() == SHORT_SWITCH_S  # ``second`` still holds
    done = threading.Thread(target=second)  # released from another thread (a render's worker)
    done.start()
    done.join()
    assert sys.getswitchinterval() == default_switch


def test_an_interval_already_shorter_is_kept(default_switch):
    sys.setswitchinterval(SHORT_SWITCH_S / 2)
    release = hold_short_switch()
    assert sys.getswitchinterval() == pytest.approx(SHORT_SWITCH_S / 2)
    release()
    assert sys.getswitchinterval() == pytest.approx(SHORT_SWITCH_S / 2)
