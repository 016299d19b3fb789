"""A sequence on the timeline: its shots as sections from the moment a render starts, each shot's steps streaming
into its own section while the finished shots stay, a click choosing the shot, the Shot List's row outlining it."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from studio.directing.shots import plan_segments
from studio.engine import Engine, NodeProgress, RunStarted
from studio.graph import NodeRegistry
from studio.ui.shell.last_render import Render
from studio.ui.timeline.ruler import SECTION
from studio.ui.timeline.shotplan import ShotFeed, ShotSection, sections_from_rows
from studio.values import Generation, ShotRecord, Video
from tests.graphs import sequence_graph
from tests.timeline.conftest import clip, settle

ROWS = [
    {"name": "one", "prompt": "a red circle moves left", "seconds": 1.0, "seed": 1},
    {"name": "two", "prompt": "a blue square moves up", "seconds": 1.5, "seed": 2},  # two segments
    {"name": "three", "prompt": "a blue square grows", "seconds": 1.0, "seed": 3, "transition": "continue"},
    {"name": "four", "prompt": "a green circle shrinks", "seconds": 1.0, "seed": 4},
]
STARTS = (0, 8, 20, 28)  # at 8 fps
# ---- the plan and the feed (no Qt)


def test_sections_come_from_the_rows_as_the_render_will_make_them():
    sections = sections_from_rows(ROWS, 8.0)
    assert [(s.start, s.frames, s.name, s.continues) for s in sections] == [
        (0, 8, "one", False), (8, 12, "two", False), (20, 8, "three", True), (28, 8, "four", False)]
    assert sections_from_rows(ROWS[:1] + [{"prompt": "x"}], 8.0) == []  # a row without a length: no plan yet


def test_the_feed_places_every_segment_where_the_final_clip_has_it():
    rng = random.Random(3)
    for _ in range(300):
        window, step = rng.choice([(9, 4), (17, 4), (81, 4), (121, 8), (33, 8)])
        lengths = [rng.randint(1, 200) for _ in range(rng.randint(1, 6))]
        continues = [False] + [rng.random() < 0.4 for _ in lengths[1:]]
        sections, at = [], 0
        for n, c in zip(lengths, continues, strict=True):
            sections.append(ShotSection(at, n, "s", continues=c))
            at += n
        plans = [plan_segments(n, window, step, c) for n, c in zip(lengths, continues, strict=True)]
        steps = rng.randint(1, 4)
        total = steps * sum(len(p) for p in plans)
        feed, done = ShotFeed(sections), 0
        for i, (section, plan) in enumerate(zip(sections, plans, strict=True)):
            head = f"shot {i + 1}/{len(sections)} 's'"
            if rng.random() < 0.5:  # the "rendering" event may merge away behind the first step
                assert feed.read(done, f"{head}: rendering (new)", None, total).kind == "rendering"
            placed = section.start
            for k, segment in enumerate(plan):
                for s in range(1, steps + 1):
                    update = feed.read(done + k * steps + s, f"{head}: step {s}/{steps}", segment.frames, total)
                    assert (update.shot, update.start, update.keep_from, update.keep) == (
                        i, placed, segment.keep_from, segment.keep)
                placed += segment.keep
            done += steps * len(plan)
    assert feed.read(0, "rendered 3 of 3 shots") is None
    assert feed.read(0, "shot 1/9 's': step 1/2", 9, 9) is None  # another plan than this one


# ---- a real sequence render through the timeline


@pytest.fixture(scope="module")
def real_registry():
    return NodeRegistry.default()


@pytest.fixture(scope="module")
def two_renders(real_registry, tiny_ti2v):
    """A sequence rendered, then again with shot 2's prompt edited (shots 2 and 3 render, 1 and 4 from the memo)."""
    engine, rows = Engine(real_registry), [dict(r) for r in ROWS]
    graph = sequence_graph(real_registry, tiny_ti2v, rows, preview=True)
    first: list = []
    result = engine.run(graph, listener=first.append)
    assert result.ok, result.failed
    rows[1] = {**rows[1], "prompt": "a yellow square moves up"}
    edited = sequence_graph(real_registry, tiny_ti2v, rows, preview=True)
    second: list = []
    again = engine.run(edited, listener=second.append)
    assert again.ok, again.failed
    return (graph, first, result), (edited, second, again)


def shot_of(message: str) -> int:
    return int(message.split("/")[0].split()[-1]) - 1


def test_a_sequence_streams_each_shot_into_its_section_while_the_finished_ones_stay(docks, two_renders, real_registry):
    (graph, events, result), _ = two_renders
    docks.session.registry = real_registry
    docks.session.restore(graph, None)
    previews = [e for e in events if isinstance(e, NodeProgress) and e.preview is not None]
    assert {shot_of(e.message) for e in previews} == {0, 1, 2, 3}
    streamed = {id(e) for e in previews}
    kept: dict[int, np.ndarray] = {}  # each shot's frames as its last step left them
    for event in events:
        docks.handle_event(event)
        if isinstance(event, RunStarted):  # the plan's sections, before any step: the whole sequence's length
            assert [(s.start, s.name) for s in docks.model.shots] == list(zip(STARTS, ["one", "two", "three",
                                                                                       "four"], strict=True))
            assert docks.model.count == 36 and docks.timeline.shots.isVisible()
        if id(event) in streamed:
            shot = shot_of(event.message)
            assert docks.model.rendering_shot == shot and f"shot {shot + 1}/4" in docks.model.status
            store, section = docks.model.store, docks.model.shots[shot]
            assert store.count == 36  # never the segment's length
            for done, frames in kept.items():  # finished shots keep their frames, and they can be shown
                if done != shot:
                    s = docks.model.shots[done]
                    now = np.stack([store.frame(i) for i in range(s.start, s.end)])
                    assert np.array_equal(now, frames)
            kept[shot] = np.stack([store.frame(i) for i in range(section.start, section.end)
                                   if store.has_frame(i)])
    # every frame of the sequence was streamed into place before the end
    assert all(docks.model.store.has_frame(i) for i in range(36))
    docks.show_render(Render(result, streamed="sequence"))
    final = result.outputs["sequence"]["video"]
    assert docks.model.count == final.num_frames == 36
    assert np.array_equal(docks.model.store.frame(30), final.frames[30])
    assert [s.start for s in docks.model.shots] == list(STARTS)
    assert not [m for m in docks.model.markers if m.kind == "section"]  # the lane shows them, not the ruler


def test_a_re_render_shows_the_unchanged_shots_from_the_clip_before_at_once(docks, two_renders, real_registry):
    (graph, events, result), (edited, again_events, _again) = two_renders
    docks.session.registry = real_registry
    docks.session.restore(graph, None)
    for event in events:
        docks.handle_event(event)
    docks.show_render(Render(result, streamed="sequence"))
    before = result.outputs["sequence"]["video"].frames
    docks.model.store.wait_compressed(5)
    docks.session.restore(edited, None)
    first_step = next(i for i, e in enumerate(again_events) if isinstance(e, NodeProgress) and e.preview is not None)
    # the editor merges a node's progress events between deliveries: shot 1's "unchanged" may never arrive
    merged = [e for e in again_events[:first_step + 1] if "unchanged" not in getattr(e, "message", "")]
    assert len(merged) < first_step + 1
    for event in merged:
        docks.handle_event(event)
    store = docks.model.store
    assert docks.model.rendering_shot == 1
    # shot 1 came from the memo: its frames are there from the clip before while shot 2 renders
    assert all(store.has_frame(i) for i in range(0, 8))
    assert np.abs(store.frame(3).astype(int) - before[3]).mean() < 6  # compressed once
    assert not store.has_frame(24)  # shot 3 renders after shot 2: nothing there yet


# ---- the lane


def show_sequence(docks, count: int = 48, starts=(0, 12, 30)) -> None:
    from nodes.sequence import shot_list

    docks.session.registry.register(shot_list)
    docks.session.edit("add", lambda g: g.add_node(shot_list, "shots", params={"shots": [
        {"name": f"s{i}", "prompt": "p", "seconds": 1.0} for i in range(len(starts))]}))
    records = tuple(ShotRecord(f"s{i}", start / 16.0, f"prompt {i}") for i, start in enumerate(starts))
    video = Video(clip(count), 16.0, Generation(shots=records))
    docks.live.show_video(video)
    docks.take_outputs({"gen": {"video": video}})
    settle()


def test_the_lane_is_there_for_a_sequence_only(docks):
    docks.live.show_video(Video(clip(24), 16.0))
    docks.take_outputs({})
    settle()
    assert not docks.timeline.shots.isVisible()
    show_sequence(docks)
    assert docks.timeline.shots.isVisible() and len(docks.model.shots) == 3
    docks.forget_render()
    settle()
    assert docks.model.shots == []
    docks.session.edit("Remove", lambda g: g.remove_node("shots"))  # no longer a sequence graph
    settle()
    assert not docks.timeline.shots.isVisible()


def test_clicking_a_section_chooses_its_row_and_a_row_outlines_its_section(docks, qtbot):
    show_sequence(docks)
    lane = docks.timeline.shots
    chosen = []
    docks.shot_chosen.connect(lambda nid, row: chosen.append((nid, row)))
    x = round(lane.axis.x(20))
    QTest.mouseClick(lane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, 20))
    assert chosen == [("shots", 1)] and docks.model.chosen_shot == 1
    assert abs(docks.model.playhead - 20) <= 1  # the click scrubs there too

    def outline_at(index: int) -> bool:
        rect = lane.section_rect(index)
        image = lane.grab().toImage()
        return image.pixelColor(rect.center().x(), 1) == SECTION

    settle()
    assert outline_at(1) and not outline_at(2)
    docks.choose_shot_row("shots", "shots", 2)  # the Shot List's row 3 selected in the inspector
    settle()
    assert docks.model.chosen_shot == 2 and outline_at(2) and not outline_at(1)
    docks.choose_shot_row("shots", "seed", 0)  # not the shots table
    assert docks.model.chosen_shot == 2
    docks.choose_shot_row("shots", "shots", -1)
    assert docks.model.chosen_shot is None


def test_each_section_shows_its_first_frame(docks, qtbot):
    show_sequence(docks)
    lane = docks.timeline.shots
    frames = clip(48)
    for index, start in enumerate((0, 12, 30)):
        rect = lane.section_rect(index)
        image = lane.grab().toImage()
        c = image.pixelColor(rect.left() + 8, lane.height() // 2)
        assert abs(c.red() - int(frames[start, ..., 0].mean())) <= 3, index  # red says the frame: index * 5
    assert lane.thumbs_made == 3


def test_after_rows_move_a_row_and_its_section_still_find_each_other(docks, qtbot):
    show_sequence(docks)
    rows = docks.session.graph.nodes["shots"].params["shots"]
    docks.session.set_param("shots", "shots", [rows[2], rows[0], rows[1]])  # the last shot moved up, not rendered
    docks.choose_shot_row("shots", "shots", 0)
    assert docks.model.chosen_shot == 2  # the section of 's2', where the clip has it
    chosen = []
    docks.shot_chosen.connect(lambda nid, row: chosen.append((nid, row)))
    lane = docks.timeline.shots
    QTest.mouseClick(lane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(round(lane.axis.x(5)), 20))
    assert chosen == [("shots", 1)]  # 's0' is row 2 now
    docks.session.set_param("shots", "shots", [*rows, {"name": "new", "prompt": "p", "seconds": 1.0}])
    docks.choose_shot_row("shots", "shots", 3)
    assert docks.model.chosen_shot is None  # a shot added since the render has no section yet


def test_a_sequence_render_that_fails_before_any_picture_leaves_the_clip_before(docks, real_registry, tiny_ti2v):
    from studio.engine import RunFinished

    docks.session.registry = real_registry
    docks.session.restore(sequence_graph(real_registry, tiny_ti2v, ROWS, preview=True), None)
    before = clip(36)
    docks.live.show_video(Video(before, 8.0))
    docks.handle_event(RunStarted(7, ("model", "shots", "sequence", "preview")))
    assert docks.model.count == 36 and not docks.model.store.has_frame(0)  # the plan's empty clip
    docks.handle_event(NodeProgress(7, "sequence", 0, 10, None, "shot 1/4 'one': rendering (new)"))
    docks.handle_event(RunFinished(7, "cancelled", 0.5))
    assert np.array_equal(docks.model.store.frame(5), before[5]) and docks.live.previous is None


def test_a_queued_render_of_other_shots_streams_as_one_clip(docks, real_registry, tiny_ti2v):
    docks.session.registry = real_registry
    docks.session.restore(sequence_graph(real_registry, tiny_ti2v, ROWS, preview=True), None)
    docks.handle_event(RunStarted(8, ("model", "shots", "sequence", "preview")))
    preview = clip(9, 16, 16)
    # the graph as it was when queued: its first shot was called otherwise
    docks.handle_event(NodeProgress(8, "sequence", 1, 10, preview, "shot 1/4 'first': step 1/2"))
    assert docks.model.count == 9 and docks.model.shots == []  # not placed into a plan it does not match


def test_a_graph_with_a_shot_list_has_its_lane_before_any_render(docks):
    """The lane is laid out when the graph gets its Shot List, so nothing moves when a render starts."""
    from nodes.sequence import shot_list

    session = docks.session
    session.registry.register(shot_list)
    settle()
    assert not docks.timeline.shots.isVisible()
    session.edit("Add", lambda g: g.add_node(session.registry.get("studio.ShotList"), "list"))
    settle()
    assert docks.timeline.shots.isVisible()
    below = docks.timeline.thumbnails.geometry().top()
    show_sequence(docks)  # a render of it: sections arrive, the lanes stay where they were
    settle()
    assert docks.timeline.shots.isVisible() and docks.timeline.thumbnails.geometry().top() == below
    docks.forget_render()
    settle()
    assert docks.timeline.shots.isVisible()  # still a sequence graph
    session.edit("Remove", lambda g: [g.remove_node("list"), g.remove_node("shots")])
    settle()
    assert not docks.timeline.shots.isVisible()
