"""Scrubbing with the mouse, the transport keys, and playback by the clock (frames dropped, no drift)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from studio.ui.timeline import AudioOutput, timecode
from studio.values import Sound, Video
from tests.timeline.conftest import clip, settle


def load(docks, count: int = 48, fps: float = 24.0) -> None:
    docks.live.show_video(Video(clip(count), fps))
    settle()


def test_dragging_the_playhead_moves_the_viewer_with_it(docks):
    load(docks)
    ruler = docks.timeline.ruler
    axis = docks.timeline.axis
    y = ruler.height() // 2
    at = lambda frame: QPoint(round(axis.x(frame)), y)  # noqa: E731
    QTest.mousePress(ruler, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(10))
    assert docks.model.playhead == 10
    for frame in (14, 19, 25, 31):
        QTest.mouseMove(ruler, at(frame))
        settle(1)
        assert docks.model.playhead == frame
        assert docks.viewer.viewer.shown_index == frame  # painted before the next move
    QTest.mouseRelease(ruler, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(31))
    # the frame painted is frame 31: its red channel says so
    assert abs(int(docks.viewer.viewer._a.pixels[..., 0].mean()) - 31 * 5) <= 2
    # a click in the thumbnail lane seeks too
    lane = docks.timeline.thumbnails
    QTest.mouseClick(
        lane,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        QPoint(round(axis.x(40)), lane.height() // 2),
    )
    assert docks.model.playhead == 40


def test_transport_keys(docks, qtbot):
    load(docks, count=48)
    panel = docks.timeline
    panel.window().activateWindow()
    panel.setFocus()
    qtbot.waitUntil(panel.hasFocus, timeout=2000)
    model, playback = docks.model, docks.playback

    def key(k) -> None:
        QTest.keyClick(panel, k)
        settle(1)

    key(Qt.Key.Key_Right)
    key(Qt.Key.Key_Right)
    assert model.playhead == 2
    key(Qt.Key.Key_Left)
    assert model.playhead == 1
    key(Qt.Key.Key_End)
    assert model.playhead == 47
    key(Qt.Key.Key_Home)
    assert model.playhead == 0
    key(Qt.Key.Key_Space)
    assert playback.playing and playback.rate == 1.0
    key(Qt.Key.Key_Space)
    assert not playback.playing
    key(Qt.Key.Key_L)
    key(Qt.Key.Key_L)
    assert playback.rate == 2.0
    key(Qt.Key.Key_K)
    assert not playback.playing
    model.set_playhead(30)
    key(Qt.Key.Key_J)
    assert playback.rate == -1.0
    key(Qt.Key.Key_K)
    # in and out points limit Home, End and playback
    model.set_playhead(10)
    key(Qt.Key.Key_I)
    model.set_playhead(20)
    key(Qt.Key.Key_O)
    assert (model.in_point, model.out_point) == (10, 20)
    key(Qt.Key.Key_Home)
    assert model.playhead == 10
    key(Qt.Key.Key_End)
    assert model.playhead == 20
    assert "in 10 out 20" in panel.transport.time_label.text()
    # the viewer has the same keys
    docks.viewer.viewer.setFocus()
    QTest.keyClick(docks.viewer.viewer, Qt.Key.Key_Left)
    assert model.playhead == 19


def test_playback_follows_the_clock_and_drops_frames_when_late(docks):
    load(docks, count=240, fps=24.0)
    playback = docks.playback
    now = [100.0]
    playback.clock = lambda: now[0]
    playback.loop = False
    playback.play()
    for _ in range(24):  # one second of ticks on time
        now[0] += 1 / 24
        playback._tick()
    assert docks.model.playhead == 24 and playback.dropped == 0
    now[0] += 0.5  # the machine stalled for half a second: jump, do not slow down
    playback._tick()
    assert docks.model.playhead == 36 and playback.dropped == 11
    for _ in range(300):
        now[0] += 1 / 24
        playback._tick()
    assert docks.model.playhead == 239 and not playback.playing  # stops at the end without loop


def test_playback_in_real_time_with_sound_but_no_audio_device(docks, qtbot):
    import time

    load(docks, count=96, fps=24.0)
    docks.set_sound(Sound(np.zeros((48000 * 4, 2), np.float32), 48000))
    playback = docks.playback
    playback.play()
    qtbot.waitUntil(lambda: docks.model.playhead >= 12, timeout=5000)
    frame, elapsed = docks.model.playhead, time.monotonic() - playback._t0
    playback.pause()
    assert abs(frame - elapsed * 24) <= 2.5  # the clip runs at its rate, whatever the timer did
    assert isinstance(playback.audio, AudioOutput)  # silent here, and nothing crashed


def test_timecode():
    assert timecode(0, 24) == "00:00:00:00"
    assert timecode(24 * 61 + 5, 24) == "00:01:01:05"
    assert timecode(3600 * 25, 25) == "01:00:00:00"


class FakeAudio(AudioOutput):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, float]] = []

    def start(self, sound, seconds: float) -> bool:
        self.calls.append(("start", round(seconds, 4)))
        return True

    def stop(self) -> None:
        self.calls.append(("stop", 0.0))

    heard: float | None = None

    def position(self) -> float | None:
        return self.heard


def test_while_sound_plays_the_picture_follows_the_sound_device_clock(docks):
    load(docks, count=240, fps=24.0)
    docks.set_sound(Sound(np.zeros((48000 * 10, 1), np.float32), 48000))
    playback = docks.playback
    playback.audio = fake = FakeAudio()
    now = [50.0]
    playback.clock = lambda: now[0]
    playback.play()
    for _ in range(24):
        now[0] += 1 / 24
        playback._tick()
    assert docks.model.playhead == 24 and playback.resyncs == 0  # no sound heard yet: the clock leads
    fake.heard = 0.8  # the device has played 0.8 s only (its latency): the picture waits for it
    now[0] += 1 / 24
    playback._tick()
    assert docks.model.playhead == round(0.8 * 24) and playback.resyncs == 1
    for _ in range(12):
        now[0] += 1 / 24
        fake.heard += 1 / 24
        playback._tick()
    assert docks.model.playhead == round(0.8 * 24) + 12 and playback.resyncs == 1


def test_sound_starts_where_the_playhead_is_and_only_at_normal_speed(docks):
    load(docks, count=96, fps=24.0)
    docks.set_sound(Sound(np.zeros((48000 * 4, 1), np.float32), 48000))
    playback = docks.playback
    playback.audio = fake = FakeAudio()
    docks.model.set_playhead(36)
    playback.play()
    assert ("start", 1.5) in fake.calls  # frame 36 at 24 fps
    fake.calls.clear()
    playback.shuttle(1)  # faster: the sound stops rather than play at the wrong speed
    assert playback.rate == 2.0 and fake.calls[-1] == ("stop", 0.0)
    playback.pause()
    assert fake.calls[-1] == ("stop", 0.0)


def test_without_an_audio_device_the_output_stays_silent(qtbot):
    out = AudioOutput()
    sound = Sound(np.zeros((4800, 2), np.float32), 48000)
    audible = out.start(sound, 0.0)
    # exactly one of: it plays, or it says why not (CI and this machine: no device, or no QtMultimedia)
    assert audible != bool(out.reason)
    out.stop()
    assert out.start(sound, 5.0) is False  # past the end


def test_without_qtmultimedia_playback_goes_on_silently(docks, monkeypatch):
    import sys

    import PySide6

    monkeypatch.delattr(PySide6, "QtMultimedia", raising=False)
    monkeypatch.setitem(sys.modules, "PySide6.QtMultimedia", None)  # as if PySide6-Addons were absent
    load(docks, count=48)
    docks.set_sound(Sound(np.zeros((48000, 2), np.float32), 48000))
    docks.playback.audio = AudioOutput()
    docks.playback.play()
    assert docks.playback.playing and not docks.playback.audio.available
    assert "no audio output" in docks.playback.audio.reason
    docks.playback.pause()


def test_in_and_out_mark_a_preview_loop_and_only_set_export_range_writes_the_export_node(docks):
    from studio.graph import NodeRegistry

    load(docks, count=48)
    session = docks.session
    session.registry.register(NodeRegistry.default().get("studio.Export"))
    session.edit("add export", lambda g: g.add_node(session.registry.get("studio.Export"), "export"))
    model = docks.model
    model.set_playhead(10)
    docks.timeline.transport.mark_in()
    model.set_playhead(20)
    docks.timeline.transport.mark_out()
    params = session.graph.nodes["export"].params
    assert (model.in_point, model.out_point) == (10, 20)
    assert (params["in_frame"], params["out_frame"]) == (0, 0)  # a loop to watch is not a range to export
    steps = session.undo.count()
    assert docks.set_export_range()
    params = session.graph.nodes["export"].params
    assert (params["in_frame"], params["out_frame"]) == (10, 21)  # out_frame is the frame to stop before
    assert session.undo.count() == steps + 1 and not docks.set_export_range()  # one step; again: nothing to do
    session.undo.undo()
    assert (session.graph.nodes["export"].params["in_frame"], session.graph.nodes["export"].params["out_frame"]) == (
        0, 0)
    session.set_param("export", "in_frame", 5)  # typed in the inspector: the loop shows the node's range
    assert model.in_point == 5


def test_zooming_the_time_axis_keeps_every_lane_aligned_and_follows_the_playhead(docks):
    load(docks, count=480)
    panel, axis = docks.timeline, docks.timeline.axis
    assert axis.fitted and axis.frame_at(0) == pytest.approx(-0.5)
    x = panel.ruler.width() / 2
    under = axis.frame_at(x)
    axis.zoom(8.0, x)
    assert not axis.fitted and axis.frame_at(x) == pytest.approx(under)  # zoom about the cursor
    settle()
    assert panel.scroll.isVisible()
    # the curve lanes show the same frames as the ruler
    lo, hi = panel.audio.x_range()
    assert lo == pytest.approx(axis.start) and hi == pytest.approx(
        axis.frame_at(panel.audio.width()), rel=1e-3
    )
    docks.model.set_playhead(470)  # off screen: the view scrolls to it
    assert axis.start <= 470 <= axis.end
    axis.zoom(0.01, x)
    assert axis.fitted and not panel.scroll.isVisibleTo(panel)


def test_hiding_the_window_stops_playback(docks):
    load(docks, count=96)
    docks.playback.play()
    docks.window.hide()
    assert not docks.playback.playing


def test_a_shorter_clip_clears_the_points_on_screen_but_not_in_the_document(docks):
    from studio.graph import NodeRegistry

    load(docks, count=48)
    docks.session.registry.register(NodeRegistry.default().get("studio.Export"))
    docks.session.edit("add export", lambda g: g.add_node(docks.session.registry.get("studio.Export"), "export"))
    docks.model.set_playhead(40)
    docks.timeline.transport.mark_in()
    assert docks.set_export_range()
    assert docks.session.graph.nodes["export"].params["in_frame"] == 40
    docks.live.show_video(Video(clip(20), 24.0))  # a shorter clip: frame 40 is not in it
    assert docks.model.in_point is None
    assert docks.session.graph.nodes["export"].params["in_frame"] == 40


def test_shuttle_backwards_runs_the_clip_in_reverse_by_the_clock(docks):
    load(docks, count=96, fps=24.0)
    playback = docks.playback
    now = [10.0]
    playback.clock = lambda: now[0]
    docks.model.set_playhead(60)
    playback.shuttle(-1)
    playback.shuttle(-1)  # J twice: twice as fast backwards
    assert playback.rate == -2.0
    for _ in range(12):
        now[0] += 1 / 24
        playback._tick()
    assert docks.model.playhead == 60 - 24 and playback.dropped == 12  # every other frame at 2x


def test_viewer_one_to_one_and_side_by_side(docks):
    from studio.engine import NodeProgress, RunFinished, RunStarted

    first, second = clip(seed=1), clip(seed=2)
    second[..., 1] = 220
    for run, frames in ((1, first), (2, second)):
        docks.handle_event(RunStarted(run, ("gen",)))
        docks.handle_event(NodeProgress(run, "gen", 1, 1, preview=frames))
        docks.handle_event(RunFinished(run, "ok", 0.1))
    viewer = docks.viewer.viewer
    docks.viewer.size_box.setCurrentText("1:1")
    settle()
    assert viewer._a.pixels.shape == (18, 32, 3)  # pixel for pixel
    dpr = viewer.devicePixelRatioF()
    for level, zoom in (("50%", 0.5), ("200%", 2.0), ("400%", 4.0)):
        docks.viewer.size_box.setCurrentText(level)
        settle()
        rect = viewer._native_rect(32, 18)
        assert (rect.width(), rect.height()) == (round(32 * zoom / dpr), round(18 * zoom / dpr)), level
    assert not viewer.can_pan()  # 128x72 at 400% still fits the viewer: nothing to drag
    docks.viewer.size_box.setCurrentText("fit")
    docks.viewer.compare_box.setCurrentText("side by side")
    settle()
    image = viewer.grab().toImage()
    y = viewer.height() // 2
    left = image.pixelColor(viewer.width() // 4, y)
    right = image.pixelColor(viewer.width() * 3 // 4, y)
    assert left.green() > 200 and right.green() < 100  # this render left, the previous one right
    docks.viewer.compare_box.setCurrentText("difference")
    settle()
    image = viewer.grab().toImage()
    # the renders differ in green (220 against at most 59) and agree in red (both frame index * 5)
    middle = image.pixelColor(viewer.width() // 2, y)
    assert middle.green() > 150 and middle.red() < 20


def test_scrubbing_paints_drafts_then_the_full_frame_when_the_playhead_rests(docks, qtbot):
    from tests.timeline.test_framestore import jpeg, synthetic

    store = docks.model.store
    store.reset(30, fps=24)
    for i in range(30):
        store.put_encoded(i, jpeg(synthetic(i, 720, 1280)), (720, 1280))
    viewer = docks.viewer.viewer
    docks.model.set_playhead(3)
    settle()
    docks.model.set_playhead(25)  # a second move right after the first: a drag
    settle()
    assert viewer.shown_index == 25 and viewer._a.draft
    qtbot.waitUntil(lambda: not viewer._a.draft, timeout=3000)  # refined once the hand stops
    assert viewer.shown_index == 25
    shown, want = (
        viewer._a.pixels,
        store.frame(
            25, *viewer._a.view(store, 25, viewer._a.pixels.shape[1], viewer._a.pixels.shape[0], False)
        ),
    )
    assert np.abs(shown.astype(int) - want).mean() < 2


class FakeSink:
    """What AudioOutput reads of a QAudioSink: bytes handed to the device, and its buffer."""

    def __init__(self, bytes_per_second: int) -> None:
        self.bps = bytes_per_second
        self.processed = 0.0  # seconds the sink has taken from the sound
        self.queued = 0.0  # of which still waiting in its buffer

    def processedUSecs(self) -> int:  # noqa: N802 (Qt's name)
        return round(self.processed * 1e6)

    def bufferSize(self) -> int:  # noqa: N802 (Qt's name)
        return self.bps  # one second

    def bytesFree(self) -> int:  # noqa: N802 (Qt's name)
        return round(self.bps * (1.0 - self.queued))

    def stop(self) -> None:
        pass

    def deleteLater(self) -> None:  # noqa: N802 (Qt's name)
        pass


class LatentAudio(AudioOutput):
    """A real AudioOutput over a fake sink: its latency and position come from the sink's numbers."""

    def start(self, sound, seconds: float) -> bool:
        self._sink = self.sink = FakeSink(48000 * 4)
        self._bytes_per_second, self._start = 48000 * 4, seconds
        self.sink.queued = 0.15  # the sink took 150 ms of sound at once
        self.sink.processed = 0.15
        return True


def test_the_picture_waits_for_the_sound_latency_so_they_line_up(docks):
    load(docks, count=240, fps=24.0)
    docks.set_sound(Sound(np.zeros((48000 * 10, 1), np.float32), 48000))
    playback = docks.playback
    playback.audio = audio = LatentAudio()
    audio.output_latency = 0.05  # what the device adds after the sink (a setting)
    assert audio.latency() == 0.0  # nothing plays yet
    now = [10.0]
    playback.clock = lambda: now[0]
    docks.model.set_playhead(48)
    playback.play()
    assert audio.latency() == pytest.approx(0.2) and audio.start_delay() == pytest.approx(0.05)
    assert audio.position() == pytest.approx(2.0)  # frame 48's sound, not heard yet
    # the first frame holds while its sound goes through the device
    now[0] += 0.04
    playback._tick()
    assert docks.model.playhead == 48
    # then the sound is heard frame for frame with the picture: no resync needed
    for k in range(1, 25):
        now[0] = 10.0 + 0.05 + k / 24 + 1e-6
        audio.sink.processed = 0.15 + 0.05 + k / 24  # what it played, and its buffer kept full
        assert audio.position() == pytest.approx(2.0 + k / 24, abs=1e-5)
        playback._tick()
        assert docks.model.playhead == 48 + k
    assert playback.resyncs == 0
    playback.pause()
    # uncompensated, the picture ran 0.05 s ahead of the sound all along (here, a frame or two)


def test_at_one_to_one_a_large_frame_pans_with_a_drag(docks):
    h, w = 400, 1600  # wider than the viewer: colour says where each pixel is
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], -1).astype(np.uint8)
    docks.live.show_video(Video(frame[None].repeat(2, 0), 24.0))
    settle()
    viewer = docks.viewer.viewer
    docks.viewer.size_box.setCurrentText("1:1")
    settle()
    assert viewer.can_pan() and viewer.cursor().shape() == Qt.CursorShape.OpenHandCursor

    def red_at_centre() -> int:
        return viewer.grab().toImage().pixelColor(viewer.width() // 2, viewer.height() // 2).red()

    centre = red_at_centre()
    assert abs(centre - 127) <= 3  # the frame's centre in the middle
    start = QPoint(viewer.width() // 2, viewer.height() // 2)
    QTest.mousePress(viewer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewer, start + QPoint(-200, 0))
    QTest.mouseRelease(
        viewer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(-200, 0)
    )
    settle()
    assert viewer.pan.x() == -200
    assert red_at_centre() == pytest.approx(centre + 200 * 255 / w, abs=3)  # the picture moved with the hand
    # never so far that an edge comes inside the viewer
    QTest.mousePress(viewer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewer, start + QPoint(-5000, 0))
    QTest.mouseRelease(viewer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    settle()
    image = viewer.grab().toImage()
    assert image.pixelColor(viewer.width() - 2, viewer.height() // 2).red() >= 250  # the frame's right edge
    docks.viewer.size_box.setCurrentText("fit")  # fit: no pan left over, nothing to drag
    assert viewer.pan.x() == 0 and not viewer.can_pan()


def test_scrubbing_a_clip_that_just_arrived_paints_proxies_or_small_decodes(docks, qtbot):
    from tests.timeline.test_framestore import jpeg, synthetic

    store = docks.model.store
    store.reset(200, fps=24)
    blob = jpeg(synthetic(1, 720, 1280))
    for i in range(200):
        store.put_encoded(i, blob, (720, 1280))
    qtbot.waitUntil(store.proxies_done, timeout=20000)  # made without any scrubbing or rest
    viewer = docks.viewer.viewer
    docks.model.set_playhead(50)
    docks.model.set_playhead(120)
    settle()
    assert viewer._a.draft and viewer._a.source == 120  # its own proxy, no decode of the frame
    # a frame that has just been replaced has no proxy yet: a neighbour's stands in, then it refines
    store.put_encoded(121, jpeg(synthetic(2, 720, 1280)), (720, 1280))
    plan = viewer._a.plan(store, 121, 1, (viewer.width(), viewer.height()), draft=True)
    assert plan[0] == "proxy" and plan[1] in (120, 122)
    far = viewer._a.plan(store, 121, 1, None, draft=False)
    assert far == ("frame", 121, 1)  # at rest: the frame itself
    qtbot.waitUntil(lambda: not viewer._a.draft, timeout=3000)


def test_the_viewer_does_not_widen_its_column_when_a_render_starts(docks):
    """Its caption grows from nothing to '17 frames · 64x64 preview · 16 fps' as a render starts: that must not
    raise the panel's minimum width (it pushed the right column wider and the canvas jumped)."""
    panel = docks.viewer
    before = panel.minimumSizeHint().width()
    load(docks, count=1240, fps=16.0)
    docks.model.set_status("step 3 of 20")
    settle()
    assert "preview" in panel.info.text()
    assert panel.minimumSizeHint().width() <= before


def test_the_viewer_caption_keeps_its_whole_text_in_its_tooltip(docks):
    """In a narrow column the caption is elided on screen; the whole of it stays readable in its tooltip."""
    load(docks, count=104, fps=16.0)
    label = docks.viewer.info
    assert "104 frames" in label.text() and label.toolTip() == label.text()
