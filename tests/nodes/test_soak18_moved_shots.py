"""Why a shot renders again, after shots moved (found on a real display, soak of issue 18): a shot nobody edited
that moved after another was logged as "prompt changed, seed changed, transition changed" (compared with the shot
that had its row before); it is compared with itself, found by its name."""

from __future__ import annotations

import pytest

from studio.directing.shots import explain_shot, last_parts_of
from studio.engine import Engine
from studio.graph import NodeRegistry
from tests.directing.sequence_quality import rendered_rows
from tests.graphs import sequence_graph

# (prompts no other test renders: the shot store outlives a test)
ROWS = [
    {"name": "wide", "prompt": "a red circle slides left", "seconds": 0.5, "seed": 21},
    {"name": "enter", "prompt": "a blue square slides up", "seconds": 0.5, "seed": 22},
    {"name": "lift", "prompt": "a blue square lifts", "seconds": 0.5, "seed": 23, "transition": "continue"},
    {"name": "close", "prompt": "a red circle swells", "seconds": 0.5, "seed": 24},
]


def test_a_shot_is_compared_with_itself_where_it_was():
    parts = {name: {"prompt": f"p {name}", "seed": i, "transition": "cut", "previous": None, "name": name}
             for i, name in enumerate("abc")}
    last = {1: parts["a"], 2: parts["b"], 3: parts["c"]}
    assert last_parts_of(last, 2, "c") == (3, parts["c"])  # moved up one row
    assert last_parts_of(last, 2, "renamed") == (2, parts["b"])  # not found by name: the shot at its row
    assert last_parts_of(last, 4, "new") == (None, None)
    now = {**parts["c"], "transition": "continue", "previous": "key of b"}
    old = {**parts["c"], "transition": "continue", "previous": "key of a"}
    assert explain_shot(old, now, False, 3, 2) == "it moved from row 3 to row 2: it continues another shot now"
    assert explain_shot(old, now, False, 2, 2) == "the shot it continues from changed"
    assert explain_shot(parts["c"], {**parts["c"], "name": "other"}, False).startswith("its frames are no longer")


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


@pytest.mark.slow
def test_moving_shots_re_renders_the_continuation_and_says_it_moved(registry, tiny_ti2v):
    engine = Engine(registry)
    graph = sequence_graph(registry, tiny_ti2v, [dict(r) for r in ROWS])
    assert engine.run(graph).ok
    graph.set_param("shots", "shots", [dict(ROWS[0]), dict(ROWS[1]), dict(ROWS[3]), dict(ROWS[2])])
    events: list = []
    result = engine.run(graph, listener=events.append)
    assert result.ok, result.failed
    messages = [e.message for e in events if getattr(e, "node_id", "") == "sequence" and getattr(e, "message", "")]
    assert rendered_rows(events) == [4]  # 'lift' continues 'close' now; 'close' is a cut: from the memo
    why = [m for m in messages if "'lift': rendering" in m]
    assert why and why[0].endswith("rendering (it moved from row 3 to row 4: it continues another shot now)"), why
