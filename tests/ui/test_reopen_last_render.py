"""Reopening a graph (in the same window, or in a new editor) shows what it rendered last, read back from the
render history: a plain clip, and a sequence with its shots as sections, without rendering again (seen in the
shot-list soak: the timeline stayed empty until the person rendered)."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.sequence import shot_list
from studio.engine import RunFinished
from studio.graph import ParamSpec, PortSpec, Roles, node
from studio.ui.shell.reopen import find_last_render
from studio.values import Video
from tests.ui.conftest import ui_registry
from tests.ui.test_history import clip_node

ROWS = [{"name": "one", "prompt": "p one", "seconds": 1.0, "seed": 1},
        {"name": "two", "prompt": "p two", "seconds": 0.5, "seed": 2}]


@node("reopentest.Sequence", title="Sequence", category="Test", roles=Roles(clip_rate="fps"), is_output=True,
      inputs=[PortSpec("shots", "SHOTS")], outputs=[PortSpec("video", "VIDEO")],
      params=[ParamSpec("fps", "float", 8.0, minimum=1.0, maximum=60.0)])
def toy_sequence(ctx, shots, fps):
    """Each shot's frames in its own grey (shot k: 40 * (k + 1)), as many as the real node makes."""
    parts = [np.full((s.num_frames(fps), 24, 32, 3), 40 * (k + 1), np.uint8) for k, s in enumerate(shots.shots)]
    return Video(np.concatenate(parts), fps)


@pytest.fixture
def registry():
    reg = ui_registry()
    for spec in (clip_node, shot_list, toy_sequence):
        reg.register(spec)
    return reg


def render(window, qtbot) -> None:
    ends: list = []
    window.renderer.event.connect(lambda ev: ends.append(ev) if isinstance(ev, RunFinished) else None)
    count = len(window.history_panel.records)
    window.render()
    qtbot.waitUntil(lambda: bool(ends) and not window.renderer.running, timeout=20_000)
    assert ends[0].status == "ok"
    qtbot.waitUntil(lambda: len(window.history_panel.records) == count + 1, timeout=20_000)


def saved(window, tmp_path, build) -> object:
    window.session.edit("Build", build)
    path = tmp_path / "project.studio.json"
    window.session.save(path)
    return path


def test_reopening_a_graph_shows_its_last_render_and_a_new_editor_too(window, qtbot, tmp_path, registry):
    from studio.ui.shell.window import MainWindow

    docks = window.attach_timeline()
    path = saved(window, tmp_path, lambda g: g.add_node(registry.get("histtest.Clip"), "clip", params={"seed": 3}))
    render(window, qtbot)
    assert docks.model.count == 9
    assert window.open_path(path, confirmed=True)  # the same file again: another graph's canvas as far as it knows
    qtbot.waitUntil(lambda: docks.model.count == 9, timeout=10_000)
    assert abs(int(docks.model.store.frame(4)[0, 0, 0]) - 120) <= 1  # seed 3: red 120
    assert "last render (#1" in docks.model.status and "changed" not in docks.model.status
    assert "showing the last render" in window.logs.log.toPlainText()
    # a new editor (nothing in memory but the files): the same
    other = MainWindow(registry, timeline=False)
    qtbot.addWidget(other)
    other.show()
    assert other.open_path(path, confirmed=True)
    later = other.attach_timeline()  # the timeline comes after the file, as when the app starts
    qtbot.waitUntil(lambda: later.model.count == 9, timeout=10_000)
    assert abs(int(later.model.store.frame(0)[0, 0, 0]) - 120) <= 1
    # an edited and saved graph: its last render is still what the person sees, said to be of an earlier version
    other.session.set_param("clip", "seed", 4)
    other.session.save(path)
    assert other.open_path(path, confirmed=True)
    qtbot.waitUntil(lambda: later.model.count == 9 and "changed since" in later.model.status, timeout=10_000)
    other.close()


def test_a_reopened_sequence_shows_its_shots_as_sections(window, qtbot, tmp_path, registry):
    docks = window.attach_timeline()

    def build(g):
        g.add_node(registry.get("studio.ShotList"), "shots", params={"shots": ROWS})
        g.add_node(registry.get("reopentest.Sequence"), "sequence")
        g.connect("shots", "shots", "sequence", "shots")

    path = saved(window, tmp_path, build)
    render(window, qtbot)
    assert window.open_path(path, confirmed=True)
    qtbot.waitUntil(lambda: docks.model.count == 12, timeout=10_000)
    assert [(s.start, s.frames, s.name) for s in docks.model.shots] == [(0, 8, "one"), (8, 4, "two")]
    assert int(docks.model.store.frame(9)[0, 0, 0]) in range(78, 83)  # shot two's grey, from the proxy
    assert docks.timeline.shots.isVisible()
    chosen: list = []
    docks.shot_chosen.connect(lambda nid, row: chosen.append((nid, row)))
    docks._shot_clicked(1)  # a section clicked: its Shot List row
    assert chosen == [("shots", 1)]


def test_a_render_started_before_the_lookup_ends_keeps_the_screen(window, qtbot, tmp_path, registry):
    docks = window.attach_timeline()
    path = saved(window, tmp_path, lambda g: g.add_node(registry.get("histtest.Clip"), "clip", params={"seed": 3}))
    render(window, qtbot)
    assert window.open_path(path, confirmed=True)
    window.reopen.drop()  # as a RunStarted does
    qtbot.wait(500)
    assert docks.model.count == 0


def test_nothing_is_found_for_a_graph_never_rendered(window, registry, tmp_path):
    window.session.edit("Add", lambda g: g.add_node(registry.get("histtest.Clip"), "clip"))
    assert find_last_render(window.panels.history(), window.session.graph, registry, "project.studio.json") is None


@pytest.mark.parametrize("where, marked, full", [("inside", True, True), ("inside", False, False),
                                                 ("outside", True, False)])
def test_the_exported_clip_is_read_back_only_when_studio_wrote_it_inside_the_output_folder(
        tmp_path, registry, where, marked, full):
    """Full size from the clip the render exported; a history naming another file (a project folder from someone
    else) gets only its own proxy."""
    from studio.engine.engine import graph_hash
    from studio.graph import Graph
    from studio.media.encode import EncodeSettings, encode_video
    from studio.media.outputs import comment_for
    from studio.media.render_history import HistoryRecord, RenderHistory

    graph = Graph()
    graph.add_node(registry.get("histtest.Clip"), "clip")
    frames = np.zeros((9, 72, 160, 3), np.uint8)
    frames[..., 1] = 200
    root = tmp_path / "renders"
    clip = (root if where == "inside" else tmp_path / "elsewhere") / "clip.mp4"
    clip.parent.mkdir(parents=True)
    encode_video(frames, 12.0, clip, settings=EncodeSettings(comment=comment_for(False) if marked else None))
    history = RenderHistory(root)
    history.add(HistoryRecord(0, "project.studio.json · render", 1.0, 2.0, False, "{}", graph_hash(graph),
                              written=[str(clip)], fps=12.0), frames)
    found = find_last_render(history, graph, registry, "project.studio.json")
    assert found is not None and found.exact and len(found.frames) == 9
    assert found.frames.shape[1:3] == ((72, 160) if full else (58, 128))
    assert (found.source == str(clip)) is full
    assert abs(int(found.frames[4, 30, 80, 1]) - 200) <= 6
