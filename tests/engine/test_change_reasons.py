"""Why a node runs again names the part of a parameter that changed, not the first characters of the whole
value (a shot list's reason was cut before the shot that changed)."""

from __future__ import annotations

from studio.engine.engine import describe_change


def test_a_short_value_is_shown_whole() -> None:
    assert describe_change(1, 7) == "1 -> 7"
    assert describe_change("red", "blue") == "'red' -> 'blue'"


def test_one_changed_row_of_a_table_is_named_with_its_field() -> None:
    shots = [{"prompt": f"a red circle moves left, shot {i}", "seconds": 2.0, "seed": i} for i in range(10)]
    edited = [dict(s) for s in shots]
    edited[6]["prompt"] = "a blue square grows, shot 6"
    assert describe_change(shots, edited) == (
        "row 7 prompt: 'a red circle moves left, s... -> 'a blue square grows, shot 6'")
    edited[6] = dict(shots[6], seconds=4.0)
    assert describe_change(shots, edited) == "row 7 seconds: 2.0 -> 4.0"


def test_rows_added_or_several_changed_say_so_without_cutting_the_difference_off() -> None:
    shots = [{"prompt": "x" * 40, "seed": i} for i in range(3)]
    assert describe_change(shots, [*shots, {"prompt": "y", "seed": 3}]) == "3 -> 4 rows"
    both = [dict(s, seed=s["seed"] + 10) for s in shots]
    text = describe_change(shots, both)
    assert "..." in text and "seed" in text  # the whole table, shown where it first differs
    long_old, long_new = "a" * 50 + "left", "a" * 50 + "right"
    text = describe_change(long_old, long_new)
    assert "left" in text and "right" in text and len(text) < 80


def test_rows_moved_say_which_rows_were_reordered() -> None:
    shots = [{"name": n, "prompt": f"a red circle, {n}", "seed": i} for i, n in enumerate("abcdef")]
    moved = shots[:2] + [shots[4], shots[2], shots[3]] + shots[5:]  # row 5 moved up to row 3
    assert describe_change(shots, moved) == "rows 3-5 reordered"
