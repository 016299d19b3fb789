"""The render queue: Ctrl+Enter during a render queues a snapshot, batches queue one render per variation,
each render can be cancelled alone, and the panel shows state, progress and an ETA."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.engine.jobs import parse_seeds, variations
from studio.ui.panels.queue_panel import CANCEL
from studio.ui.shell.queue import CANCELLED, DONE, QUEUED, RUNNING
from tests.ui.conftest import settle
from tests.ui.test_render import build


def all_ended(window) -> bool:
    return all(e.state in (DONE, CANCELLED, "failed") for e in window.renderer.queue.entries) and not \
        window.renderer.running


def test_ctrl_enter_during_a_render_queues_the_graph_as_it_is_now(window, qtbot):
    n, s, k = build(window, 60)
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.scene.nodes[s].state == "running", timeout=10_000)
    window.session.set_param(n, "value", 5.0)  # edited while the first renders: the second takes the edit
    QTest.keyClick(window.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    queue = window.renderer.queue
    assert [e.state for e in queue.entries] == [RUNNING, QUEUED]
    assert "1 render(s) waiting" in window.statusBar().currentMessage()
    panel = window.queue_panel
    assert panel.table.rowCount() == 2 and "1 rendering · 1 waiting" in panel.summary.text()
    qtbot.waitUntil(lambda: all_ended(window), timeout=20_000)
    assert [e.state for e in queue.entries] == [DONE, DONE]
    assert window.renderer.last.current.number == 2
    assert window.renderer.last.current.outputs[s]["y"] == 10.0  # 5 * 2 + seed 0: the edited snapshot
    assert queue.entries[0].graph.nodes[n].params["value"] != 5.0  # the first kept the graph as it was
    assert panel._bars[1].format().startswith("done") and panel._bars[2].format().startswith("done")


def test_a_batch_of_seeds_runs_one_render_each_and_one_can_be_cancelled_alone(window, qtbot):
    n, s, k = build(window, 30)
    made = window.renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds("1-4")))
    queue = window.renderer.queue
    assert [e.number for e in made] == [1, 2, 3, 4] and "seed=3" in made[2].label
    panel = window.queue_panel
    assert panel.table.rowCount() == 4
    cancel_third = panel.table.cellWidget(2, CANCEL)
    cancel_third.click()  # the row's ✕: only render 3 leaves the queue
    assert queue.entries[2].state == CANCELLED and queue.entries[3].state == QUEUED
    qtbot.waitUntil(lambda: queue.entries[0].state == DONE, timeout=10_000)
    assert queue.eta(queue.entries[3]) is not None  # measured: the next ones get an ETA
    qtbot.waitUntil(lambda: all_ended(window), timeout=20_000)
    settle()
    assert [e.state for e in queue.entries] == [DONE, DONE, CANCELLED, DONE]
    seeds = [e.graph.nodes[s].params["seed"] for e in queue.entries]
    assert seeds == [1, 2, 3, 4]

    assert not panel.table.cellWidget(0, CANCEL).isEnabled()  # nothing to cancel on an ended render
    panel.clear_button.click()
    assert panel.table.rowCount() == 0


def test_esc_cancels_the_running_render_and_the_next_one_starts(window, qtbot):
    build(window, 400)
    window.render()
    window.render()
    queue = window.renderer.queue
    qtbot.waitUntil(lambda: queue.entries[0].step > 2, timeout=10_000)
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: queue.entries[1].state == RUNNING, timeout=10_000)
    assert queue.entries[0].state == CANCELLED
    window.act_cancel_all.trigger()
    qtbot.waitUntil(lambda: all_ended(window), timeout=10_000)
    assert [e.state for e in queue.entries] == [CANCELLED, CANCELLED]


def test_the_batch_dialog_counts_the_renders_and_refuses_a_bad_sweep(window):
    from studio.ui.dialogs.batch_dialog import BatchDialog

    n, s, k = build(window, 5)
    dialog = BatchDialog(window.session.graph, window.registry, window)
    dialog.seeds.setText("1-3")
    dialog.sweeps.setPlainText(f"{s}.steps=2,4")
    assert len(dialog.variations) == 6 and "6 renders" in dialog.note.text()
    dialog.sweeps.setPlainText(f"{s}.steps=2,-4")
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled() and s in dialog.note.text()
    dialog.sweeps.setPlainText("nosuch.steps=2")
    assert not ok.isEnabled() and "no node 'nosuch'" in dialog.note.text()
    dialog.reject()


def test_eta_comes_from_the_running_node_s_pace_then_from_measured_renders():
    from studio.engine.outputs import OutputPolicy
    from studio.graph import Graph
    from studio.ui.shell.queue import RenderQueue

    queue = RenderQueue()
    first, second = (queue.add(f"r{i}", Graph(), None, None, OutputPolicy()) for i in (1, 2))
    queue.update(first, state=RUNNING, started=100.0)
    queue.progress(first, "load", 5, 5, now=101.0)  # a quick node before the slow one
    queue.progress(first, "generate", 1, 20, now=130.0)  # the first step waited for imports: not a pace
    assert queue.eta(first, now=130.0) is None and queue.eta(second, now=130.0) is None
    queue.progress(first, "generate", 5, 20, now=138.0)  # 2 s a step from step 1
    assert queue.eta(first, now=138.0) == 30.0  # 15 steps left
    queue.update(first, state=DONE, ended=150.0)
    queue.update(second, state=RUNNING, started=150.0)
    assert queue.eta(second, now=160.0) == 40.0  # the first render took 50 s


def test_a_batch_names_each_clip_by_what_it_varies(window, qtbot, tmp_path):
    from studio.graph import Exporter, ParamSpec, PortSpec, Roles, node

    @node("queuetest.Save", title="Save", category="Test", inputs=[PortSpec("x", "FLOAT")], is_output=True,
          roles=Roles(exporter=Exporter(path="path", in_frame="path", out_frame="path", format=None)),
          params=[ParamSpec("path", "path", "clip.mp4", output_file=True)])
    def save(ctx, x, path):
        return {}

    window.registry.register(save)
    n, s, k = build(window, 2)
    window.session.edit("Add", lambda g: (g.add_node(save, "save"), g.connect(s, "y", "save", "x")))
    made = window.renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds("2-3")))
    assert [e.graph.nodes["save"].params["path"] for e in made] == ["clip_seed2.mp4", "clip_seed3.mp4"]
    assert window.session.graph.nodes["save"].params["path"] == "clip.mp4"  # the document keeps its name
    qtbot.waitUntil(lambda: all_ended(window), timeout=20_000)


def test_a_farm_renders_clip_shows_in_its_row_as_a_strip_of_frames(window):
    import numpy as np

    from studio.ui.panels.queue_panel import CLIP, STRIP_FRAMES, STRIP_H

    n, s, k = build(window, 30)
    made = window.renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds("1-2")))
    panel = window.queue_panel
    clip = panel.table.cellWidget(1, CLIP)
    assert clip.pixmap().isNull()  # nothing yet
    frames = np.zeros((17, 48, 64, 3), dtype=np.uint8)
    frames[:, :, :, 0] = np.linspace(0, 255, 17).astype(np.uint8)[:, None, None]  # red rises over the clip
    window.renderer.queue.update(made[1], preview=frames)  # what a farm worker's progress carries
    shown = clip.pixmap().toImage()
    assert shown.height() == STRIP_H and shown.width() == STRIP_FRAMES * round(64 * STRIP_H / 48)
    reds = [shown.pixelColor(round((i + 0.5) * shown.width() / STRIP_FRAMES), STRIP_H // 2).red()
            for i in range(STRIP_FRAMES)]
    assert reds == sorted(reds) and reds[0] < 10 and reds[-1] > 245  # first to last frame, in order
