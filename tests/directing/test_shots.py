"""Shot lists: parsing with errors that name the row, segment plans, and Generate Sequence re-rendering only the
shots whose inputs changed (tiny Wan pipeline), then the shipped example on the embedded model (slow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.directing import DirectingError
from studio.directing.shots import ShotPlan, frame_changes, parse_shots, plan_segments, seam_report
from studio.engine import Engine
from studio.graph import NodeRegistry, load_graph
from studio.values import Picture
from tests.graphs import sequence_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
PICTURE = Picture(np.full((8, 8, 3), 200, np.uint8), source="red.png")
@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


# ---- the plan


def test_rows_parse_with_defaults_and_characters_travel_with_the_plan():
    plan = parse_shots([
        {"prompt": " a red circle moves left ", "seconds": 1, "character": "a"},
        {"name": "turn", "prompt": "a red circle moves up", "seconds": 0.5, "seed": 9, "transition": "continue"},
    ], default_seed=4, characters={"a": PICTURE, "b": None})
    assert isinstance(plan, ShotPlan)
    first, second = plan.shots
    assert (first.name, first.prompt, first.seed, first.transition, first.character) == (
        "shot 1", "a red circle moves left", 4, "cut", "a")
    assert (second.name, second.seed, second.continues) == ("turn", 9, True)
    assert plan.character("a").picture is PICTURE and plan.character("b") is None
    assert plan.starts(16.0) == [0, 16] and plan.num_frames(16.0) == 24
    # the digest follows what a render reads: another fit is another character
    other = parse_shots([{"prompt": "x", "seconds": 1, "character": "a"}],
                        characters={"a": Picture(PICTURE.pixels, fit="pad")})
    assert other.character("a").digest != plan.character("a").digest


@pytest.mark.parametrize("rows, words", [
    ({"prompt": "x"}, "must be a list"),
    ([], "empty"),
    ([{"prompt": "x", "seconds": 1}, {"name": "b", "seconds": 1}], "shot 2 ('b') needs a prompt"),
    ([{"prompt": "x", "seconds": 0}], "shot 1 ('shot 1') needs a length in 'seconds'"),
    ([{"prompt": "x", "seconds": 1}, {"prompt": "y", "seconds": "2"}], "shot 2 ('shot 2') needs a length"),
    ([{"prompt": "x", "seconds": 1, "seed": -1}], "'seed' must be a whole number"),
    ([{"prompt": "x", "seconds": 1}, {"prompt": "y", "seconds": 1, "transition": "dissolve"}],
     "shot 2 ('shot 2'): 'transition' must be cut or continue"),
    ([{"name": "open", "prompt": "x", "seconds": 1, "transition": "continue"}], "shot 1 ('open') continues"),
    ([{"prompt": "x", "seconds": 1, "character": "c"}], "'character' must be one of a, b"),
    ([{"prompt": "x", "seconds": 1, "camera": "pan"}], "shot 1 ('shot 1') has unknown field(s) camera"),
    ([{"prompt": "x", "seconds": 1}, "shot two"], "shot 2 must be an object"),
])
def test_every_error_names_the_row(rows, words):
    with pytest.raises(DirectingError) as caught:
        parse_shots(rows)
    assert words in str(caught.value)


def test_a_character_without_a_picture_names_the_port():
    with pytest.raises(DirectingError) as caught:
        parse_shots([{"prompt": "x", "seconds": 1}, {"prompt": "y", "seconds": 1, "character": "b"}],
                    characters={"a": PICTURE, "b": None})
    assert caught.value.port == "character_b" and "shot 2" in caught.value.message


@pytest.mark.parametrize("window, step", [(17, 4), (9, 4), (81, 4), (49, 8)])
def test_segments_cover_each_shot_exactly_within_the_window(window, step):
    for continues in (False, True):
        for frames in range(1, 5 * window):
            segments = plan_segments(frames, window, step, continues)
            assert sum(s.keep for s in segments) == frames
            for k, s in enumerate(segments):
                assert s.frames <= window and (s.frames - 1) % step == 0
                assert s.keep_from == (0 if k == 0 and not continues else 1)
                assert s.keep_from + s.keep <= s.frames
            # even shares: no crowded last segment
            assert max(s.keep for s in segments) - min(s.keep for s in segments) <= 1
    assert len(plan_segments(window, window, step, False)) == 1
    assert len(plan_segments(window, window, step, True)) == 2  # the dropped first frame needs room


def test_seam_report_tells_a_jump_from_steady_motion():
    frames = np.zeros((12, 4, 4, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(12)[:, None, None] * 2  # steady change of 2/3 per step (one channel)
    frames[6:, :, :, 1] = 90  # a jump into frame 6
    assert frame_changes(frames).shape == (11,)
    report = seam_report(frames, [6])
    assert report["seams"][0] > 20 * report["inside_p95"] and report["within_p95"] == 0
    assert seam_report(frames, [3])["within_p95"] == 1
    # a cut's jump is no in-shot change: with the jump into 6 a cut, steady steps of 2/3 make the p95
    assert seam_report(frames, [3], cuts=[6])["inside_p95"] < 1 < seam_report(frames, [3])["inside_p95"]


# ---- rendering through the engine


ROWS = [
    {"name": "one", "prompt": "a red circle moves left", "seconds": 1.0, "seed": 1},
    {"name": "two", "prompt": "a blue square moves up", "seconds": 1.5, "seed": 2},
    {"name": "three", "prompt": "a blue square grows", "seconds": 1.0, "seed": 3, "transition": "continue"},
    {"name": "four", "prompt": "a green circle shrinks", "seconds": 1.0, "seed": 4},
]


def run_sequence(engine, graph):
    messages: list[str] = []
    result = engine.run(graph, listener=lambda e: getattr(e, "node_id", "") == "sequence"
                        and "rendering" in getattr(e, "message", "") and messages.append(e.message))
    assert result.ok, result.failed
    return result.outputs["preview"]["video"], [int(m.split("/")[0].split()[-1]) for m in messages]


def test_editing_a_shot_re_renders_it_and_what_continues_from_it_only(registry, tiny_ti2v):
    engine = Engine(registry)
    rows = [dict(row) for row in ROWS]
    graph = sequence_graph(registry, tiny_ti2v, rows)
    video, ran = run_sequence(engine, graph)
    assert ran == [1, 2, 3, 4]
    assert video.num_frames == 8 + 12 + 8 + 8  # 8 fps; shot 2 is longer than the 9-frame window: 2 segments
    assert video.generation.sections == tuple((start / 8.0, row["prompt"]) for start, row in
                                              zip((0, 8, 20, 28), ROWS, strict=True))
    assert engine.memo_stats["shot"] == [0, 4]

    rows[1] = {**rows[1], "prompt": "a yellow square moves up"}
    graph.set_param("shots", "shots", rows)
    edited, ran = run_sequence(engine, graph)
    assert ran == [2, 3]  # shot 3 continues from 2; shot 4 is a cut: from the memo, as is shot 1
    assert engine.memo_stats["shot"] == [2, 6]
    before, after = video.frames, edited.frames
    assert np.array_equal(before[:8], after[:8]) and np.array_equal(before[28:], after[28:])
    assert not np.array_equal(before[8:20], after[8:20]) and not np.array_equal(before[20:28], after[20:28])

    # a seed edit of the last shot: that shot alone
    rows[3] = {**rows[3], "seed": 40}
    graph.set_param("shots", "shots", rows)
    assert run_sequence(engine, graph)[1] == [4]
    # a renamed shot renders nothing: the name is a label
    rows[0] = {**rows[0], "name": "opening"}
    graph.set_param("shots", "shots", rows)
    assert run_sequence(engine, graph)[1] == []


def test_a_character_change_re_renders_the_shots_that_show_it(registry, tiny_ti2v, tmp_path):
    from PIL import Image

    picture = tmp_path / "red.png"
    Image.fromarray(np.full((32, 32, 3), (220, 30, 30), np.uint8)).save(picture)
    rows = [{"prompt": "a red circle moves left", "seconds": 1.0, "seed": 1, "character": "a"},
            {"prompt": "a red circle moves up", "seconds": 1.0, "seed": 2, "transition": "continue"},
            {"prompt": "a blue square grows", "seconds": 1.0, "seed": 3}]
    engine = Engine(registry)
    graph = sequence_graph(registry, tiny_ti2v, rows, character=picture)
    video, ran = run_sequence(engine, graph)
    assert ran == [1, 2, 3] and video.generation.reference_image == str(picture)
    plain, _ = run_sequence(Engine(registry), sequence_graph(registry, tiny_ti2v, [
        {k: v for k, v in row.items() if k != "character"} for row in rows]))
    assert not np.array_equal(video.frames[:8], plain.frames[:8])  # the shot starts from the picture
    Image.fromarray(np.full((32, 32, 3), (30, 30, 220), np.uint8)).save(picture)
    assert run_sequence(engine, graph)[1] == [1, 2]


def test_a_model_without_image_to_video_refuses_a_continued_shot_by_name(registry, tiny_wan):
    rows = [{"prompt": "a red circle", "seconds": 1.0}, {"name": "onwards", "prompt": "a red circle",
                                                         "seconds": 1.0, "transition": "continue"}]
    result = Engine(registry).run(sequence_graph(registry, tiny_wan, rows))
    assert not result.ok
    message = result.failed["sequence"]
    assert "shot 2 ('onwards') continues from the previous shot" in message and "image-to-video" in message


# ---- the shipped example on the embedded model


@pytest.mark.slow
def test_the_example_renders_each_shot_in_its_captioned_colour_at_draft(registry, tmp_path):
    from studio.embedded.analysis import analyse
    from studio.engine.engine import draft_copy

    for name in ("shots.studio.json", "character-red-circle.png", "character-blue-square.png"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    graph = load_graph(tmp_path / "shots.studio.json", registry)
    graph.remove_node("export")
    draft, _ = draft_copy(graph, registry)
    result = Engine(registry).run(draft, base_dir=tmp_path)
    assert result.ok, result.failed
    video = result.outputs["preview"]["video"]
    rows = json.loads((EXAMPLES / "shots.studio.json").read_text())["nodes"][3]["params"]["shots"]
    assert len(rows) >= 6 and {row.get("character") for row in rows} >= {"a", "b"}
    starts = [round(start * 16) for start, _ in video.generation.sections] + [video.num_frames]
    assert video.num_frames == sum(round(row["seconds"] * 16) for row in rows)
    colours = [analyse(video.frames[lo:hi]).colour for lo, hi in zip(starts, starts[1:], strict=False)]
    assert colours == [row["prompt"].split()[1] for row in rows]
    # where a shot continues, the seam is no jump: within the change inside the shots
    continued = [start for start, row in zip(starts, rows, strict=False) if row.get("transition") == "continue"]
    # (the p95 of every in-shot change; cuts are no in-shot change)
    cuts = [start for start, row in zip(starts, rows, strict=False) if row.get("transition") != "continue"]
    report = seam_report(video.frames, continued, cuts)
    assert report["within_p95"] == len(continued), report
