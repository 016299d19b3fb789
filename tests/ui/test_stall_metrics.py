"""The Metrics panel keeps the main thread's work per event-loop pass small during a render: one plot per redraw
slice (each pyqtgraph repaint costs several ms of Python; all four at once were the editor's longest stalls in a
queued batch), and live plots whose axis ranges hold still while the values wander (regenerating the axes is
most of a repaint). Not timed: these assert the work each call does, which is what the stall figures rest on
(tests/benchmarks/bench_editor.py --batch)."""

from __future__ import annotations

import time

import pytest

from studio.engine import NodeProgress, RunFinished, RunStarted


@pytest.fixture
def metrics(qtbot):
    from studio.ui.panels.metrics_panel import MetricsPanel

    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.resize(520, 360)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_a_redraw_slice_redraws_at_most_one_plot_and_every_dirty_plot_gets_its_turn(metrics):
    metrics.handle_event(RunStarted(1, ("gen",)))  # steps and memory
    for step in range(1, 6):
        metrics.handle_event(NodeProgress(1, "gen", step, 60))
    metrics.show_history([])  # the latency plot
    assert metrics._refresh.isActive()  # something to draw: the slices run
    seen = []
    for _ in range(3):
        before = dict(metrics.draws)
        metrics._redraw()
        drawn = [what for what in metrics.draws if metrics.draws[what] != before[what]]
        assert len(drawn) == 1, drawn  # one plot's worth of work per call, never all of them
        seen += drawn
    assert sorted(seen) == ["latency", "memory", "steps"]  # each dirty plot once, none starved
    before = dict(metrics.draws)
    metrics._redraw()
    assert metrics.draws == before  # nothing left to draw
    assert not metrics._refresh.isActive()  # and the slices stop: an idle panel costs nothing


def test_a_plot_is_redrawn_at_most_five_times_a_second(metrics):
    from studio.ui.panels.metrics_panel import REFRESH_MS

    metrics.handle_event(RunStarted(1, ("gen",)))
    metrics._redraw()
    metrics._redraw()  # steps and memory drawn (either order)
    drawn = dict(metrics.draws)
    metrics.handle_event(NodeProgress(1, "gen", 1, 60))
    metrics.handle_event(NodeProgress(1, "gen", 2, 60))  # steps dirty again at once
    metrics._drawn_at["steps"] = metrics._drawn_at["memory"] = time.monotonic()  # drawn just now
    metrics._redraw()
    assert metrics.draws == drawn  # not again before REFRESH_MS has passed
    metrics._drawn_at["steps"] -= REFRESH_MS / 1000
    metrics._redraw()
    assert metrics.draws["steps"] == drawn["steps"] + 1


def test_the_live_plots_keep_their_axis_range_while_the_values_wander(metrics):
    metrics.handle_event(RunStarted(1, ("gen",)))
    metrics.handle_event(NodeProgress(1, "gen", 1, 60))
    box = metrics.steps.getPlotItem().getViewBox()
    ranges = []
    for n in (5, 20, 40, 59):
        # seconds per step wander between 40 and 60 ms, as a render's do
        metrics.step_times = [(k + 2, 0.04 + 0.02 * ((k * 7) % 5) / 4) for k in range(n)]
        metrics._draw_steps()
        ranges.append(box.viewRange())
    assert box.autoRangeEnabled() == [False, False]
    (x0, x1), (y0, y1) = ranges[0]
    assert x0 <= 0 and x1 >= 60  # the whole render's steps from the first draw: the x axis never moves
    assert y0 <= 0 and 0.06 <= y1 <= 0.2
    assert all(r == ranges[0] for r in ranges)  # so pyqtgraph keeps its axis pictures between redraws

    memory = metrics.memory.getPlotItem().getViewBox()
    seen = []
    for n in (3, 10, 25):
        metrics.memory_samples = [(k * 0.2, 1000.0 + (k % 3), None) for k in range(n)]  # RAM wanders by 2 MB
        metrics._draw_memory()
        seen.append(memory.viewRange())
    assert all(r == seen[0] for r in seen)
    metrics.handle_event(RunFinished(1, "ok", 1.0))


def test_stepped_ranges_hold_the_values_on_a_coarse_grid():
    from studio.ui.panels.metrics_panel import nice_ceiling, stepped_range

    assert [nice_ceiling(v) for v in (0.03, 0.1, 0.11, 3, 7, 1234)] == [0.05, 0.1, 0.2, 5, 10, 2000]
    for low, high in ((0.0, 0.07), (995.0, 1003.0), (0.0, 0.0), (12.0, 12.0), (-3.0, 4.0)):
        lo, hi = stepped_range(low, high)
        assert lo <= low <= high <= hi and hi > lo
    assert stepped_range(0.0, 0.051) == stepped_range(0.0, 0.07)  # wandering inside a cell: the same range
