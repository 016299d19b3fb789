"""Generate Sequence with the shot store (tiny Wan pipeline): a fresh engine (a new memo, as a new process has)
takes unchanged shots from disk, renders only what changed and says why; a damaged entry renders again with a
warning; a shot rendered on other weights is not reused; and the clip reads through the shots' files, so the
sequence's frames are on disk once. Rendered shots are counted from the engine's events."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.engine import Engine
from studio.engine.events import NodeWarning
from studio.graph import NodeRegistry
from studio.media.framestore_spool import mapped
from studio.media.shot_store import ShotStore
from tests.directing.sequence_quality import rendered_rows
from tests.graphs import sequence_graph

ROWS = [
    {"name": "a", "prompt": "a red circle moves left", "seconds": 0.5, "seed": 1},
    {"name": "b", "prompt": "a blue square moves up", "seconds": 0.5, "seed": 2},
    {"name": "c", "prompt": "a blue square grows", "seconds": 0.5, "seed": 3, "transition": "continue"},
    {"name": "d", "prompt": "a green circle shrinks", "seconds": 0.5, "seed": 4},
]


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


def run(graph, registry):
    """A render on a fresh engine: nothing in memory from before, as in a new process."""
    events = []
    result = Engine(registry).run(graph, listener=events.append)
    assert result.ok, result.failed
    messages = [e.message for e in events if getattr(e, "node_id", "") == "sequence" and getattr(e, "message", "")]
    warnings = [e.message for e in events if isinstance(e, NodeWarning)]
    return result.outputs["preview"]["video"], rendered_rows(events), messages, warnings


def said(messages: list[str], row: int, text: str) -> bool:
    return any(m.startswith(f"shot {row}/4 ") and text in m for m in messages)


def test_a_fresh_engine_takes_unchanged_shots_from_the_store_and_renders_only_what_changed(registry, tiny_ti2v):
    rows = [dict(r) for r in ROWS]
    graph = sequence_graph(registry, tiny_ti2v, rows)
    whole, ran, _, _ = run(graph, registry)
    assert ran == [1, 2, 3, 4]

    rows[1]["prompt"] = "a yellow square moves up"  # shot 2 changes, and shot 3 continues it
    graph.set_param("shots", "shots", [dict(r) for r in rows])
    graph.set_param("sequence", "only_shots", "2")
    picked, ran, messages, _ = run(graph, registry)
    assert ran == [2]
    assert said(messages, 2, "rendering (prompt changed ('a blue square moves up' -> 'a yellow square moves up'))")
    assert said(messages, 1, "unchanged, from the shot store") and said(messages, 4, "unchanged, from the shot store")
    assert said(messages, 3, "left out: not in only_shots (2)")  # its old frames continue the old shot 2
    assert [s.name for s in picked.generation.shots] == ["a", "b", "d"]
    assert np.array_equal(picked.frames[:4], whole.frames[:4]) and np.array_equal(picked.frames[8:], whole.frames[12:])
    assert not np.array_equal(picked.frames[4:8], whole.frames[4:8])

    graph.set_param("sequence", "only_shots", "")
    every, ran, messages, _ = run(graph, registry)
    assert ran == [3] and said(messages, 3, "rendering (the shot it continues from changed)"), messages
    assert sum("unchanged, from the shot store" in m for m in messages) == 3
    assert np.array_equal(every.frames[4:8], picked.frames[4:8])

    again, ran, messages, _ = run(graph, registry)  # nothing changed: nothing renders, in any process
    assert ran == [] and any("rendered 0 of 4 shots; 0 unchanged from the memo, 4 from the shot store" in m
                             for m in messages), messages
    assert np.array_equal(again.frames, every.frames)


def test_a_damaged_entry_renders_again_with_a_warning(registry, tiny_ti2v):
    rows = [dict(r) for r in ROWS]
    graph = sequence_graph(registry, tiny_ti2v, rows)
    first = np.array(run(graph, registry)[0].frames)  # a copy: the damage below is to files no clip maps now
    store = ShotStore()
    entry = next(k for k, _, _ in store.entries() if store.sidecar(k)["parts"]["prompt"] == ROWS[3]["prompt"])
    os.truncate(store.folder / f"{entry}.frames", 4096)  # shot 4, cut short (a crash, a full disk)
    second, ran, messages, warnings = run(graph, registry)
    assert ran == [4] and said(messages, 4, "rendering (its frames are no longer kept (evicted from the shot store "
                                            "to stay within its size, or dropped as damaged))"), messages
    assert any("was dropped: its frames file holds 4096 bytes" in w for w in warnings), warnings
    assert np.array_equal(second.frames, first)  # the same seed renders the same shot again

    side = store.folder / f"{entry}.json"  # a torn sidecar: no entry either
    side.write_text(side.read_text()[:20])
    assert run(graph, registry)[1] == [4]


def test_a_shot_from_other_weights_is_not_reused(registry, tiny_ti2v, tmp_path):
    """The Load Model node's key names the folder, not its files: the shots' keys name the weights too."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_ti2v, folder)
    rows = [dict(r) for r in ROWS[:2]]
    graph = sequence_graph(registry, folder, rows)
    assert run(graph, registry)[1] == [1, 2]
    assert run(graph, registry)[1] == []
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    weights = next(folder.glob("transformer/*.safetensors"))  # retrained in place: same name, other values
    with safe_open(str(weights), "pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(weights))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 0.01
    save_file(tensors, str(weights), metadata=metadata)
    _, ran, messages, _ = run(graph, registry)
    assert ran == [1, 2] and said_any(messages, "the model changed"), messages


def said_any(messages: list[str], text: str) -> bool:
    return any(text in m for m in messages)


def test_the_clip_reads_through_the_shots_files_so_its_frames_are_on_disk_once(registry, tiny_ti2v):
    graph = sequence_graph(registry, tiny_ti2v, [dict(r) for r in ROWS])
    video, _, _, _ = run(graph, registry)
    store = ShotStore()
    stored = sum(json.loads((store.folder / f"{k}.json").read_text())["bytes"] for k, _, _ in store.entries())
    assert stored == video.num_frames * 4096  # 16 frames of 32x32, each on its own page
    assert mapped(video.frames) is not None and video.resident_nbytes == 0
    if sys.platform.startswith("linux"):  # the clip's address range is the shots' files, side by side
        start = video.frames.__array_interface__["data"][0]
        files = mapped_files(start, start + stored)
        assert sorted(files) == sorted(str(store.folder / f"{k}.frames") for k, _, _ in store.entries()), files


def mapped_files(lo: int, hi: int) -> list[str]:
    """The files mapped into addresses lo..hi of this process, from /proc/self/maps."""
    found = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        first, last = (int(x, 16) for x in fields[0].split("-"))
        if first < hi and last > lo:
            found.append(fields[5] if len(fields) > 5 else "")
    return found
