"""Lanes: the waveform matches the audio; camera keyframes dragged edit the node, and undo restores."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.engine import NodeProgress, RunStarted
from studio.ui.timeline import MoveKeyframe, WaveformEnvelope, find_camera_param, sample_keyframes
from studio.values import Sound, Video
from tests.timeline.conftest import KEYS, clip, registry, settle


def test_the_waveform_lane_draws_the_min_and_max_of_the_samples(docks):
    docks.live.show_video(Video(clip(192), 24.0))
    rate = 48000
    rng = np.random.default_rng(3)
    samples = (rng.standard_normal((rate * 8, 2)) * 0.2).astype(np.float32)
    samples[rate : rate + 400, 1] = 0.95  # a loud spot in the right channel at 1 s (frame 24)
    docks.set_sound(Sound(samples, rate))
    settle()
    lane = docks.timeline.audio
    x, y = lane.drawn()
    assert len(x) and len(x) == len(y)
    size = round((x[2] - x[0]) / 24.0 * rate)
    assert size in [b for b, _, _ in lane.envelope.levels]
    # each drawn pair is the min and max over all channels of that bin's samples
    for k in (0, 7, len(y) // 4, len(y) // 2 - 2):
        chunk = samples[k * size : (k + 1) * size]
        assert y[2 * k] == pytest.approx(chunk.min()) and y[2 * k + 1] == pytest.approx(chunk.max())
        assert x[2 * k] == pytest.approx(k * size / rate * 24.0)
    loud = np.argmax(y[1::2])
    assert abs(x[2 * loud] - 24.0) < 1.0 and y[2 * loud + 1] == pytest.approx(0.95)
    # zoomed in, the same lane draws finer bins over the visible time only
    docks.timeline.axis.zoom(8.0, lane.width() / 2)
    x2, _ = lane.drawn()
    step2 = x2[2] - x2[0]
    assert step2 < x[2] - x[0] and x2.min() >= docks.timeline.axis.start - 1


def test_a_long_sound_reduces_to_a_few_points_per_pixel():
    rate = 48000
    samples = np.sin(np.linspace(0, 2000 * np.pi, rate * 120)).astype(np.float32)[:, None]
    env = WaveformEnvelope(Sound(samples, rate))
    times, lo, hi = env.envelope(0.0, 120.0, 1000)
    assert 1000 <= len(times) <= 4200
    assert lo.min() == pytest.approx(-1, abs=1e-3) and hi.max() == pytest.approx(1, abs=1e-3)


def test_keyframes_sample_with_their_interpolation():
    curves = sample_keyframes(KEYS, 48)
    assert curves["zoom"][0] == 1.0 and curves["zoom"][20] == pytest.approx(1.4)
    assert curves["zoom"][47] == pytest.approx(0.9)  # held after the last keyframe
    assert curves["pan_x"][30] == pytest.approx(0.1)  # linear: halfway between 0.4 and -0.2
    assert curves["pan_x"][5] < 0.4 * 5 / 20  # ease: starts slower than linear


def test_dragging_a_camera_keyframe_edits_the_node_and_undo_restores_it(docks, qtbot):
    docks.live.show_video(Video(clip(48), 24.0))
    session = docks.session
    session.edit(
        "add camera",
        lambda g: g.add_node(
            registry().get("tltest.Camera"), "cam", params={"keyframes": copy.deepcopy(KEYS)}
        ),
    )
    settle()
    assert docks.camera_param == ("cam", "keyframes") == find_camera_param(session.graph, session.registry)
    lane = docks.timeline.camera
    assert len(lane.keys) == 3
    moved = []
    lane.keyframe_moved.connect(lambda i, ch: moved.append((i, ch)))
    drag_handle(lane, 1, "zoom", frames=6, dy=-12)  # six frames later, zoom up
    assert moved and moved[-1][0] == 1
    keys = session.graph.nodes["cam"].params["keyframes"]
    assert keys[1]["frame"] == 26
    assert keys[1]["zoom"] > 1.4
    assert keys[0] == KEYS[0] and keys[2] == KEYS[2]
    assert session.undo.undoText().startswith("Move camera keyframe")
    session.undo.undo()
    assert session.graph.nodes["cam"].params["keyframes"] == KEYS
    assert lane.keys[1]["frame"] == 20  # the lane follows the node
    session.undo.redo()
    assert session.graph.nodes["cam"].params["keyframes"][1]["frame"] == 26


def test_move_keyframe_works_on_a_bare_graph():
    from PySide6.QtGui import QUndoStack

    from studio.graph import Graph

    g = Graph()
    g.add_node(registry().get("tltest.Camera"), "cam", params={"keyframes": copy.deepcopy(KEYS)})
    stack = QUndoStack()
    stack.push(MoveKeyframe(g, "cam", "keyframes", 2, {"frame": 44, "roll": 3.5}))
    assert g.nodes["cam"].params["keyframes"][2] == {**KEYS[2], "frame": 44, "roll": 3.5}
    stack.undo()
    assert g.nodes["cam"].params["keyframes"] == KEYS


def test_markers_and_matrices_are_drawn(docks):
    docks.live.show_video(Video(clip(48), 24.0))
    docks.set_markers([(0, "dawn"), (24, "city")], beats=[6, 12, 18])
    assert [m.frame for m in docks.model.markers] == [0, 6, 12, 18, 24]
    t = np.linspace(0, 1, 48)
    m = np.tile(np.eye(3), (48, 1, 1))
    m[:, 0, 2] = t * 0.5
    m[:, 0, 0] = m[:, 1, 1] = 1 + t
    docks.set_camera(m)
    curves = docks.timeline.camera.channels()
    assert curves["pan_x"][-1] == pytest.approx(0.5) and curves["zoom"][-1] == pytest.approx(2.0)
    assert curves["roll"][10] == pytest.approx(0.0)


def drag_handle(lane, index: int, channel: str, frames: float, dy: int) -> None:
    start = lane.handle_pos(index, channel).toPoint()
    end = start + QPoint(round(lane.axis.scale * frames), dy)
    viewport = lane
    QTest.mouseMove(viewport, start)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 7):
        QTest.mouseMove(viewport, start + (end - start) * (k / 6))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    settle()


def test_the_camera_path_node_is_shown_as_it_renders_and_its_keyframes_drag_in_seconds(docks):
    from studio.directing.camera import build_path, parse_keyframes
    from studio.graph import NodeRegistry

    docks.live.show_video(Video(clip(64), 16.0))
    keys = [
        {"time": 0.0, "pan_x": 0.0, "zoom": 1.0},
        {"time": 1.0, "pan_x": -0.2, "zoom": 1.1, "ease": "smooth"},
        {"time": 2.5, "pan_x": -0.3, "zoom": 1.4, "roll": 3.0, "ease": "ease_in_out"},
    ]
    spec = NodeRegistry.default().get("studio.CameraPath")
    session = docks.session
    session.edit(
        "add path",
        lambda g: g.add_node(spec, "path", params={"preset": "keyframes", "keyframes": copy.deepcopy(keys)}),
    )
    settle()
    lane = docks.timeline.camera
    assert docks.camera_param == ("path", "keyframes") and len(lane.keys) == 3
    track = build_path("keyframes", keys).track(64, 16.0)
    zoom = lane.curves["zoom"].y
    np.testing.assert_allclose(lane.from_y("zoom", zoom), track.channel("zoom"), atol=1e-9)
    assert list(lane.handles["zoom"].x) == [0.0, 16.0, 40.0]  # seconds at 16 fps
    drag_handle(lane, 1, "zoom", 4, -10)
    moved = session.graph.nodes["path"].params["keyframes"]
    assert moved[1]["time"] == pytest.approx(1.25) and moved[1]["zoom"] > 1.1
    assert moved[1]["pan_x"] == -0.2 and moved[1]["ease"] == "smooth"  # the rest of it is untouched
    parse_keyframes(moved)  # still a path the node accepts
    session.undo.undo()
    assert session.graph.nodes["path"].params["keyframes"] == keys
    # a preset is drawn (read-only) as the node will sample it
    session.set_param("path", "preset", "pan_right")
    settle()
    pan = lane.curves["pan_x"].y
    assert lane.from_y("pan_x", pan[0]) == pytest.approx(0.0) and lane.from_y(
        "pan_x", pan[-1]
    ) == pytest.approx(0.25)
    assert lane.handles["pan_x"].x.size == 0


def test_after_a_render_the_camera_lane_shows_the_path_it_used(docks):
    from studio.directing.camera import build_path
    from studio.values import Signal

    docks.live.show_video(Video(clip(32), 16.0))
    pulses = np.zeros(32, np.float32)
    pulses[[8, 16, 24]] = 1.0
    path = build_path("static", zoom_signal=Signal(pulses, 16.0), zoom_pulse=0.2)
    docks.take_outputs({"camera": {"camera": path}})
    lane = docks.timeline.camera
    zoom = lane.curves["zoom"].y
    values = lane.from_y("zoom", zoom)
    assert values[16] == pytest.approx(1.2) and values[12] == pytest.approx(1.0)  # the beat pulses show


def test_a_step_repaints_only_the_thumbnails_that_changed(docks, qtbot):
    from studio.engine import NodeProgress, RunStarted

    frames = clip(48, 60, 104)
    docks.handle_event(RunStarted(1, ("gen",)))
    docks.handle_event(NodeProgress(1, "gen", 1, 4, preview=frames))
    settle()
    lane = docks.timeline.thumbnails
    tiles = dict(lane.tiles())
    assert len(tiles) >= 4
    lane.repaint()
    before = lane.tiles_painted
    changed = frames.copy()
    first, last = min(tiles), max(tiles)
    changed[[first, last]] = 255 - changed[[first, last]]  # two tiles far apart
    docks.handle_event(NodeProgress(1, "gen", 2, 4, preview=changed))
    qtbot.waitUntil(lambda: lane.tiles_painted > before, timeout=2000)
    settle()
    assert lane.tiles_painted - before == 2  # not every tile between them


def test_the_timeline_does_not_import_pyqtgraph():
    import subprocess
    import sys

    code = "import sys, studio.ui.timeline.dock; print('pyqtgraph' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.stdout.strip() == "False"  # its import alone stalled the editor for a second


def test_a_render_s_steps_repaint_the_thumbnails_a_few_times_a_second_ending_on_the_newest(docks, qtbot):
    frames = clip(48, 60, 104)
    docks.handle_event(RunStarted(1, ("gen",)))
    docks.handle_event(NodeProgress(1, "gen", 1, 40, preview=frames))
    settle()
    lane, store = docks.timeline.thumbnails, docks.model.store
    lane.repaint()
    tiles, before = len(lane.tiles()), lane.tiles_painted
    t0 = time.monotonic()
    for step in range(2, 40):  # every frame changes at every step, faster than the lane refreshes
        docks.handle_event(NodeProgress(1, "gen", step, 40, preview=frames // 2 + step))
        settle(1)
    elapsed = time.monotonic() - t0

    def newest_shown() -> bool:
        return all(lane._cache.get(f, (-1,))[0] == store.version(f) for f, _ in lane.tiles())

    qtbot.waitUntil(newest_shown, timeout=2000)  # the last step reaches the lane all the same
    refreshes = (lane.tiles_painted - before) / tiles
    assert refreshes <= 2 + elapsed / lane.REFRESH_S
    assert refreshes < 38 / 2


def test_no_playhead_is_drawn_before_there_is_a_clip(docks):
    from studio.ui.timeline.ruler import PLAYHEAD

    def playhead_pixels() -> int:
        image = docks.timeline.ruler.grab().toImage()
        return sum(image.pixelColor(x, image.height() - 2) == PLAYHEAD for x in range(image.width()))

    assert playhead_pixels() == 0
    docks.live.show_video(Video(clip(24), 24.0))
    QApplication.processEvents()
    assert playhead_pixels() > 0


def test_a_shot_s_flag_on_the_ruler_names_its_row_of_the_shot_list(docks, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest

    from nodes.sequence import shot_list

    docks.session.registry.register(shot_list)
    docks.session.edit("add", lambda g: g.add_node(shot_list, "shots"))
    docks.live.show_video(Video(clip(48), 16.0))
    docks.set_markers([(0, "opening"), (24, "meet")], [])
    settle()
    chosen = []
    docks.shot_chosen.connect(lambda nid, row: chosen.append((nid, row)))
    ruler = docks.timeline.ruler
    x = round(ruler.axis.x(24)) + 6
    QTest.mouseClick(ruler, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, 5))
    assert chosen == [("shots", 1)] and abs(docks.model.playhead - 24) <= 2  # it also moves the playhead there
    QTest.mouseClick(ruler, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, 30))
    assert chosen == [("shots", 1)]  # below the flags: only scrubbing
