"""The engine: order, cache hits and misses, reasons, memo, cancellation, failures, events."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

from studio.engine import (
    CancelToken,
    Engine,
    NodeCached,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    OutputCache,
    RunFinished,
    RunStarted,
    measure,
)
from studio.graph import Graph
from tests import toy_nodes
from tests.toy_nodes import add, fail, file_size, number, registry, sink, slow


def chain() -> Graph:
    g = Graph()
    g.add_node(number, "n", params={"value": 3.0})
    g.add_node(slow, "slow", params={"steps": 4, "seed": 1})
    g.add_node(sink, "out")
    g.connect("n", "value", "slow", "x")
    g.connect("slow", "y", "out", "x")
    return g


def run(engine, g, **kw):
    events = []
    result = engine.run(g, listener=events.append, **kw)
    return result, events


def test_runs_in_dependency_order_and_publishes_events():
    engine = Engine(registry())
    result, events = run(engine, chain())
    assert result.ok and result.outputs["out"]["x"] == 3.0 * 2 + 1
    assert isinstance(events[0], RunStarted) and events[0].node_ids == ("n", "slow", "out")
    started = [e.node_id for e in events if isinstance(e, NodeStarted)]
    assert started == ["n", "slow", "out"]
    steps = [(e.step, e.total) for e in events if isinstance(e, NodeProgress)]
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    finished = {e.node_id: e.seconds for e in events if isinstance(e, NodeFinished)}
    assert set(finished) == {"n", "slow", "out"} and finished["slow"] >= 0.04
    last = events[-1]
    assert isinstance(last, RunFinished) and last.status == "ok" and set(last.timings) == set(finished)


def test_changing_nothing_reruns_nothing_and_seed_reruns_only_the_sampler():
    engine = Engine(registry())
    g = chain()
    engine.run(g)
    toy_nodes.CALLS.clear()
    result, events = run(engine, g)
    assert toy_nodes.CALLS == {} and sorted(result.cached) == ["n", "out", "slow"]
    assert sum(isinstance(e, NodeCached) for e in events) == 3
    g.set_param("slow", "seed", 7)
    result, _ = run(engine, g)
    assert toy_nodes.CALLS == {"slow": 1, "sink": 1}  # the memoized 'prepare' did not run again
    assert result.cached == ["n"]
    assert result.reasons["slow"] == "parameter 'seed' changed (1 -> 7)"
    assert result.reasons["out"] == "input 'x' changed (upstream node 'slow' changed)"
    assert engine.memo_stats["prepare"] == [1, 1]
    g.set_param("n", "value", 4.0)
    toy_nodes.CALLS.clear()
    engine.run(g)
    assert toy_nodes.CALLS == {"number": 1, "slow": 1, "prepare": 1, "sink": 1}


def test_explain_says_why_without_running():
    engine = Engine(registry())
    g = chain()
    assert engine.explain(g) == {"n": "first run", "slow": "first run", "out": "first run"}
    engine.run(g)
    g.update_node("slow", bypassed=False)
    g.connect("n", "value", "out", "x")
    why = engine.explain(g)
    assert why["n"] == "cached"
    assert why["out"] == "input 'x' now comes from 'n.value'"
    assert "slow" not in why  # no longer needed


def test_only_what_the_targets_need_runs():
    engine = Engine(registry())
    g = chain()
    g.add_node(number, "unused")
    result = engine.run(g, targets=["slow"])
    assert set(result.timings) == {"n", "slow"}


def test_cancel_between_steps_leaves_the_cache_consistent():
    engine = Engine(registry())
    g = chain()
    g.set_param("slow", "steps", 50)
    token = CancelToken()
    seen = []

    def listener(event):
        seen.append(event)
        if isinstance(event, NodeProgress) and event.step == 3:
            token.cancel()

    result = engine.run(g, listener=listener, cancel=token)
    assert result.status == "cancelled"
    assert max(e.step for e in seen if isinstance(e, NodeProgress)) == 3
    assert isinstance(seen[-1], RunFinished) and seen[-1].status == "cancelled"
    # the finished upstream node stays cached, the cancelled one was not stored
    result = engine.run(g)
    assert result.ok and result.cached == ["n"]
    assert result.reasons["slow"] == "its outputs were not kept (the last run stopped before it finished)"


def test_worker_thread_run_and_cancel():
    engine = Engine(registry())
    g = chain()
    g.set_param("slow", "steps", 500)
    progressed = threading.Event()
    handle = engine.start(g, listener=lambda e: isinstance(e, NodeProgress) and progressed.set())
    assert progressed.wait(5)
    handle.cancel()
    result = handle.wait(5)
    assert handle.done and result.status == "cancelled"
    assert handle.thread.name == "studio-engine"


def test_user_errors_and_crashes_become_node_failures():
    engine = Engine(registry())
    g = Graph()
    g.add_node(number, "n")
    g.add_node(fail, "bad")
    g.add_node(sink, "out")
    g.connect("n", "value", "bad", "x")
    g.connect("bad", "y", "out", "x")
    result, events = run(engine, g)
    assert result.status == "failed"
    assert result.failed == {"bad": "the input is not usable (try another one)"}
    assert [e.node_id for e in events if isinstance(e, NodeFailed)] == ["bad"]
    assert "out" not in result.timings
    g.set_param("bad", "crash", True)
    result, _ = run(engine, g)
    assert result.failed["bad"] == "internal error in 'Fail': ZeroDivisionError: boom"


def test_invalid_graph_fails_before_running_with_every_problem():
    engine = Engine(registry())
    g = Graph()
    g.add_node(add, "add")
    g.add_node(number, "n", params={"value": 1000.0})
    g.add_node(sink, "out")
    g.connect("add", "sum", "out", "x")
    g.connect("n", "value", "add", "b")
    toy_nodes.CALLS.clear()
    result, events = run(engine, g)
    assert result.status == "failed" and toy_nodes.CALLS == {}
    assert set(result.failed) == {"add", "n"}
    assert "required FLOAT input is not connected" in result.failed["add"]


def test_bypass_passes_the_matching_input_through():
    engine = Engine(registry())
    g = chain()
    g.update_node("slow", bypassed=True)
    result = engine.run(g)
    assert result.ok and result.outputs["out"]["x"] == 3.0


def test_listener_errors_do_not_break_the_run(caplog):
    engine = Engine(registry())
    seen = []

    def broken(event):
        seen.append(event)
        raise RuntimeError("view bug")

    with caplog.at_level("ERROR", logger="studio.engine.engine"):
        result = engine.run(chain(), listener=broken)
    assert result.ok and result.outputs["out"]["x"] == 3.0 * 2 + 1 and not result.failed
    # every event still reached the view, each failure was logged, and the run finished as usual
    assert isinstance(seen[0], RunStarted) and isinstance(seen[-1], RunFinished) and seen[-1].status == "ok"
    assert [e.node_id for e in seen if isinstance(e, NodeFinished)] == ["n", "slow", "out"]
    assert len([e for e in seen if isinstance(e, NodeProgress)]) == 4
    failures = [r for r in caplog.records if "an event listener failed" in r.getMessage()]
    assert len(failures) == len(seen) and all("view bug" in r.exc_text for r in failures)


def test_file_changes_invalidate(tmp_path):
    engine = Engine(registry())
    asset = tmp_path / "a.bin"
    asset.write_bytes(b"123")
    g = Graph()
    g.add_node(file_size, "f", params={"path": "a.bin"})
    g.add_node(sink, "out")
    g.connect("f", "size", "out", "x")
    assert engine.run(g, base_dir=tmp_path).outputs["out"]["x"] == 3.0
    asset.write_bytes(b"12345")
    result = engine.run(g, base_dir=tmp_path)
    assert result.outputs["out"]["x"] == 5.0
    assert result.reasons["f"] == "file of 'path' changed on disk"


def test_cache_budget_evicts_least_recently_used_and_releases_models():
    released = []

    class Model:
        nbytes = 600

        def release(self):
            released.append(self)

    cache = OutputCache(budget_bytes=1300)
    model = Model()
    cache.put("m", {"model": model})
    cache.put("a", np.zeros(300, np.uint8))
    cache.get("m")  # m is now the most recently used
    cache.put("b", np.zeros(300, np.uint8))
    assert "a" not in cache and "m" in cache and "b" in cache
    cache.put("c", np.zeros(500, np.uint8))
    assert "m" not in cache and released == [model]
    assert cache.used_bytes <= 1300
    assert measure({"x": np.zeros((4, 8, 8, 3), np.uint8)}) >= 768


def test_engine_reports_eviction_as_the_reason():
    engine = Engine(registry(), OutputCache(budget_bytes=0))
    g = chain()
    engine.run(g)
    result = engine.run(g)
    assert "evicted" in result.reasons["n"]


def test_missing_input_files_fail_before_anything_runs(tmp_path):
    engine = Engine(registry())
    g = Graph()
    g.add_node(number, "n")
    g.add_node(slow, "slow")
    g.add_node(file_size, "f1", params={"path": "gone.bin"})
    g.add_node(file_size, "f2", params={"path": str(tmp_path / "also-gone.bin")})
    g.add_node(sink, "out")
    g.add_node(add, "add")
    g.connect("n", "value", "slow", "x")
    g.connect("slow", "y", "add", "a")
    g.connect("f1", "size", "add", "b")
    g.connect("add", "sum", "out", "x")
    g.add_node(sink, "out2")
    g.connect("f2", "size", "out2", "x")
    toy_nodes.CALLS.clear()
    result = engine.run(g, base_dir=tmp_path)
    assert result.status == "failed" and toy_nodes.CALLS == {}
    assert set(result.failed) == {"f1", "f2"}
    assert str(tmp_path / "gone.bin") in result.failed["f1"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_a_background_run_keeps_the_callers_cpu_priority_unless_a_step_is_set(monkeypatch):
    """The editor's renders run at the editor's own priority: lowered (nice +10) a render took 8x as long as in
    a terminal while other processes kept the cores busy, and the editor stalled more (bench_render_priority).
    The step is still a setting the worker and the threads it starts (torch's, an export's) follow."""
    from studio import priority

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}

    def listen(event, key):
        if isinstance(event, NodeStarted) and key not in seen:
            seen[key] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # read inside a node's run
            child = threading.Thread(  # a thread the run starts (torch's, an export's) inherits it
                target=lambda: seen.setdefault(key + " child", os.getpriority(os.PRIO_PROCESS, 0))
            )
            child.start()
            child.join()

    def render(key, background):
        engine = Engine(registry())  # a fresh cache: every node runs
        assert engine.start(chain(), listener=lambda e: listen(e, key), background=background).wait(10)

    render("foreground", False)
    render("background", True)
    monkeypatch.setattr(priority, "BACKGROUND", 3)
    render("stepped", True)
    assert seen["foreground"] == seen["foreground child"] == mine
    assert seen["background"] == seen["background child"] == mine
    assert seen["stepped"] == seen["stepped child"] == min(19, mine + 3)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the caller's is unchanged


def test_a_clip_spooled_to_disk_counts_only_what_it_holds_in_memory(tmp_path):
    """A long sequence's clip is mapped from a file: counted at its length it would push the model out."""
    import mmap

    from studio.values import Video

    frames = np.arange(40 * 16 * 16 * 3, dtype=np.uint32).astype(np.uint8).reshape(40, 16, 16, 3)
    path = tmp_path / "clip.raw"
    path.write_bytes(frames.tobytes())
    with open(path, "rb") as fh:
        mapping = mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ)
    on_disk = Video(np.frombuffer(mapping, np.uint8).reshape(frames.shape), 16.0)
    in_memory = Video(frames.copy(), 16.0)
    assert measure({"video": in_memory}) >= frames.nbytes
    assert measure({"video": on_disk}) < 1024 and on_disk.nbytes == frames.nbytes
    np.testing.assert_array_equal(on_disk.frames, frames)
    cache = OutputCache(budget_bytes=2 * frames.nbytes)
    cache.put("model", {"model": np.zeros(frames.nbytes, np.uint8)})
    for i in range(10):  # ten long clips on disk: the model stays
        cache.put(f"clip{i}", {"video": on_disk})
    assert "model" in cache
