"""The editor's warm-up imports and a render never import the lazy model stack from two threads at once."""

from __future__ import annotations

import sys
import threading
import time

from studio import warmup
from studio.engine import Engine
from studio.graph import Graph
from tests.toy_nodes import registry as toy_registry


def test_a_render_waits_for_the_warm_up_in_progress(tmp_path, monkeypatch):
    registry = toy_registry()
    order: list[str] = []
    (tmp_path / "slow_stack.py").write_text(
        "import time, tests_warmup_log as log\nlog.order.append('import started')\ntime.sleep(0.6)\n"
        "log.order.append('import done')\nclass Model: pass\n", encoding="utf-8")
    log = type(sys)("tests_warmup_log")
    log.order = order
    monkeypatch.setitem(sys.modules, "tests_warmup_log", log)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_stack", raising=False)

    thread = warmup.start(("slow_stack:Model",), lower_priority=False)
    assert warmup.start(("slow_stack",)) is thread  # one warm-up at a time
    while "import started" not in order:
        time.sleep(0.01)
    g = Graph()
    g.add_node(registry.get("test.Number"), "n")
    handle = Engine(registry).start(g, listener=lambda e: order.append(type(e).__name__))
    handle.wait(10)
    assert order.index("import done") < order.index("RunStarted")
    assert not thread.is_alive()


def test_settle_returns_at_once_without_a_warm_up_and_on_its_own_thread(monkeypatch):
    monkeypatch.setattr(warmup, "_running", None)
    assert warmup.settle(0)
    seen = []
    monkeypatch.setattr(warmup, "_running", threading.current_thread())
    seen.append(warmup.settle(0))  # the warm-up thread itself never waits for itself
    assert seen == [True]


def test_a_failing_import_is_only_logged(caplog, monkeypatch):
    monkeypatch.setattr(warmup, "_running", None)
    with caplog.at_level("DEBUG", logger="studio.warmup"):
        warmup.start(("no_such_module_for_studio_tests",), lower_priority=False).join(5)
    assert "no_such_module_for_studio_tests" in caplog.text


def test_the_warm_up_imports_without_collections_and_a_long_switch_interval(tmp_path, monkeypatch):
    """While the warm-up imports, the cyclic collector is off and the switch interval short (the editor's
    repaints waited on full collections and 5 ms GIL holds); afterwards both are back, with what the imports
    made frozen out of later collections."""
    import gc

    seen: dict[str, object] = {}
    (tmp_path / "watched_stack.py").write_text(
        "import gc, sys, tests_warmup_seen as seen\n"
        "seen.state['gc'] = gc.isenabled()\nseen.state['switch'] = sys.getswitchinterval()\n",
        encoding="utf-8")
    probe = type(sys)("tests_warmup_seen")
    probe.state = seen
    monkeypatch.setitem(sys.modules, "tests_warmup_seen", probe)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "watched_stack", raising=False)
    monkeypatch.setattr(warmup, "_running", None)
    before = sys.getswitchinterval()
    frozen_before = gc.get_freeze_count()
    try:
        warmup.start(("watched_stack",), lower_priority=False, preload=False).join(10)
        assert seen["gc"] is False
        assert seen["switch"] < before
        assert gc.isenabled()
        assert sys.getswitchinterval() == before
        assert gc.get_freeze_count() > frozen_before
    finally:
        warmup.end_gc_pause()
        gc.enable()
