"""The timeline's plan of a sequence reads a Shot List's rows by the render's own rules (studio.graph.shotrows):
it draws sections exactly when the render would take the rows, at the lengths the render gives them."""

from __future__ import annotations

import numpy as np
import pytest

from studio.directing import DirectingError
from studio.directing.shots import parse_shots
from studio.ui.timeline.shotplan import sections_from_rows
from studio.values import Picture

GOOD = [
    {"name": " one ", "prompt": " a red circle moves left ", "seconds": 1.0, "seed": 1, "character": "a"},
    {"prompt": "a blue square moves up", "seconds": 1.3},  # unnamed, the Shot List's seed
    {"name": "three", "prompt": "a blue square grows", "seconds": 0.01, "transition": "continue",
     "character": ""},
]
PICTURES = {slot: Picture(np.zeros((8, 8, 3), np.uint8)) for slot in "ab"}


def bad(row: int, **change) -> list[dict]:
    rows = [dict(r) for r in GOOD]
    rows[row].update(change)
    return [{k: v for k, v in r.items() if v is not ...} for r in rows]


# Rows the render refuses although every length is usable: the plan drew them before it read by the same rules.
REFUSED = [
    bad(1, prompt="  "),
    bad(1, prompt=...),
    bad(2, transition="dissolve"),
    bad(0, transition="continue"),  # nothing before the first shot to continue
    bad(0, seconds=500),  # longer than a shot may be
    bad(1, colour="red"),  # a field no shot has
    bad(0, seed=-3),
    bad(0, character="c"),
    bad(0, name=7),
    bad(1, seconds=0),  # the example's bad row: no length
    [dict(GOOD[0])] * 201,  # too many shots
    [],
    "not a list",
]


@pytest.mark.parametrize("rows", REFUSED, ids=range(len(REFUSED)))
def test_no_plan_for_rows_the_render_refuses(rows):
    with pytest.raises(DirectingError):
        parse_shots(rows, 0, PICTURES)
    assert sections_from_rows(rows, 8.0, 0) == []


def test_the_plan_has_the_shots_the_render_makes():
    plan = parse_shots(GOOD, 9, PICTURES)
    sections = sections_from_rows(GOOD, 8.0, 9)
    assert [(s.name, s.prompt, s.frames, s.continues) for s in sections] == [
        (shot.name, shot.prompt, shot.num_frames(8.0), shot.continues) for shot in plan.shots]
    assert [s.start for s in sections] == [0, 8, 18]
    assert [s.take for s in sections] == [(shot.prompt, shot.num_frames(8.0), shot.seed, shot.transition,
                                           shot.character) for shot in plan.shots]


def test_a_row_on_the_shot_lists_seed_has_no_take_while_that_seed_is_unknown():
    sections = sections_from_rows(GOOD, 8.0)
    assert sections[0].take and sections[1].take == () and sections[2].take == ()
    assert [s.frames for s in sections] == [8, 10, 1]


def test_a_character_without_its_picture_still_draws_its_shot():
    """Whether a picture is wired is the graph's problem (Problems names the port); the shot's place is known."""
    assert len(sections_from_rows(bad(1, character="b"), 8.0, 0)) == 3
