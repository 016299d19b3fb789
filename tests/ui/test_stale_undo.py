"""A node is stale while the graph differs from what it rendered, by render key, not by edit count: an undo back
to exactly the rendered graph shows its result again (seen in the shot-list soak: "stale: edited" stayed)."""

from __future__ import annotations

from studio.engine import RunFinished
from studio.ui.shell.render_keys import render_keys
from tests.ui.test_render import build, finished, record


def states(win, *ids) -> dict[str, tuple[str, str]]:
    return {nid: (win.scene.nodes[nid].state, win.scene.nodes[nid].state_text) for nid in ids}


def render(win, qtbot, draft: bool = False) -> None:
    seen = record(win)
    win.render(draft=draft)
    qtbot.waitUntil(lambda: finished(seen), timeout=10_000)
    assert next(ev for ev, _ in seen if isinstance(ev, RunFinished)).status == "ok"


def test_undo_back_to_the_rendered_graph_reads_as_current_again(window, qtbot):
    n, s, k = build(window, 3)
    render(window, qtbot)
    rendered = states(window, n, s, k)
    assert {state for state, _ in rendered.values()} == {"done"}
    window.session.set_param(s, "seed", 4)
    window.session.set_param(s, "seed", 5)  # two edits: an edit counter would need two undos to see it
    assert states(window, s, k) == {s: ("stale", "stale: edited"), k: ("stale", "stale: an input changed")}
    window.session.undo.undo()
    assert states(window, s, k)[s][0] == "stale"  # seed 4 is not what rendered either
    window.session.undo.undo()
    assert states(window, n, s, k) == rendered
    window.session.undo.redo()
    assert states(window, s, k) == {s: ("stale", "stale: edited"), k: ("stale", "stale: an input changed")}


def test_a_value_typed_back_and_an_undone_delete_show_the_result_again(window, qtbot):
    n, s, k = build(window, 3)
    seed = window.session.graph.nodes[s].params.get("seed")
    render(window, qtbot)
    rendered = states(window, n, s, k)
    window.session.set_param(s, "steps", 4)
    assert states(window, s)[s][0] == "stale"
    window.session.set_param(s, "steps", 3)  # by hand, not by undo
    assert states(window, n, s, k) == rendered
    window.scene.select_nodes([s])
    window.editing.delete_selected()
    assert states(window, k)[k][0] == "stale"
    window.session.undo.undo()  # the node and its links come back
    assert states(window, n, s, k) == rendered
    assert window.session.graph.nodes[s].params.get("seed") == seed


def test_a_draft_result_is_current_against_the_draft_of_the_canvas(window, qtbot, registry):
    from studio.engine.engine import draft_copy

    n, s, k = build(window, 3)
    render(window, qtbot, draft=True)
    after = states(window, n, s, k)
    assert "stale" not in {state for state, _ in after.values()}
    # the draft ran a copy of the canvas (at draft steps where a node has them): its keys are that copy's
    assert render_keys(draft_copy(window.session.graph, registry)[0], registry)[s]


def test_an_edit_while_it_renders_leaves_the_result_stale_at_the_end(window, qtbot):
    n, s, k = build(window, 200)
    seen = record(window)
    window.render()
    qtbot.waitUntil(lambda: window.scene.nodes[s].state == "running", timeout=10_000)
    window.session.set_param(n, "value", 9.0)  # the run goes on with its snapshot
    qtbot.waitUntil(lambda: finished(seen), timeout=20_000)
    assert states(window, s)[s] == ("stale", "stale: it rendered another version of the graph")
    window.session.undo.undo()
    assert states(window, s)[s][0] == "done"


def test_keys_follow_what_a_node_depends_on_not_where_it_sits(window):
    n, s, k = build(window, 3)
    graph, registry = window.session.graph, window.registry
    before = render_keys(graph, registry)
    window.session.edit("move", lambda g: g.update_node(n, position=(500.0, 500.0), title="renamed"))
    assert render_keys(graph, registry) == before
    window.session.set_param(n, "value", 2.0)
    after = render_keys(graph, registry)
    assert after[n] != before[n] and after[s] != before[s] and after[k] != before[k]
