"""The window's last render: published once per finished run, read by the timeline and Export, and gone with
its graph (opening another graph leaves nothing of the old one's clip on screen)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.graph import Graph, ParamSpec, PortSpec, node
from studio.values import Generation, Sound, Video
from tests.ui.conftest import settle, ui_registry

FRAMES = 12


@node("lasttest.Clip", title="Clip", category="Test", outputs=[PortSpec("video", "VIDEO"), PortSpec("sound", "AUDIO")],
      params=[ParamSpec("seed", "int", 1, minimum=0, maximum=100)], is_output=True)
def clip_node(ctx, seed):
    frames = np.full((FRAMES, 32, 48, 3), seed * 20, np.uint8)
    sound = Sound(np.full((24000, 2), 0.25, np.float32), 48000)
    return {"video": Video(frames, 24.0, Generation(model="toy", seed=seed)), "sound": sound}


@pytest.fixture
def registry():
    reg = ui_registry()
    reg.register(clip_node)
    return reg


def render(window, qtbot, draft: bool = False) -> None:
    window.render(draft=draft)
    qtbot.waitUntil(lambda: not window.renderer.running, timeout=30_000)
    settle()


def test_a_finished_render_is_published_once_and_fills_the_timeline(window, qtbot):
    docks = window.attach_timeline()
    seen = []
    window.renderer.last.rendered.connect(seen.append)
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("lasttest.Clip"), "clip"))
    render(window, qtbot)
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=5000)
    last = window.renderer.last.current
    assert seen == [last] and last.number == 1 and not last.draft
    node_id, video = last.clip()
    assert node_id == "clip" and video.num_frames == FRAMES and last.sound() is not None
    qtbot.waitUntil(lambda: docks.model.count == FRAMES, timeout=5000)
    assert docks.model.sound is not None  # the audio lane took the render's sound
    render(window, qtbot, draft=True)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen[-1].number == 2 and seen[-1].draft


def test_a_failed_render_publishes_nothing(window, qtbot):
    seen = []
    window.renderer.last.rendered.connect(seen.append)
    window.session.edit("Add", lambda g: (g.add_node(window.registry.get("test.Fail"), "f"),
                                          g.add_node(window.registry.get("test.Sink"), "s"),
                                          g.connect("f", "y", "s", "x")))
    window.session.set_param("f", "crash", True)
    render(window, qtbot)
    settle()
    assert seen == [] and window.renderer.last.current is None


def test_opening_another_graph_leaves_nothing_of_the_last_render(window, qtbot, tmp_path):
    from studio.graph import dumps

    docks = window.attach_timeline()
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("lasttest.Clip"), "clip"))
    render(window, qtbot)
    qtbot.waitUntil(lambda: docks.model.count == FRAMES, timeout=5000)
    docks.set_markers([(2, "a prompt")], [4, 8])
    docks.model.set_in(2)
    docks.model.set_out(9)
    docks.model.set_status("render failed at step 2 of 4")
    cleared = []
    window.renderer.last.cleared.connect(lambda: cleared.append(True))
    other = Graph()
    other.add_node(window.registry.get("test.Number"), "n")
    path = tmp_path / "other.studio.json"
    path.write_text(dumps(other, window.registry), encoding="utf-8")
    assert window.open_path(path, confirmed=True)
    settle()
    model = docks.model
    assert cleared == [True] and window.renderer.last.current is None
    assert model.count == 0 and model.sound is None and model.markers == []
    assert (model.in_point, model.out_point) == (None, None) and model.status == ""
    assert docks.live.previous is None and docks.live.history == []
    window.show_export()  # nothing of the old graph to export
    assert window.export_dialog.clip is None
    window.export_dialog.reject()


def test_set_export_range_is_a_render_menu_command(window):
    assert window.act_export_range in window.all_actions
    render_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Render")
    assert window.act_export_range in render_menu.actions()
    window.act_export_range.trigger()  # no timeline, no Export node: says so instead of doing nothing
    assert "no export range to set" in window.statusBar().currentMessage()



@node("lasttest.Stubborn", title="Stubborn", category="Test", outputs=[PortSpec("video", "VIDEO")], is_output=True)
def stubborn(ctx):
    import time

    time.sleep(0.4)  # does not look at cancel: the run ends "ok" after the person opened another graph
    return Video(np.zeros((4, 8, 8, 3), np.uint8), 8.0)


def test_a_render_of_the_old_graph_that_ends_after_another_opens_is_not_its_last_render(window, qtbot, tmp_path):
    from studio.engine import RunFinished
    from studio.graph import dumps

    window.registry.register(stubborn)
    window.session.edit("Add", lambda g: g.add_node(stubborn, "slow"))
    ended = []
    window.renderer.event.connect(lambda ev: ended.append(ev.status) if isinstance(ev, RunFinished) else None)
    window.render()
    qtbot.waitUntil(lambda: window.scene.nodes["slow"].state == "running", timeout=10_000)
    other = Graph()
    other.add_node(window.registry.get("test.Number"), "n")
    path = tmp_path / "other.studio.json"
    path.write_text(dumps(other, window.registry), encoding="utf-8")
    assert window.open_path(path, confirmed=True)
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    qtbot.wait(100)
    assert ended == ["ok"]  # the old graph's render did end well...
    assert window.renderer.last.current is None  # ...but it is not the new graph's last render
    assert window.timeline is None or window.timeline.model.count == 0
