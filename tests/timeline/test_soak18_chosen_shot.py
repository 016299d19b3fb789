"""The shot of the Shot List's selected row stays outlined when a render changes the sections (found on a real
display, soak of issue 18: a shot added and selected had no outline once rendered; after rows moved, the outline
stayed on the index, another shot)."""

from __future__ import annotations

from studio.values import Generation, ShotRecord, Video
from tests.timeline.conftest import clip, settle


def rows(names: list[str]) -> list[dict]:
    return [{"name": n, "prompt": f"prompt {n}", "seconds": 1.0} for n in names]


def rendered(docks, names: list[str]) -> None:
    """A finished render of the shots ``names``, 12 frames each at 12 fps."""
    records = tuple(ShotRecord(n, float(i), f"prompt {n}") for i, n in enumerate(names))
    video = Video(clip(12 * len(names)), 12.0, Generation(shots=records))
    docks.live.show_video(video)
    docks.take_outputs({"gen": {"video": video}})
    settle()


def test_the_selected_rows_shot_is_outlined_again_after_a_render(docks):
    from nodes.sequence import shot_list

    session = docks.session
    session.registry.register(shot_list)
    session.edit("add", lambda g: g.add_node(shot_list, "shots", params={"shots": rows(["a", "b", "c"])}))
    rendered(docks, ["a", "b", "c"])
    session.set_param("shots", "shots", rows(["a", "b", "c", "d"]))  # a shot added and selected
    docks.choose_shot_row("shots", "shots", 3)
    assert docks.model.chosen_shot is None  # not rendered yet: no section
    rendered(docks, ["a", "b", "c", "d"])
    assert docks.model.chosen_shot == 3  # its section now

    session.set_param("shots", "shots", rows(["d", "a", "b", "c"]))  # 'd' moved first, still selected
    docks.choose_shot_row("shots", "shots", 0)
    assert docks.model.chosen_shot == 3  # where the clip has it
    rendered(docks, ["d", "a", "b", "c"])
    assert docks.model.chosen_shot == 0  # and after the render, where the new clip has it
    docks.forget_render()
    assert docks.model.chosen_shot is None
