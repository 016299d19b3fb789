"""Render Draft: generators run at their draft steps, with the same seed; the document keeps its steps."""

from __future__ import annotations

import pytest

from studio.engine import NodeProgress, RunFinished
from studio.graph import Exporter, NodeRegistry, ParamSpec, PortSpec, Roles, node
from tests.ui.conftest import ui_registry


@node("uitest.Sampler", title="Sampler", category="Test", outputs=[PortSpec("y", "FLOAT")], is_output=True,
      roles=Roles(draft=(("steps", "draft_steps"),)),
      params=[ParamSpec("steps", "int", 12, minimum=1, maximum=100),
              ParamSpec("draft_steps", "int", 3, minimum=1, maximum=100), ParamSpec("seed", "seed", 4)])
def sampler(ctx, steps, draft_steps, seed):
    for k in range(1, steps + 1):
        ctx.progress(k, steps)
    return float(seed)


EXPORTED: list[float] = []


@node("uitest.Writer", title="Writer", category="Test", inputs=[PortSpec("x", "FLOAT")], is_output=True,
      roles=Roles(exporter=Exporter(path="path", in_frame="path", out_frame="path", format=None)),
      params=[ParamSpec("path", "text", "out")])
def writer(ctx, x, path):
    EXPORTED.append(x)
    return {}


@pytest.fixture
def registry() -> NodeRegistry:
    reg = ui_registry()
    reg.register(sampler)
    reg.register(writer)
    return reg


def test_a_draft_shows_the_clip_but_exports_only_when_asked(window, qtbot):
    EXPORTED.clear()
    window.session.edit("add", lambda g: (g.add_node(sampler, "s"), g.add_node(writer, "w"),
                                          g.connect("s", "y", "w", "x")))
    seen: list = []
    window.renderer.event.connect(seen.append)
    window.act_render_draft.trigger()
    qtbot.waitUntil(lambda: any(isinstance(e, RunFinished) for e in seen), timeout=10_000)
    assert {e.total for e in seen if isinstance(e, NodeProgress)} == {3}  # the sampler ran its draft steps
    assert EXPORTED == [] and window.renderer.handle.result.ok  # ... and nothing was exported
    assert window.renderer.last.current.draft
    seen.clear()
    window.act_render_draft_export.trigger()
    qtbot.waitUntil(lambda: any(isinstance(e, RunFinished) for e in seen), timeout=10_000)
    assert EXPORTED == [4.0]
    seen.clear()
    window.act_render.trigger()  # a full render exports as always
    qtbot.waitUntil(lambda: any(isinstance(e, RunFinished) for e in seen), timeout=10_000)
    assert EXPORTED == [4.0, 4.0]


def test_render_draft_runs_the_draft_steps_and_leaves_the_graph(window, qtbot):
    from studio.ui.shell.shortcuts import action_rows

    window.session.edit("add", lambda g: g.add_node(sampler, "s"))
    seen: list = []
    window.renderer.event.connect(seen.append)
    assert ("Render Draft", "Ctrl+Alt+Return") in action_rows(window.all_actions)
    window.act_render_draft.trigger()
    qtbot.waitUntil(lambda: any(isinstance(e, RunFinished) for e in seen), timeout=10_000)
    totals = {e.total for e in seen if isinstance(e, NodeProgress)}
    assert totals == {3}
    assert window.session.graph.nodes["s"].params["steps"] == 12  # the document keeps its steps
    assert window.renderer.handle.result.outputs["s"]["y"] == 4.0
    seen.clear()
    window.act_render.trigger()  # the full render afterwards: all twelve steps
    qtbot.waitUntil(lambda: any(isinstance(e, RunFinished) for e in seen), timeout=10_000)
    assert {e.total for e in seen if isinstance(e, NodeProgress)} == {12}
