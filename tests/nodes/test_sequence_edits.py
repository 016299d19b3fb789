"""Generate Sequence on a tiny Wan pipeline: an edit re-renders exactly the edited shot and the shots continuing
from it (counted from the engine's events), each saying why; `only_shots` renders the picked shots and takes the
rest from the memo only as they are now; the clip's frames are on disk, not in memory."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engine import Engine
from studio.graph import NodeRegistry
from studio.media.framestore_spool import mapped
from tests.directing.sequence_quality import rendered_rows
from tests.graphs import sequence_graph

ROWS = [
    {"name": "a", "prompt": "a red circle moves left", "seconds": 0.5, "seed": 1},
    {"name": "b", "prompt": "a blue square moves up", "seconds": 0.5, "seed": 2},
    {"name": "c", "prompt": "a blue square grows", "seconds": 0.5, "seed": 3, "transition": "continue"},
    {"name": "d", "prompt": "a blue square shrinks", "seconds": 1.5, "seed": 4, "transition": "continue"},
    {"name": "e", "prompt": "a green circle shrinks", "seconds": 0.5, "seed": 5},
    {"name": "f", "prompt": "a green circle moves up", "seconds": 0.5, "seed": 6},
    {"name": "g", "prompt": "a green circle moves down", "seconds": 0.5, "seed": 7, "transition": "continue"},
    {"name": "h", "prompt": "a red circle grows", "seconds": 0.5, "seed": 8},
]


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


def run(engine, graph):
    events = []
    result = engine.run(graph, listener=events.append)
    assert result.ok, result.failed
    messages = [e.message for e in events if getattr(e, "node_id", "") == "sequence" and getattr(e, "message", "")]
    return result.outputs["preview"]["video"], rendered_rows(events), messages


def edit(graph, rows, index, **change):
    rows[index] = {**rows[index], **change}
    graph.set_param("shots", "shots", [dict(r) for r in rows])


def test_an_edit_re_renders_exactly_the_shot_and_its_continuations_and_says_why(registry, tiny_ti2v):
    engine = Engine(registry)
    rows = [dict(r) for r in ROWS]
    graph = sequence_graph(registry, tiny_ti2v, rows)
    first, ran, messages = run(engine, graph)
    assert ran == list(range(1, 9))
    assert mapped(first.frames) is not None  # the clip is a mapping of its spool on disk
    assert first.num_frames == 4 * 7 + 12

    edit(graph, rows, 1, prompt="a yellow square moves up")  # shot 2, continued by 3 and 4
    second, ran, messages = run(engine, graph)
    assert ran == [2, 3, 4]
    assert any("shot 2/8 'b': rendering (prompt changed ('a blue square moves up' -> 'a yellow square moves "
               "up'))" in m for m in messages), messages
    assert any("shot 3/8 'c': rendering (it continues the shot before it, which rendered again)" in m
               for m in messages), messages
    assert sum("unchanged, from the memo" in m for m in messages) == 5
    same = np.r_[0:4, 24:40]
    assert np.array_equal(first.frames[same], second.frames[same])
    assert not np.array_equal(first.frames[4:24], second.frames[4:24])

    edit(graph, rows, 6, seed=70)  # shot 7, a continue at the end of its chain
    assert run(engine, graph)[1] == [7]
    edit(graph, rows, 3, seconds=1.0)  # shot 4, the last of a chain
    _, ran, messages = run(engine, graph)
    assert ran == [4] and any("length (frames) changed (12 -> 8)" in m for m in messages), messages
    edit(graph, rows, 4, name="e2")  # a label: nothing renders
    assert run(engine, graph)[1] == []
    graph.set_param("sequence", "guidance", 4.0)  # a setting of every shot: all of them
    _, ran, messages = run(engine, graph)
    assert ran == list(range(1, 9)) and any("parameter 'guidance' changed (5.0 -> 4.0)" in m for m in messages)


def test_only_shots_renders_the_picked_and_keeps_the_rest_only_as_they_are_now(registry, tiny_ti2v):
    engine = Engine(registry)
    rows = [dict(r) for r in ROWS]
    graph = sequence_graph(registry, tiny_ti2v, rows)
    whole, _, _ = run(engine, graph)
    edit(graph, rows, 1, seed=20)  # shot 2 changes (and so do 3 and 4, which continue it) ...
    edit(graph, rows, 5, seed=60)  # ... and shot 6 (and 7)
    graph.set_param("sequence", "only_shots", "6-7")
    video, ran, messages = run(engine, graph)
    assert ran == [6, 7]
    left = [m for m in messages if "left out: not in only_shots (6-7)" in m]
    assert [m.split("'")[1] for m in left] == ["b", "c", "d"]  # changed, not picked: their old frames don't count
    assert [s.name for s in video.generation.shots] == ["a", "e", "f", "g", "h"]
    assert [round(s.start * 8) for s in video.generation.shots] == [0, 4, 8, 12, 16]
    assert np.array_equal(video.frames[:4], whole.frames[:4])  # shot 1 from the memo
    assert np.array_equal(video.frames[4:8], whole.frames[24:28]) and video.num_frames == 20
    graph.set_param("sequence", "only_shots", "")  # all again: 6 and 7 from the memo now, 2-4 render
    assert run(engine, graph)[1] == [2, 3, 4]
