"""The hidden partial files an export writes beside its destination, and sweeping up the ones a killed export left.

An export writes ``.NAME.RANDOM.PID.part.EXT`` (and, while signing, ``.NAME.RANDOM.PID.unsigned.EXT``) in the
destination's folder and renames the finished file over ``NAME``. A process that is killed midway cannot
remove its part file; the next export to that folder does, when the process that wrote it is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from pathlib import Path

STALE_AFTER_S = 3600.0  # a part file without a writer's PID is taken as abandoned after an hour
KINDS = ("part", "unsigned")
EXTENSIONS = ("mp4", "mkv", "webm")
# tempfile.mkstemp's random part is 8 characters of [a-z0-9_]; the PID is recorded since this version.
_PATTERN = re.compile(
    r"^\.(?P<name>.+)\.[a-z0-9_]{8}(?:\.(?P<pid>\d{1,10}))?\.(?:"
    + "|".join(KINDS)
    + r")\.(?:"
    + "|".join(EXTENSIONS)
    + r")$"
)


def part_suffix(kind: str, extension: str) -> str:
    """The suffix for ``tempfile.mkstemp(prefix=".NAME.", suffix=...)`` that marks a part file as ours."""
    if kind not in KINDS:
        raise ValueError(f"unknown part kind {kind!r}")
    return f".{os.getpid()}.{kind}{extension}"


def parse(name: str) -> tuple[str, int | None] | None:
    """(destination name, writer's PID or None) for one of our part files' names, else None."""
    match = _PATTERN.match(name)
    if match is None:
        return None
    pid = match.group("pid")
    return match.group("name"), int(pid) if pid is not None else None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


def stale_parts(
    folder: str | Path, *, max_age: float = STALE_AFTER_S, now: float | None = None
) -> list[Path]:
    """Our part files in ``folder`` that nobody is writing: their PID is gone, or (no PID recorded) they
    have not changed for ``max_age`` seconds. Only regular files we own match; links, folders and every
    other name are never listed."""
    now = time.time() if now is None else now
    found: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        parsed = parse(entry.name)
        if parsed is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue
        _name, pid = parsed
        if pid is not None:
            if pid == os.getpid() or pid_alive(pid):
                continue  # being written (by this process or another live one)
        elif now - info.st_mtime < max_age:
            continue
        found.append(Path(entry.path))
    return found


def sweep(folder: str | Path, *, max_age: float = STALE_AFTER_S, now: float | None = None) -> list[Path]:
    """Remove the stale part files in ``folder`` (see ``stale_parts``); return what was removed."""
    removed = []
    for path in stale_parts(folder, max_age=max_age, now=now):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed
