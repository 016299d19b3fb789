"""Shot planning: a shot list parsed from its table rows, the chained segments of each shot, seam measures.

It plans; ``studio.runtime.recipes.sequence`` renders a shot on a model and ``nodes/sequence.py`` keys each
shot in the engine's memo. Numpy only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.directing import DirectingError
from studio.directing.motion import HELD_CHANGE, frame_changes
from studio.graph.shotrows import CHARACTER_SLOTS, ShotRow, check_row, list_problem
from studio.values import Picture


@dataclass(frozen=True)
class Shot:
    """One row of a shot list. ``row`` is 1-based, as the inspector's table numbers it."""

    row: int
    name: str
    prompt: str
    seconds: float
    seed: int
    transition: str = "cut"  # cut | continue (from the previous shot's last frame)
    character: str | None = None  # a character slot ("a", "b") whose picture the shot starts from

    @classmethod
    def from_row(cls, row: ShotRow) -> Shot:
        """The shot a row that obeys the rules (``studio.graph.shotrows.check_row``) describes."""
        return cls(row.row, row.name, row.prompt, row.seconds, row.seed, row.transition, row.character)

    @property
    def label(self) -> str:
        return f"shot {self.row} ('{self.name}')"

    @property
    def continues(self) -> bool:
        return self.transition == "continue"

    def num_frames(self, fps: float) -> int:
        """Frames of this shot's own (a continued shot's first frame is the previous shot's last: not counted)."""
        return max(1, int(round(self.seconds * fps)))


@dataclass(frozen=True, eq=False)
class Character:
    """A character slot's picture, with a digest of what a render reads from it (pixels, fit, use)."""

    slot: str
    picture: Picture
    digest: str


@dataclass(frozen=True, eq=False)
class ShotPlan:
    """What a Shot List says: the shots in order and the characters' pictures (what a SHOTS port carries)."""

    shots: tuple[Shot, ...]
    characters: tuple[Character, ...] = ()

    def character(self, slot: str | None) -> Character | None:
        return next((c for c in self.characters if c.slot == slot), None)

    def starts(self, fps: float) -> list[int]:
        """The first frame of each shot in the joined clip."""
        starts, at = [], 0
        for shot in self.shots:
            starts.append(at)
            at += shot.num_frames(fps)
        return starts

    def num_frames(self, fps: float) -> int:
        return sum(shot.num_frames(fps) for shot in self.shots)

    @property
    def nbytes(self) -> int:
        return sum(c.picture.nbytes for c in self.characters)


@dataclass(frozen=True)
class ShotSegment:
    """One model call of a shot: render ``frames`` frames (a valid length), keep ``keep`` from ``keep_from``."""

    frames: int
    keep_from: int
    keep: int


def character_digest(picture: Picture) -> str:
    """What a render depends on in a picture: its pixels, shape and how it is fitted and used."""
    pixels = np.ascontiguousarray(picture.pixels)
    h = hashlib.sha256(pixels.tobytes())
    h.update(f"|{pixels.dtype.str}|{pixels.shape}|{picture.fit}|{picture.role}".encode())
    return h.hexdigest()


def parse_shots(rows: Any, default_seed: int = 0, characters: dict[str, Picture | None] | None = None) -> ShotPlan:
    """A ShotPlan from table rows like [{"name": "open", "prompt": "...", "seconds": 1.5, "seed": 3,
    "transition": "cut", "character": "a"}]. The first problem (by ``studio.graph.shotrows``' rules, which
    validation reports all of before a render) is a DirectingError naming the row and what to change."""
    whole = list_problem(rows)
    if whole is not None:
        raise whole
    pictures = {slot: pic for slot, pic in (characters or {}).items() if pic is not None}
    shots = []
    for index, item in enumerate(rows, start=1):
        row, problems = check_row(index, item, default_seed, pictures)
        if problems:
            raise problems[0]
        shots.append(Shot.from_row(row))
    used = {shot.character for shot in shots if shot.character}
    kept = tuple(Character(slot, pictures[slot], character_digest(pictures[slot]))
                 for slot in CHARACTER_SLOTS if slot in used)
    return ShotPlan(tuple(shots), kept)


def plan_segments(num_frames: int, window: int, step: int, continues: bool) -> list[ShotSegment]:
    """The model calls that make a shot of ``num_frames`` new frames, each at most ``window`` frames long.

    A segment after the first (and the first of a continued shot) starts on the frame before it, which it
    renders again and drops. Segments share the shot evenly (a last short segment would crowd the motion
    the model draws over a whole window into a few frames); lengths are step*k + 1, the end is trimmed.
    """
    if num_frames < 1:
        raise DirectingError(f"a shot needs at least one frame (got {num_frames})")
    if window < step + 1 or (window - 1) % step:
        raise DirectingError(f"the model's window of {window} frames is not {step}k+1")
    fresh_first = window if not continues else window - 1
    if num_frames <= fresh_first:
        count = 1
    else:
        count = 1 + math.ceil((num_frames - fresh_first) / (window - 1))
    base, extra = divmod(num_frames, count)
    segments = []
    for k in range(count):
        keep = base + (1 if k < extra else 0)
        keep_from = 0 if k == 0 and not continues else 1
        need = keep + keep_from
        frames = max(step + 1, step * math.ceil((need - 1) / step) + 1)
        if frames > window:  # the first of a cut keeps a whole window while the others keep one less
            raise DirectingError(f"internal: segment of {frames} frames exceeds the window of {window}")
        segments.append(ShotSegment(frames, keep_from, keep))
    return segments


def seam_report(frames: np.ndarray, seams: list[int], cuts: list[int] = ()) -> dict[str, Any]:
    """Change across each seam (the step into frame ``s``) against the 95th percentile of the steps inside
    shots: every step except the seams and the ``cuts`` (the first frames of shots that start afresh, whose
    jump is no in-shot change)."""
    changes = frame_changes(frames)
    at = sorted({s - 1 for s in seams if 0 < s < len(frames)})
    boundaries = sorted({s - 1 for s in [*seams, *cuts] if 0 < s < len(frames)})
    inside = np.delete(changes, boundaries) if len(changes) else changes
    p95 = float(np.percentile(inside, 95)) if inside.size else 0.0
    # The steps where the picture moves: a video VAE that decodes a latent frame as several equal frames (the
    # embedded model's did, before its decoder's time layers were trained) makes most in-shot changes 0, which pulls the p95 of all of them
    # below the motion steps themselves, while a seam is one such step.
    moving = inside[inside > HELD_CHANGE]
    moving_p95 = float(np.percentile(moving, 95)) if moving.size else 0.0
    seam_values = [float(changes[i]) for i in at]
    return {"seams": seam_values, "inside_p95": p95, "inside_median": float(np.median(inside)) if inside.size else 0.0,
            "within_p95": sum(v <= p95 for v in seam_values), "moving_p95": moving_p95,
            "within_moving_p95": sum(v <= moving_p95 for v in seam_values)}


def parse_selection(text: str, count: int) -> frozenset[int] | None:
    """The shots (1-based rows) a text like "3,7" or "2-4, 9" picks; None for empty text (every shot).
    A row past the list or a malformed item is a DirectingError saying which."""
    text = (text or "").strip()
    if not text:
        return None
    rows: set[int] = set()
    for item in text.replace(" ", "").split(","):
        lo, _, hi = item.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise DirectingError(f"'{item}' is not a shot number or range (in '{text}')",
                                 hint="write shot numbers as the table numbers its rows: 3,7 or 2-4") from None
        if not 1 <= first <= last:
            raise DirectingError(f"'{item}' is not a shot number or range (in '{text}')",
                                 hint="shots count from 1; a range goes up: 2-4")
        if last > count:
            raise DirectingError(f"there is no shot {last}: the shot list has {count} shot(s)",
                                 hint=f"pick shots between 1 and {count}")
        rows.update(range(first, last + 1))
    return frozenset(rows)


def last_parts_of(last: dict[int, dict[str, Any]], row: int, name: str) -> tuple[int | None, dict[str, Any] | None]:
    """(row, key parts) a shot last rendered with: the row that had its name (shots move: comparing with the
    shot that was at its row before said "prompt changed, seed changed" of a shot nobody edited), the nearest
    when two had it; else the shot at its own row; (None, None) when neither rendered."""
    named = [r for r, parts in last.items() if isinstance(parts, dict) and parts.get("name") == name]
    if named:
        found = min(named, key=lambda r: abs(r - row))
        return found, last[found]
    return (row, last[row]) if row in last else (None, None)


def explain_shot(old: dict[str, Any] | None, new: dict[str, Any], previous_ran: bool,
                 moved_from: int | None = None, row: int | None = None) -> str:
    """Why a shot renders again, in the engine's words for nodes: what changed since it last rendered.

    ``old`` and ``new`` are the shot's key parts (prompt, frames, seed, transition, character, previous,
    settings, model; a "name" in them is a label, not compared); ``previous_ran``: the shot it continues from
    rendered again in this run; ``moved_from``: the row it had then, when the shots moved since (``row``: now)."""
    if old is None:
        return "first run"
    old = {k: v for k, v in old.items() if k != "name"}
    new = {k: v for k, v in new.items() if k != "name"}
    if old == new:
        return "its frames are no longer kept (evicted from the shot store to stay within its size, or dropped " \
               "as damaged)"
    reasons = []
    words = {"prompt": "prompt", "frames": "length (frames)", "seed": "seed", "transition": "transition"}
    for name, label in words.items():
        if old.get(name) != new.get(name):
            reasons.append(f"{label} changed ({_brief(old.get(name))} -> {_brief(new.get(name))})")
    if old.get("character") != new.get("character"):
        reasons.append("its character's picture changed")
    if old.get("model") != new.get("model"):
        reasons.append("the model changed")
    settings_old, settings_new = old.get("settings") or {}, new.get("settings") or {}
    for name in sorted(set(settings_old) | set(settings_new)):
        if settings_old.get(name) != settings_new.get(name):
            reasons.append(f"parameter '{name}' changed ({_brief(settings_old.get(name))} -> "
                           f"{_brief(settings_new.get(name))})")
    if old.get("previous") != new.get("previous") and new.get("transition") == "continue" and not reasons:
        if new.get("previous") == DETACHED:
            reasons.append("it continues a shot that is not in this render: it starts afresh")
        elif moved_from is not None and row is not None and moved_from != row:
            reasons.append(f"it moved from row {moved_from} to row {row}: it continues another shot now")
        elif previous_ran:
            reasons.append("it continues the shot before it, which rendered again")
        else:
            reasons.append("the shot it continues from changed")
    return "; ".join(reasons) or "its inputs changed"


DETACHED = "detached"  # the "previous" key part of a continue shot whose previous shot is not in the render


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def shot_message(index: int, count: int, name: str, text: str) -> str:
    """A sequence's progress message about shot ``index`` (1-based) of ``count``: "shot 3/6 'lift': ..."."""
    return f"shot {index}/{count} '{name}': {text}"


def parse_shot_message(message: str) -> tuple[int, int, str] | None:
    """(index, count, text) of a ``shot_message``, or None for another message."""
    head, sep, text = (message or "").partition(": ")
    parts = head.split(" ", 2)
    if not sep or len(parts) < 2 or parts[0] != "shot" or "/" not in parts[1]:
        return None
    index, _, count = parts[1].partition("/")
    if not (index.isdigit() and count.isdigit()):
        return None
    return int(index), int(count), text
