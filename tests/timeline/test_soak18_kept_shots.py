"""A re-render of a sequence shows the shots that will not change from the clip before as soon as it starts (found
on a real display, soak of issue 18: editing shot 1 left every later shot blank until the render reached it)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from studio.engine import Engine, NodeProgress, RunStarted
from studio.graph import NodeRegistry
from studio.ui.shell.last_render import Render
from studio.ui.timeline.shotplan import ShotSection, kept_shots, sections_from_rows
from tests.graphs import sequence_graph
from tests.timeline.conftest import settle

# (prompts no other test renders: the shot store outlives a test, and a shot it holds does not stream)
ROWS = [
    {"name": "one", "prompt": "a red circle drifts left", "seconds": 1.0, "seed": 11},
    {"name": "two", "prompt": "a blue square drifts up", "seconds": 1.0, "seed": 12},
    {"name": "three", "prompt": "a blue square swells", "seconds": 1.0, "seed": 13, "transition": "continue"},
    {"name": "four", "prompt": "a green circle fades", "seconds": 1.0},  # the Shot List's seed
]
# at 8 fps: one 0-7, two 8-15, three 16-23, four 24-31


def test_kept_shots_match_takes_and_continuations():
    before = sections_from_rows(ROWS, 8.0, 0)
    assert kept_shots(before, sections_from_rows(ROWS, 8.0, 0)) == {0: 0, 1: 1, 2: 2, 3: 3}
    edited = [dict(r) for r in ROWS]
    edited[1]["prompt"] = "a yellow square drifts up"
    assert kept_shots(before, sections_from_rows(edited, 8.0, 0)) == {0: 0, 3: 3}  # three continues two
    moved = [ROWS[3], ROWS[0], ROWS[1], ROWS[2]]
    assert kept_shots(before, sections_from_rows(moved, 8.0, 0)) == {0: 3, 1: 0, 2: 1, 3: 2}
    assert kept_shots(before, sections_from_rows(ROWS, 8.0, 5)) == {0: 0, 1: 1, 2: 2}  # four's seed changed
    renamed = [dict(r) for r in ROWS]
    renamed[0]["name"] = "first"  # a label: the frames stay
    assert kept_shots(before, sections_from_rows(renamed, 8.0, 0)) == {0: 0, 1: 1, 2: 2, 3: 3}
    assert kept_shots([ShotSection(0, 8, "one")], sections_from_rows(ROWS, 8.0, 0)) == {}  # takes unknown


@pytest.fixture(scope="module")
def real_registry():
    return NodeRegistry.default()


@pytest.fixture(scope="module")
def first_render(real_registry, tiny_ti2v):
    graph = sequence_graph(real_registry, tiny_ti2v, [dict(r) for r in ROWS], preview=True)
    events: list = []
    result = Engine(real_registry).run(graph, listener=events.append)
    assert result.ok, result.failed
    return graph, events, result


def shown_before(docks, first_render, real_registry) -> np.ndarray:
    graph, events, result = first_render
    docks.session.registry = real_registry
    docks.session.restore(copy.deepcopy(graph), None)  # the edits below leave the module's graph as rendered
    for event in events:
        docks.handle_event(event)
    docks.show_render(Render(result, streamed="sequence"))
    docks.model.store.wait_compressed(5)
    return result.outputs["sequence"]["video"].frames


def near(store, index: int, frame: np.ndarray) -> bool:
    return store.has_frame(index) and np.abs(store.frame(index).astype(int) - frame).mean() < 6


@pytest.mark.slow
def test_a_re_render_shows_the_shots_it_keeps_before_the_first_step(docks, first_render, real_registry):
    before = shown_before(docks, first_render, real_registry)
    # the clip's sections (from its record) know their takes
    assert docks.model.shots[3].take == ("a green circle fades", 8, 0, "cut", None)
    docks.session.set_param("shots", "shots", [ROWS[0], {**ROWS[1], "prompt": "a yellow square drifts up"},
                                               ROWS[2], ROWS[3]])
    docks.handle_event(RunStarted(2, ("model", "shots", "sequence", "preview")))
    docks.handle_event(NodeProgress(2, "sequence", 0, 8, None, "shot 2/4 'two': rendering (prompt changed)"))
    # the first step says the run renders at the clip's steps (2): not a draft
    step = np.full((9, 32, 32, 3), 90, np.uint8)
    docks.handle_event(NodeProgress(2, "sequence", 1, 8, step, "shot 2/4 'two': step 1/2"))
    for _ in range(6):
        settle()
    store = docks.model.store
    assert store.count == 32
    # one and four will come from the memo: there long before the render reaches them, as the clip before had
    # them (four: before its "unchanged" came)
    assert all(near(store, i, before[i]) for i in (0, 5, 24, 31))
    assert np.array_equal(store.frame(8), step[0])  # two streams its steps
    assert not any(store.has_frame(i) for i in range(16, 24))  # three continues two: nothing until it renders
    # a shot kept that renders after all (its memo evicted): its steps replace what the clip before showed
    preview = np.full((9, 32, 32, 3), 200, np.uint8)
    docks.handle_event(NodeProgress(2, "sequence", 1, 8, preview, "shot 4/4 'four': step 1/2"))
    assert np.array_equal(store.frame(24), preview[0])


@pytest.mark.slow
def test_other_settings_or_a_draft_keep_nothing_from_the_clip_before(docks, first_render, real_registry):
    step = np.full((9, 32, 32, 3), 90, np.uint8)
    shown_before(docks, first_render, real_registry)
    docks.session.set_param("sequence", "guidance", 3.0)  # every shot renders again
    docks.handle_event(RunStarted(3, ("model", "shots", "sequence", "preview")))
    docks.handle_event(NodeProgress(3, "sequence", 1, 8, step, "shot 1/4 'one': step 1/2"))
    for _ in range(6):
        settle()
    assert not any(docks.model.store.has_frame(i) for i in range(8, 32))

    shown_before(docks, first_render, real_registry)  # the graph as rendered; a draft of it: one step a segment
    docks.handle_event(RunStarted(4, ("model", "shots", "sequence", "preview")))
    docks.handle_event(NodeProgress(4, "sequence", 1, 4, step, "shot 1/4 'one': step 1/1"))
    for _ in range(6):
        settle()
    assert not any(docks.model.store.has_frame(i) for i in range(8, 32))
