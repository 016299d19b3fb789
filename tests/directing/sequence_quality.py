"""A two-character shot list of any length on the embedded model, and how well a render of it keeps the
characters, obeys the captioned motions and hides its "continue" seams (shared by the quality floor test and
``tests/benchmarks/bench_sequence.py --shots50``).

The characters are the shipped example's pictures: the red circle starts at the top left, the blue square at
the bottom right, so each cut moves its character where the picture leaves room (away from the corner, or
grows or shrinks) and the shot continuing it moves it back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.directing.motion import frame_changes
from studio.directing.shots import seam_report

EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "examples" / "shots.studio.json"
CHARACTERS = {"a": ("red", "circle", "black"), "b": ("blue", "square", "gray")}
CUT_MOTIONS = {"a": ("moves right", "moves down", "grows", "shrinks"),
               "b": ("moves left", "moves up", "grows", "shrinks")}
BACK = {"moves right": "moves left", "moves left": "moves right", "moves down": "moves up",
        "moves up": "moves down", "grows": "shrinks", "shrinks": "grows"}


def shot_rows(count: int, seconds: float = 1.0) -> list[dict]:
    """``count`` shots in pairs: a cut from a character's picture, then a shot continuing it back."""
    rows = []
    for index in range(count):
        pair, second = divmod(index, 2)
        slot = "ab"[pair % 2]
        colour, shape, background = CHARACTERS[slot]
        motion = CUT_MOTIONS[slot][(pair // 2) % len(CUT_MOTIONS[slot])]
        if second:
            motion = BACK[motion]
        row = {"name": f"{slot}{pair // 2 + 1}{'-back' if second else ''}",
               "prompt": f"a {colour} {shape} {motion} on a {background} background",
               "seconds": seconds, "seed": 1 + index}
        if second:
            row["transition"] = "continue"
        else:
            row["character"] = slot
        rows.append(row)
    return rows


def caption(prompt: str) -> tuple[str, str, str]:
    """(colour, shape, motion) a prompt of ``shot_rows`` asks for, in ``studio.embedded.analysis`` words."""
    words = prompt.split()
    return words[1], words[2], words[4] if words[3] == "moves" else words[3]


def score(video, rows: list[dict]) -> dict:
    """Per shot: character kept (the captioned colour, and the shape of the character's other shots or the
    caption's),
    motion obeyed; the continue seams against the 95th percentile of the change inside shots.

    The shape is compared across a character's shots, not with the caption: the embedded model draws squares
    as rounded blobs (its card: shape 66% on its own clips), so "the same character" is what a sequence can
    keep; ``caption_shape`` counts the shots whose shape reads as the caption's word, for the record."""
    from collections import Counter

    from studio.embedded.analysis import analyse

    fps = video.fps
    starts = [round(shot.start * fps) for shot in video.generation.shots]
    ends = starts[1:] + [video.num_frames]
    found, slots, slot = [], [], None
    for row, lo, hi in zip(rows, starts, ends, strict=True):
        slot = row.get("character") or (slot if row.get("transition") == "continue" else None)
        slots.append(slot)
        found.append(analyse(np.asarray(video.frames[lo:hi])))
    usual = {s: Counter(f.shape for f, t in zip(found, slots, strict=True) if t == s).most_common(1)[0][0]
             for s in set(slots)}
    kept = obeyed = caption_shape = 0
    misses = []
    for number, (row, seen, who) in enumerate(zip(rows, found, slots, strict=True), 1):
        colour, shape, motion = caption(row["prompt"])
        # the same character: its colour, and its usual shape or the caption's (a crisp square is still it)
        ok = seen.colour == colour and seen.shape in (usual[who], shape)
        kept += ok
        obeyed += seen.motion == motion
        caption_shape += seen.shape == shape
        if not ok or seen.motion != motion:
            misses.append(f"{number}: asked {colour} {shape} {motion}, saw {seen.colour} {seen.shape} {seen.motion}")
    continued = [s for s, row in zip(starts, rows, strict=True) if row.get("transition") == "continue"]
    cuts = [s for s, row in zip(starts, rows, strict=True) if row.get("transition") != "continue"]
    seams = seam_report(np.asarray(video.frames), continued, cuts)
    # the same seams against the change inside the two shots each joins (the motion around it)
    changes = frame_changes(np.asarray(video.frames))
    local = 0
    for k, row in enumerate(rows):
        if row.get("transition") == "continue":
            around = np.r_[changes[starts[k - 1]:starts[k] - 1], changes[starts[k]:ends[k] - 1]]
            local += bool(changes[starts[k] - 1] <= np.percentile(around, 95))
    return {"shots": len(rows), "kept": kept, "obeyed": obeyed, "caption_shape": caption_shape,
            "character_shapes": {s: usual[s] for s in sorted(usual, key=str)}, "continues": len(continued),
            "seams_within": seams["within_p95"], "seams": seams["seams"], "inside_p95": seams["inside_p95"],
            "seams_within_local": local, "seams_within_moving": seams["within_moving_p95"],
            "moving_p95": seams["moving_p95"], "misses": misses}


def sequence_graph(registry, rows: list[dict], steps: int | None = None):
    """The shipped example's graph (embedded model, the two characters) with ``rows`` and no Export."""
    from studio.graph import load_graph

    graph = load_graph(EXAMPLE, registry)
    graph.remove_node("export")
    graph.set_param("shots", "shots", rows)
    graph.set_param("sequence", "preview", False)
    if steps is not None:
        graph.set_param("sequence", "steps", steps)
    return graph


def rendered_rows(events) -> list[int]:
    """The shots (rows) a Generate Sequence run rendered, from the engine's progress events."""
    from studio.directing.shots import parse_shot_message

    rows = []
    for event in events:
        found = parse_shot_message(getattr(event, "message", "") or "")
        if found is not None and found[2].startswith("rendering ("):
            rows.append(found[0])
    return rows
