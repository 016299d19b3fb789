"""The log shows a run's lines in the order they happened: a node's logged line ("shot 6/7 'x': rendering") comes
after "render started", though engine events wait up to a frame to be merged and logged lines do not (seen in the
shot-list soak, with a render queued behind another)."""

from __future__ import annotations

import logging

import pytest

from studio.engine import RunFinished
from studio.graph import PortSpec, node
from tests.ui.conftest import ui_registry

log = logging.getLogger("nodes.logtest")


@node("logtest.Say", title="Say", category="Test", inputs=[PortSpec("x", "FLOAT")],
      outputs=[PortSpec("y", "FLOAT")], is_output=True)
def say(ctx, x):
    log.info("shot 1/1 'only': rendering (first run)")
    return x


@pytest.fixture
def registry():
    reg = ui_registry()
    reg.register(say)
    return reg


def test_a_nodes_logged_line_follows_render_started_in_a_queued_render(window, qtbot):
    from tests.ui.test_canvas import add

    n = add(window, "test.Number", (0, 0))
    s = add(window, "logtest.Say", (300, 0))
    window.session.edit("link", lambda g: g.connect(n, "value", s, "x"))
    ends: list = []
    window.renderer.event.connect(lambda ev: ends.append(ev) if isinstance(ev, RunFinished) else None)
    for value in (2.0, 3.0, 4.0):  # each one runs the node again; the second and third wait in the queue
        window.session.set_param(n, "value", value)
        window.render()
    qtbot.waitUntil(lambda: len(ends) == 3, timeout=20_000)
    lines = [line.split("  ", 1)[1] for line in window.logs.log.toPlainText().splitlines() if "  " in line]
    runs = [i for i, line in enumerate(lines) if line.startswith("render started")]
    said = [i for i, line in enumerate(lines) if "'only': rendering" in line]
    done = [i for i, line in enumerate(lines) if line.startswith("render ok")]
    assert len(runs) == len(said) == len(done) == 3, lines
    for started, line, ended in zip(runs, said, done, strict=True):
        assert started < line < ended, lines
