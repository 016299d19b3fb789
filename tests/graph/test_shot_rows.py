"""A shot list's bad rows are problems before Render: validation names the node, the row and its name and what
to do, by the same rules (and in the same words) that a render of the Shot List raises."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.directing import DirectingError
from studio.directing.shots import parse_shots
from studio.graph import NodeRegistry, load_graph, validate
from studio.values import Picture

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
PICTURE = Picture(np.full((8, 8, 3), 200, np.uint8), source="red.png")


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


@pytest.fixture
def example(tmp_path, registry):
    path = tmp_path / "shots.studio.json"
    shutil.copy(EXAMPLES / "shots.studio.json", path)
    for png in EXAMPLES.glob("character-*.png"):
        shutil.copy(png, tmp_path / png.name)
    return load_graph(path, registry)


def with_row(graph, row: int, **change):
    rows = copy.deepcopy(graph.nodes["shots"].params["shots"])
    rows[row - 1].update(change)
    graph.nodes["shots"].params["shots"] = rows
    return rows


def row_problems(graph, registry):
    return [p for p in validate(graph, registry) if p.kind == "bad_row"]


def test_the_example_has_no_row_problems(example, registry):
    assert validate(example, registry) == []


@pytest.mark.parametrize("row, change, words", [
    (2, {"prompt": "   "}, "shot 2 ('descent') needs a prompt (say what the shot shows)"),
    (3, {"seconds": 0}, "shot 3 ('enter') needs a length in 'seconds' above 0 and up to 120 (got 0)"),
    (3, {"seconds": -1.5}, "(got -1.5)"),
    (4, {"seconds": 500}, "up to 120 (got 500) (split it into several shots"),
    (4, {"seconds": "2"}, "shot 4 ('lift') needs a length"),
    (5, {"character": "c"}, "shot 5 ('close-up'): 'character' must be one of a, b or empty (got 'c')"),
    (1, {"transition": "continue"}, "shot 1 ('opening') continues, but no shot comes before it (make the first"),
    (2, {"transition": "dissolve"}, "'transition' must be cut or continue (got 'dissolve')"),
    (2, {"seed": -3}, "shot 2 ('descent'): 'seed' must be a whole number"),
    (2, {"camera": "orbit"}, "shot 2 ('descent') has unknown field(s) camera (a shot takes character, name"),
    (2, {"name": 7}, "shot 2: 'name' must be text (got 7)"),
])
def test_a_bad_row_is_a_problem_in_the_words_a_render_raises(example, registry, row, change, words):
    rows = with_row(example, row, **change)
    problems = row_problems(example, registry)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert (problem.node_id, problem.where, problem.row) == ("shots", "parameter 'shots'", row)
    assert words in problem.message
    assert str(problem).startswith("node 'shots', parameter 'shots': shot ")
    # The render: the Shot List node parses the same rows and stops at the same problem.
    with pytest.raises(DirectingError) as caught:
        parse_shots(rows, 0, {"a": PICTURE, "b": PICTURE})
    assert str(caught.value) == problem.message


def test_every_bad_row_is_reported_at_once(example, registry):
    with_row(example, 2, prompt="")
    with_row(example, 4, seconds=0, seed=-1)
    problems = row_problems(example, registry)
    assert [p.row for p in problems] == [2, 4, 4]
    assert "shot 2 ('descent') needs a prompt" in problems[0].message
    assert "shot 4 ('lift') needs a length" in problems[1].message
    assert "shot 4 ('lift'): 'seed' must be a whole number" in problems[2].message


def test_a_character_needs_its_picture_connected(example, registry):
    link = next(lk for lk in example.links if lk.dst == "shots" and lk.dst_port == "character_b")
    example.disconnect(link)
    problems = row_problems(example, registry)
    assert [(p.row, p.message.split(" but ")[0]) for p in problems] == [
        (3, "shot 3 ('enter') shows character 'b',"), (6, "shot 6 ('farewell') shows character 'b',")]
    assert "connect a Reference Image, or clear the shot's character" in problems[0].message
    with pytest.raises(DirectingError) as caught:  # what the render said, with the picture missing
        parse_shots(example.nodes["shots"].params["shots"], 0, {"a": PICTURE, "b": None})
    assert caught.value.port == "character_b" and str(caught.value) == problems[0].message


@pytest.mark.parametrize("value, words", [
    ([], "the shot list is empty (add a row"),
    ([{"prompt": "x", "seconds": 1}] * 201, "the shot list has 201 shots; at most 200"),
])
def test_the_list_as_a_whole(example, registry, value, words):
    example.nodes["shots"].params["shots"] = value
    problems = row_problems(example, registry)
    assert [(p.row, words in p.message) for p in problems] == [(None, True)]


def test_a_value_that_is_not_a_table_is_reported_once(example, registry):
    example.nodes["shots"].params["shots"] = "a red circle"
    problems = [p for p in validate(example, registry) if p.node_id == "shots"]
    assert [p.kind for p in problems] == ["bad_value"]


def test_duplicate_names_render_and_are_no_problem(example, registry):
    # A name labels a shot (progress, "why it ran again"); rows, not names, pick and key shots.
    rows = with_row(example, 3, name="opening")
    assert row_problems(example, registry) == []
    assert [s.name for s in parse_shots(rows, 0, {"a": PICTURE, "b": PICTURE}).shots][:3] == [
        "opening", "descent", "opening"]


def test_each_row_problem_names_the_field_to_change() -> None:
    from studio.graph.shotrows import shot_list_problems

    rows = [{"name": "a", "prompt": "x", "seconds": 1, "transition": "continue"},
            {"name": "b", "prompt": " ", "seconds": 1},
            {"name": "c", "prompt": "x", "seconds": 0},
            {"name": "d", "prompt": "x", "seconds": 1, "seed": -1},
            {"name": "e", "prompt": "x", "seconds": 1, "transition": "wipe"},
            {"name": "f", "prompt": "x", "seconds": 1, "character": "b"}]
    found = {(p.row, p.field) for p in shot_list_problems(rows, slots=["a"])}
    assert found == {(1, "transition"), (2, "prompt"), (3, "seconds"), (4, "seed"), (5, "transition"),
                     (6, "character")}
