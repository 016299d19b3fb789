"""A real render's step events in the timeline: the frames shown, cancel, the final clip, A/B, history."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from studio.engine import CancelToken, Engine, NodeProgress, RunFinished, RunStarted
from studio.graph import Graph, NodeRegistry
from studio.values import Video
from tests.graphs import text_to_video
from tests.timeline.conftest import clip, settle

STEPS = 3


@pytest.fixture(scope="module")
def real_registry():
    return NodeRegistry.default()


def make_graph(registry, model_dir, steps=STEPS, seed=1) -> Graph:
    return text_to_video(registry, model_dir, steps=steps, seed=seed)


@pytest.fixture(scope="module")
def renders(real_registry, tiny_wan):
    """One engine, two real renders (one to the end, one cancelled at step 2): events recorded."""
    engine = Engine(real_registry)
    done: list = []
    result = engine.run(make_graph(real_registry, tiny_wan), listener=done.append)
    assert result.ok
    token = CancelToken()
    cancelled: list = []

    def listen(event):
        cancelled.append(event)
        if isinstance(event, NodeProgress) and event.node_id == "generate" and event.step == 2:
            token.cancel()

    stopped = engine.run(make_graph(real_registry, tiny_wan, steps=6, seed=2), listener=listen, cancel=token)
    assert stopped.status == "cancelled"
    return done, result, cancelled


def painted(docks) -> np.ndarray:
    """The picture the viewer last painted, at screen size."""
    return docks.viewer.viewer._a.pixels


def expect_shown(docks, frame: np.ndarray) -> None:
    shown = painted(docks)
    h, w = shown.shape[:2]
    # a latent-sized preview is kept at its size (QPainter blows it up); frames come at screen size
    want = frame if (w, h) == (frame.shape[1], frame.shape[0]) else cv2.resize(frame, (w, h))
    assert np.abs(shown.astype(int) - want).mean() < 4
    # and the screen has it: a point inside the picture, off the block edges of a blown-up preview
    viewer = docks.viewer.viewer
    rect = viewer._image_rect()
    grab = viewer.grab().toImage()
    c = grab.pixelColor(rect.x() + int(rect.width() * 0.39), rect.y() + int(rect.height() * 0.39))
    r, g, b = shown[int(h * 0.39), int(w * 0.39)]
    assert abs(c.red() - int(r)) < 12 and abs(c.green() - int(g)) < 12 and abs(c.blue() - int(b)) < 12


def test_a_real_render_streams_into_the_viewer_and_the_final_clip_replaces_it(docks, renders):
    events, result, _ = renders
    steps = [e for e in events if isinstance(e, NodeProgress) and e.node_id == "generate"]
    assert len(steps) == STEPS
    docks.model.set_playhead(0)
    for event in events:
        docks.handle_event(event)
        if isinstance(event, NodeProgress) and event.node_id == "generate":
            assert docks.model.count == 9
            docks.model.set_playhead(event.step * 2)
            settle()
            assert docks.viewer.viewer.shown_index == event.step * 2
            expect_shown(docks, event.preview[event.step * 2])
            assert docks.model.status == f"step {event.step} of {STEPS}"
    video = result.outputs["preview"]["video"]
    docks.live.show_video(video)
    settle()
    assert docks.model.status == "" and docks.model.store.size == (32, 32) and docks.model.fps == 8.0
    docks.model.set_playhead(5)
    settle()
    expect_shown(docks, video.frames[5])
    # the denoising history: every step kept, and the slider puts one back on screen
    assert [h[0] for h in docks.live.history] == [1, 2, 3]
    docks.timeline.history.setValue(0)
    settle()
    expect_shown(docks, steps[0].preview[5])
    assert "step 1 of 3 (history)" in docks.model.status


def test_a_cancelled_render_keeps_its_last_preview(docks, renders):
    events = renders[2]
    for event in events:
        docks.handle_event(event)
    settle()
    last = [e for e in events if isinstance(e, NodeProgress) and e.node_id == "generate"][-1]
    assert docks.model.status == "cancelled at step 2 of 6"
    docks.model.set_playhead(4)
    settle()
    expect_shown(docks, last.preview[4])


def test_the_previous_render_is_there_to_compare_and_only_changed_frames_repaint(docks, qtbot):
    first = clip(seed=1)
    docks.handle_event(RunStarted(1, ("gen",)))
    docks.handle_event(NodeProgress(1, "gen", 1, 1, preview=first))
    docks.handle_event(RunFinished(1, "ok", 0.1))
    second = clip(seed=2)
    second[..., 1] = 200
    docks.handle_event(RunStarted(2, ("gen",)))
    docks.handle_event(NodeProgress(2, "gen", 1, 2, preview=second))
    assert docks.live.previous is not None and docks.viewer.compare_box.isEnabled()
    docks.viewer.compare_box.setCurrentText("wipe")
    docks.model.set_playhead(10)
    viewer = docks.viewer.viewer
    settle()
    rect = viewer._image_rect()
    image = viewer.grab().toImage()
    left = image.pixelColor(rect.left() + rect.width() // 4, rect.center().y())
    right = image.pixelColor(rect.left() + rect.width() * 3 // 4, rect.center().y())
    assert left.green() > 150 and right.green() < 100  # A: this render, B: the one before

    docks.viewer.compare_box.setCurrentText("off")
    settle()
    # the next step changes three frames: the thumbnails repaint those tiles only
    lane = docks.timeline.thumbnails
    tiles = lane.tiles()
    assert len(tiles) > 6
    changed = [tiles[1][0], tiles[4][0], tiles[5][0]]
    qtbot.waitUntil(lambda: not lane.repaints.timer.isActive())  # the steps before have reached the lane
    updated = []
    lane.update = lambda *a: updated.append(a)
    third = second.copy()
    third[changed] = 255
    docks.handle_event(NodeProgress(2, "gen", 2, 2, preview=third))
    qtbot.waitUntil(lambda: bool(updated), timeout=2000)  # a few times a second while steps come
    assert sorted(r.x() for (r,) in updated) == sorted(r.x() for f, r in tiles if f in changed)
    assert docks.model.store.versions()[changed[0]] > docks.model.store.versions()[changed[0] + 1]


def test_toy_previews_and_other_events_are_ignored(docks):
    docks.handle_event(RunStarted(1, ("n",)))
    docks.handle_event(NodeProgress(1, "n", 1, 3, preview=[1.0, 2.0]))
    docks.handle_event(NodeProgress(1, "n", 2, 3))
    assert docks.model.count == 0
    video = Video(clip(count=12), fps=12.0)
    docks.live.show_video(video)
    assert docks.model.count == 12 and docks.model.fps == 12.0


def test_a_finished_render_brings_its_sound_beats_and_prompt_sections(docks):
    from studio.values import PromptSchedule, Signal, Sound

    docks.live.show_video(Video(clip(48), 24.0))
    sound = Sound(np.full((48000 * 2, 2), 0.25, np.float32), 48000)
    beats = Signal(np.zeros(32, np.float32), 16.0, label="beats", events=(0, 8, 16, 24))
    schedule = PromptSchedule(
        "a forest",
        sections=((0.0, "a forest"), (1.0, "a city at night, neon, rain, reflections on the street")),
    )
    docks.take_outputs({"audio": {"audio": sound, "signal": beats}, "text": {"prompt": schedule}})
    assert docks.model.sound is sound
    got = [(m.frame, m.kind, m.label) for m in docks.model.markers]
    assert (0, "section", "a forest") in got and (24, "section", "a city at night, neon, rain…") in got
    assert sorted(f for f, kind, _ in got if kind == "beat") == [0, 12, 24, 36]  # 16 fps events at 24 fps


def test_prompt_sections_also_come_from_the_video_s_generation_record_and_only_from_known_types(docks):
    from types import SimpleNamespace

    from studio.values import Generation

    made = Generation(model="m", sections=((0.0, "dawn"), (0.5, "dusk")))
    docks.live.show_video(Video(clip(48), 24.0))
    lookalike = SimpleNamespace(sections=((1.0, "not a schedule")), events=(3,), fps=24.0)
    docks.take_outputs({"gen": {"video": Video(clip(48), 24.0, made)}, "other": {"x": lookalike}})
    got = [(m.frame, m.kind, m.label) for m in docks.model.markers]
    assert got == [(0, "section", "dawn"), (12, "section", "dusk")]  # a value shaped like one is not one


def test_large_previews_stay_raw_so_a_step_costs_no_codec_time(docks):
    big = clip(count=24, h=180, w=320)
    docks.handle_event(RunStarted(1, ("gen",)))
    docks.handle_event(NodeProgress(1, "gen", 1, 4, preview=big))
    stats = docks.model.store.stats()
    assert stats.get("kind_raw") == 24 and not stats.get("kind_jpeg")
    np.testing.assert_array_equal(docks.model.store.frame(7), big[7])


def test_a_failure_before_the_generator_names_the_node_not_a_step(docks):
    from studio.engine import NodeFailed

    docks.handle_event(RunStarted(1, ("gen",)))
    docks.handle_event(NodeProgress(1, "gen", 4, 4, preview=clip(4)))
    docks.handle_event(RunFinished(1, "ok", 0.1))
    docks.handle_event(RunStarted(2, ("model", "gen")))  # the model folder is gone this time
    docks.handle_event(NodeFailed(2, "model", "the model folder /x does not exist"))
    docks.handle_event(RunFinished(2, "failed", 0.1))
    assert docks.model.status == "render failed at node 'model' (the log says why)"
    docks.handle_event(RunStarted(3, ("gen",)))
    docks.handle_event(NodeProgress(3, "gen", 2, 4, preview=clip(4)))
    docks.handle_event(NodeFailed(3, "gen", "out of memory"))
    docks.handle_event(RunFinished(3, "failed", 0.1))
    assert docks.model.status == "render failed at step 2 of 4"
