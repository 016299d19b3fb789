"""A sequence's shots on the timeline: sections from a Shot List's rows or a clip's record, and where each
step's preview of a sequence render lands in the joined clip. Plain Python, no Qt (tested on its own)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from studio.directing.shots import Shot
from studio.graph.shotrows import CHARACTER_SLOTS, check_row, list_problem
from studio.values import ShotRecord


@dataclass(frozen=True)
class ShotSection:
    """One shot as a span of the timeline's clip: frames [start, start + frames)."""

    start: int
    frames: int
    name: str
    prompt: str = ""
    continues: bool = False  # starts on the previous shot's last frame (its own frames exclude that one)
    # What the shot's frames depend on within the Shot List: (prompt, frames, seed, transition, character), or
    # () when unknown. Two sections with the same take render the same frames under the same settings (the
    # name is only a label): a re-render shows such a shot from the clip before at once (SequenceFeed).
    take: tuple = ()

    @property
    def end(self) -> int:
        return self.start + self.frames


def sections_from_rows(rows: Any, fps: float, default_seed: int | None = None) -> list[ShotSection]:
    """The sections a Shot List's rows will make at ``fps`` (the lengths the render will give them), or []
    when a row breaks the rules the render reads rows by (``studio.graph.shotrows``: the render would refuse
    the list, and Problems says what is wrong; the timeline draws no plan). With the Shot List's
    ``default_seed`` (the seed of rows without one) each section knows its take."""
    if list_problem(rows) is not None or not fps > 0:
        return []
    sections, at = [], 0
    for index, item in enumerate(rows, start=1):
        # Every slot counts as connected: whether a character's picture is wired is the graph's problem
        # (Problems names it), not a reason to draw the row's shot elsewhere or not at all.
        row, problems = check_row(index, item, default_seed if _is_seed(default_seed) else 0, CHARACTER_SLOTS)
        if row is None or problems:
            return []
        shot = Shot.from_row(row)
        frames = shot.num_frames(fps)  # as the render counts them
        # without the Shot List's seed, a row that takes it has no known take
        known = item.get("seed") is not None or _is_seed(default_seed)
        take = (row.prompt, frames, row.seed, row.transition, row.character) if known else ()
        sections.append(ShotSection(at, frames, row.name, row.prompt, shot.continues, take))
        at += frames
    return sections


def _is_seed(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def sections_from_record(shots: tuple[ShotRecord, ...], fps: float, count: int) -> list[ShotSection]:
    """The sections of a rendered sequence, from its clip's generation record (``count`` frames in all)."""
    starts = [min(count, max(0, round(s.start * fps))) for s in shots]
    ends = starts[1:] + [count]
    return [ShotSection(a, max(0, b - a), s.name, s.prompt, s.transition == "continue",
                        (s.prompt, max(0, b - a), s.seed, s.transition, s.character) if s.seed is not None else ())
            for a, b, s in zip(starts, ends, shots, strict=True)]


def kept_shots(before: list[ShotSection], now: list[ShotSection]) -> dict[int, int]:
    """Which sections of a new plan will render the same frames as a section of the clip before (same take,
    and for a shot that continues, continuing the same kept shot): {index now: index before}. The settings
    and everything upstream are the caller's to compare; a shot that renders after all overwrites its frames."""
    found: dict[int, int] = {}
    used: set[int] = set()
    for i, shot in enumerate(now):
        if not shot.take:
            continue
        candidates = [j for j, old in enumerate(before) if old.take == shot.take and j not in used
                      and (not shot.continues or (found.get(i - 1) == j - 1))]
        if candidates:
            j = min(candidates, key=lambda j: (before[j].name != shot.name, abs(j - i)))
            found[i] = j
            used.add(j)
    return found


def _row_key(rows: list, row: int) -> tuple[str, str] | None:
    item = rows[row] if 0 <= row < len(rows) else None
    if not isinstance(item, dict):
        return None
    name, prompt = item.get("name"), item.get("prompt")
    name = name.strip() if isinstance(name, str) and name.strip() else f"shot {row + 1}"
    return name, prompt.strip() if isinstance(prompt, str) else ""


def section_of_row(rows: Any, sections: list[ShotSection], row: int) -> int | None:
    """The section that shows the Shot List's row ``row``: the rendered shot with its name and prompt (rows
    move after a render; the clip's sections stay where they were made), else with its name; None when the
    row is not in the clip (added or renamed since)."""
    key = _row_key(rows, row) if isinstance(rows, list) else None
    if key is None:
        return None
    for match in ((lambda s: (s.name, s.prompt) == key), (lambda s: s.name == key[0])):
        found = [i for i, s in enumerate(sections) if match(s)]
        if found:
            return min(found, key=lambda i: abs(i - row))  # the same name twice: the nearer one
    return None


def row_of_section(rows: Any, sections: list[ShotSection], index: int) -> int:
    """The Shot List's row that the section ``index`` shows (by its name and prompt, as above); the section's
    own index when no row matches."""
    if not isinstance(rows, list) or not 0 <= index < len(sections):
        return index
    shot = sections[index]
    for match in ((lambda k: k == (shot.name, shot.prompt)), (lambda k: k is not None and k[0] == shot.name)):
        found = [r for r in range(len(rows)) if match(_row_key(rows, r))]
        if found:
            return min(found, key=lambda r: abs(r - index))
    return index


# What Generate Sequence says in its progress messages: "shot 2/6 'descent': step 3/6", "...: rendering (why)",
# "...: unchanged, from the memo". The events carry no structured shot index (see the report for a diff).
MESSAGE = re.compile(r"^shot (\d+)/(\d+) '(.*)': (?:(rendering)|step (\d+)/(\d+)|(unchanged))")


@dataclass(frozen=True)
class ShotUpdate:
    """What one progress event of a sequence render says: which shot, what happens, and for a step with a
    preview, which of its frames to keep (``frames[keep_from:keep_from + keep]``) and where they go."""

    shot: int  # 0-based
    kind: str  # rendering | step | unchanged
    start: int = 0  # frame of the joined clip where the kept frames go
    keep_from: int = 0
    keep: int = 0
    step: int = 0  # the step within its segment, and the segment's steps
    steps: int = 0


@dataclass
class ShotFeed:
    """Follows a sequence render's progress events and places each segment's preview inside its shot.

    A long shot renders in segments (``studio.directing.shots.plan_segments``): the message says the step within
    the segment, the event's step counts over the whole sequence, so the segment is (global step - the shot's
    first step - step) // steps. How a shot splits into segments depends only on its length and on how many
    segments it has, and the event's total (steps x all segments) says how many there are in all: the one
    model window that gives that many segments gives each shot's split, so each kept frame lands where the
    final clip will have it."""

    sections: list[ShotSection]
    _first_step: dict[int, int] = field(default_factory=dict)
    _plans: list[list[tuple[int, int]]] | None = None  # per shot, per segment: (keep_from, keep)

    def read(self, step: int, message: str, length: int | None = None, total: int = 0) -> ShotUpdate | None:
        found = MESSAGE.match(message or "")
        if found is None:
            return None
        shot, count = int(found.group(1)) - 1, int(found.group(2))
        if count != len(self.sections) or not 0 <= shot < count or found.group(3) != self.sections[shot].name:
            return None  # not the plan drawn (a queued render of the graph as it was): the final clip will say
        if found.group(4):
            self._first_step[shot] = step
            return ShotUpdate(shot, "rendering")
        if found.group(7):
            return ShotUpdate(shot, "unchanged")
        s, n = int(found.group(5)), int(found.group(6))
        first = self._first_step.setdefault(shot, step - s)  # its "rendering" event may have merged away
        segment = max(0, (step - first - s) // n) if n > 0 else 0
        if not length:
            return ShotUpdate(shot, "step", step=s, steps=n)
        if self._plans is None:
            self._plans = self._split(total, n)
        section = self.sections[shot]
        plan = self._plans[shot] if self._plans else []
        if segment < len(plan):
            keep_from, keep = plan[segment]
        else:  # no window explains the total (another node's steps?): each segment keeps what it renders
            keep_from, keep = (0 if segment == 0 and not section.continues else 1), length
            plan = [(keep_from, length - keep_from)] * segment
        start = section.start + sum(k for _f, k in plan[:segment])
        return ShotUpdate(shot, "step", start, keep_from, max(0, min(keep, length - keep_from)), s, n)

    def _split(self, total: int, steps: int) -> list[list[tuple[int, int]]]:
        """Each shot's segments as (keep_from, keep), for the window that makes total / steps segments."""
        from studio.directing.shots import plan_segments

        if steps <= 0 or total <= 0 or total % steps:
            return []
        want = total // steps
        lo, hi = 2, max(s.frames for s in self.sections) + 1
        while lo <= hi:  # fewer segments as the window grows: a binary search
            window = (lo + hi) // 2
            have = sum(_segment_count(s.frames, window, s.continues) for s in self.sections)
            if have == want:
                # frame step 1: the split (what each segment keeps) does not depend on the model's frame step
                return [[(g.keep_from, g.keep) for g in plan_segments(s.frames, window, 1, s.continues)]
                        for s in self.sections]
            lo, hi = (window + 1, hi) if have > want else (lo, window - 1)
        return []


def _segment_count(frames: int, window: int, continues: bool) -> int:
    """How many segments ``plan_segments`` makes of a shot (its count, without building them)."""
    fresh = window - 1 if continues else window
    return 1 if frames <= fresh else 1 + math.ceil((frames - fresh) / (window - 1))
