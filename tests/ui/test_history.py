"""Every render kept: the History panel lists finished renders with thumbnails, shows one, compares it, and
restores its graph as one undo step; the folder keeps to its size cap without losing the records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.engine.jobs import parse_seeds, variations
from studio.graph import ParamSpec, PortSpec, node
from studio.media.render_history import HistoryRecord, RenderHistory
from studio.values import Generation, Video
from tests.ui.conftest import settle, ui_registry

FRAMES = 9


@node("histtest.Clip", title="Clip", category="Test", outputs=[PortSpec("video", "VIDEO")], is_output=True,
      params=[ParamSpec("seed", "seed", 1)])
def clip_node(ctx, seed):
    frames = np.zeros((FRAMES, 72, 160, 3), np.uint8)
    frames[..., 0] = (seed * 40) % 256
    return Video(frames, 12.0, Generation(model="toy", seed=seed))


@pytest.fixture
def registry():
    reg = ui_registry()
    reg.register(clip_node)
    return reg


def test_each_finished_render_is_kept_and_can_be_shown_compared_and_restored(window, qtbot):
    docks = window.attach_timeline()
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("histtest.Clip"), "clip"))
    window.renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds("2-3")))
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.list.count() == 2, timeout=20_000)
    first, second = panel.records[1], panel.records[0]  # newest first
    assert (first.number, second.number) == (1, 2) and "clip.seed=3" in second.varied
    assert second.graph == ""  # listed without its graph: read on demand
    assert json.loads(panel.history.graph_text(second))["nodes"][0]["params"]["seed"] == 3
    assert not panel.list.item(0).icon().isNull()  # a thumbnail
    proxy = panel.history.proxy(first)
    assert proxy.shape == (FRAMES, 58, 128, 3) and abs(int(proxy[0, 0, 0, 0]) - 80) <= 1  # seed 2: red 80
    # show render 1 in the viewer and timeline, then compare render 2 with it
    assert panel.open(1)
    qtbot.waitUntil(lambda: docks.model.count == FRAMES, timeout=5000)
    assert abs(int(docks.model.store.frame(0)[0, 0, 0]) - 80) <= 1
    assert panel.compare(2) and docks.live.previous is not None and docks.live.previous.count == FRAMES
    assert panel.compare_pair(2, 1)  # any two: render 2 on screen, render 1 as its A/B partner
    assert abs(int(docks.model.store.frame(0)[0, 0, 0]) - 120) <= 1
    assert abs(int(docks.live.previous.frame(0)[0, 0, 0]) - 80) <= 1
    # restore the graph of render 2 after an edit: one undo step
    window.session.set_param("clip", "seed", 50)
    assert panel.restore_graph(2)
    assert window.session.graph.nodes["clip"].params["seed"] == 3
    window.session.undo.undo()
    assert window.session.graph.nodes["clip"].params["seed"] == 50


def test_the_cap_drops_the_least_recently_seen_proxies_and_keeps_every_record(tmp_path):
    history = RenderHistory(tmp_path, cap_bytes=10**9)
    frames = np.random.default_rng(0).integers(0, 255, (24, 128, 128, 3), np.uint8)
    made = [history.add(HistoryRecord(0, f"r{i}", 0.0, 1.0, False, "{}"), frames) for i in range(4)]
    each = (made[0].folder / "proxy.npy").stat().st_size
    import os
    for i, record in enumerate(made):  # render 1 was looked at last
        os.utime(record.folder / "proxy.npy", (100 + i, 100 + i) if i else (1000, 1000))
    history.cap_bytes = int(each * 2.5)
    history.enforce_cap()
    kept = {r.number: history.proxy(r) is not None for r in history.records()}
    assert kept == {1: True, 2: False, 3: False, 4: True}
    assert len(history.records()) == 4 and history.size() <= history.cap_bytes


def test_a_damaged_or_foreign_record_is_skipped(tmp_path):
    history = RenderHistory(tmp_path)
    history.add(HistoryRecord(0, "good", 0.0, 1.0, False, "{}"), None)
    bad = history.folder / "00007"
    bad.mkdir()
    (bad / "record.json").write_text("{not json", encoding="utf-8")
    odd = history.folder / "00008"
    odd.mkdir()
    np.save(odd / "proxy.npy", np.zeros((2, 2), np.float64))
    (odd / "record.json").write_text(json.dumps({"number": 8, "label": "x", "finished": 0, "seconds": 1,
                                                 "draft": False, "graph": "{}"}), encoding="utf-8")
    records = history.records()
    assert [r.label for r in records] == ["x", "good"]
    assert history.proxy(records[0]) is None  # not a clip: refused, not shown
    settle()


def test_a_record_lists_without_its_graph_and_an_old_inline_record_moves_it_beside(tmp_path):
    history = RenderHistory(tmp_path)
    graph = json.dumps({"nodes": [{"id": "n", "params": {"prompt": "x" * 20_000}}]})
    made = history.add(HistoryRecord(0, "new", 0.0, 1.0, False, graph), None)
    assert "prompt" not in (made.folder / "record.json").read_text(encoding="utf-8")
    assert (made.folder / "graph.json").read_text(encoding="utf-8") == graph
    # a record as the history wrote it before: the graph inline
    old = history.folder / "00002"
    old.mkdir()
    (old / "record.json").write_text(json.dumps({"number": 2, "label": "old", "finished": 0, "seconds": 1,
                                                 "draft": False, "graph": graph, "size": [64, 64]}),
                                     encoding="utf-8")
    records = history.records()
    assert [(r.label, r.graph, r.size) for r in records] == [("old", "", (64, 64)), ("new", "", (0, 0))]
    assert "graph" not in json.loads((old / "record.json").read_text(encoding="utf-8"))
    assert history.graph_text(records[0]) == graph == history.graph_text(records[1])
    (old / "graph.json").unlink()  # a graph that is gone: nothing to restore, no error
    assert history.graph_text(history.records()[0]) is None
