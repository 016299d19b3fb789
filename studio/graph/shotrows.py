"""The rules a shot list's rows obey: one source for validation (the Problems panel, ``studio validate``, the
check before a render) and for ``studio.directing.shots.parse_shots``, which renders by them.

They live with the document because validation must see them before anything runs, and the graph may import
no room above it; like ``outputs.py`` for output names, they are plain Python. Each problem is the
``DirectingError`` the parser raises, so the editor and a render say the same words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from studio.errors import DirectingError

TRANSITIONS = ("cut", "continue")
CHARACTER_SLOTS = ("a", "b")
SHOT_FIELDS = frozenset({"name", "prompt", "seconds", "seed", "transition", "character"})
MAX_SHOTS = 200
MAX_SHOT_SECONDS = 120.0  # the longest clip; a longer shot is more likely a typo than a wish
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class ShotRow:
    """A row that obeys the rules, its cells read as a render reads them (``row`` is 1-based)."""

    row: int
    name: str
    prompt: str
    seconds: float
    seed: int
    transition: str
    character: str | None


@dataclass(frozen=True)
class RowProblem:
    """Why row ``row`` (1-based; None: the list as a whole) cannot render."""

    row: int | None
    error: DirectingError
    field: str | None = None  # the shot's field that is wrong ("seconds", "prompt", ...), so a view can show it


def list_problem(rows: Any) -> DirectingError | None:
    """What is wrong with the list as a whole (not a list, empty, too long), or None."""
    if not isinstance(rows, list):
        return DirectingError('a shot list must be a list of shots like [{"prompt": "...", "seconds": 2}]')
    if not rows:
        return DirectingError("the shot list is empty", hint="add a row with a prompt and a length in seconds")
    if len(rows) > MAX_SHOTS:
        return DirectingError(f"the shot list has {len(rows)} shots; at most {MAX_SHOTS} are allowed",
                              hint="split the sequence into several Shot List nodes")
    return None


def _about(field: str, error: DirectingError) -> DirectingError:
    """``error``, marked as being about the shot's ``field`` (a table view selects that cell)."""
    error.field = field  # type: ignore[attr-defined]
    return error


def check_row(row: int, item: Any, default_seed: int, slots: Iterable[str]) -> tuple[ShotRow | None, list[DirectingError]]:
    """Row ``row`` read (None when it has problems) and its problems, each naming the row and its name and
    saying what to change. ``slots``: the character slots that have a picture connected."""
    where = f"shot {row}"
    if not isinstance(item, dict):
        return None, [DirectingError(f"{where} must be an object with 'prompt' and 'seconds'")]
    found: list[DirectingError] = []
    name = item.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        name = f"shot {row}"
    if not isinstance(name, str):
        found.append(_about("name", DirectingError(f"{where}: 'name' must be text (got {name!r})")))
        name = f"shot {row}"
    name = name.strip()
    where = f"shot {row} ('{name}')"
    unknown = sorted(set(item) - SHOT_FIELDS)
    if unknown:
        found.append(DirectingError(f"{where} has unknown field(s) {', '.join(unknown)}",
                                    hint=f"a shot takes {', '.join(sorted(SHOT_FIELDS))}"))
    prompt = item.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        found.append(_about("prompt", DirectingError(f"{where} needs a prompt", hint="say what the shot shows")))
    seconds = item.get("seconds")
    if (isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds)
            or seconds <= 0 or seconds > MAX_SHOT_SECONDS):
        found.append(_about("seconds", DirectingError(
            f"{where} needs a length in 'seconds' above 0 and up to {MAX_SHOT_SECONDS:g} (got {seconds!r})",
            hint=_LONG_HINT if _is_long(seconds) else None)))
    seed = item.get("seed")
    if seed is None:
        seed = default_seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        found.append(_about("seed", DirectingError(f"{where}: 'seed' must be a whole number, 0 or more (got {seed!r})",
                                                   hint="leave it empty to use the Shot List's seed")))
    transition = item.get("transition") or "cut"
    if transition not in TRANSITIONS:
        found.append(_about("transition", DirectingError(
            f"{where}: 'transition' must be cut or continue (got {transition!r})", hint="empty means cut")))
    elif transition == "continue" and row == 1:
        found.append(_about("transition", DirectingError(f"{where} continues, but no shot comes before it",
                                                         hint="make the first shot a cut")))
    character = item.get("character") or None
    if character is not None:
        if character not in CHARACTER_SLOTS:
            found.append(_about("character", DirectingError(
                f"{where}: 'character' must be one of {', '.join(CHARACTER_SLOTS)} or empty (got {character!r})")))
        elif character not in set(slots):
            found.append(_about("character", DirectingError(
                f"{where} shows character '{character}', but no picture is connected to 'character_{character}'",
                port=f"character_{character}", hint="connect a Reference Image, or clear the shot's character")))
    if found:
        return None, found
    return ShotRow(row=row, name=name, prompt=prompt.strip(), seconds=float(seconds), seed=int(seed),
                   transition=transition, character=character), []


_LONG_HINT = "split it into several shots, the later ones continuing"


def _is_long(seconds: Any) -> bool:
    return isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > MAX_SHOT_SECONDS


def shot_list_problems(rows: Any, slots: Iterable[str]) -> list[RowProblem]:
    """Every problem of a shot list, row by row (a render stops at the first of them)."""
    whole = list_problem(rows)
    if whole is not None:
        return [RowProblem(None, whole)]
    slots = frozenset(slots)
    return [RowProblem(index, error, getattr(error, "field", None)) for index, item in enumerate(rows, start=1)
            for error in check_row(index, item, 0, slots)[1]]
