"""The hidden partial files an export writes beside its destination, and sweeping up the ones a killed export left.

An export writes ``.NAME.RANDOM.PID-SPACE.part.EXT`` (and, while signing, ``.NAME.RANDOM.PID-SPACE.unsigned.EXT``)
in the destination's folder and renames the finished file over ``NAME``. SPACE tags the writer's PID space
(``studio.locks.pid_space``: boot + PID namespace), so a reader knows whether PID names a process it can see;
a writer also holds an OS lock on its part file (``hold``) while it writes. A process that is killed midway
cannot remove its part file; a later export to that folder does, once it can prove the file abandoned: not
changed for an hour, no live process holds its lock, and its name does not point at a live process we can
see. Another container sharing the folder has other PIDs, which is why a dead-looking PID alone proves nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from studio import locks

STALE_AFTER_S = 3600.0  # a part file unchanged for this long, that no live writer holds, is abandoned
KINDS = ("part", "unsigned")
EXTENSIONS = ("mp4", "mkv", "webm")
# tempfile.mkstemp's random part is 8 characters of [a-z0-9_]; the PID is recorded since one version, the
# PID space since the next (older names stay recognised, and are swept by age and lock alone).
_PATTERN = re.compile(
    r"^\.(?P<name>.+)\.[a-z0-9_]{8}(?:\.(?P<pid>\d{1,10})(?:-(?P<space>[0-9a-f]{8}))?)?\.(?:"
    + "|".join(KINDS)
    + r")\.(?:"
    + "|".join(EXTENSIONS)
    + r")$"
)


def part_suffix(kind: str, extension: str) -> str:
    """The suffix for ``tempfile.mkstemp(prefix=".NAME.", suffix=...)`` that marks a part file as ours."""
    if kind not in KINDS:
        raise ValueError(f"unknown part kind {kind!r}")
    space = locks.pid_space()
    return f".{os.getpid()}{'-' + space if space else ''}.{kind}{extension}"


def parse(name: str) -> tuple[str, int | None] | None:
    """(destination name, writer's PID or None) for one of our part files' names, else None."""
    match = _PATTERN.match(name)
    if match is None:
        return None
    pid = match.group("pid")
    return match.group("name"), int(pid) if pid is not None else None


def writer_space(name: str) -> str | None:
    """The PID space recorded in a part file's name (None for older names and names not ours)."""
    match = _PATTERN.match(name)
    return match.group("space") if match is not None else None


@contextlib.contextmanager
def hold(path: str | Path) -> Iterator[Path]:
    """Hold the OS lock on a part file while writing it, so no sweep anywhere removes it, however long it
    stays unchanged (a paused export, a slow signing step). The kernel drops the lock if this process dies.

    Leave the block before renaming or removing the file (Windows cannot rename a file open elsewhere).
    Where no lock can be had the export goes on: the age rule still protects a file being written."""
    try:
        lock: locks.HeldLock | None = locks.hold(path, wait=1.0)
    except (OSError, locks.LockBusy):
        lock = None
    try:
        yield Path(path)
    finally:
        if lock is not None:
            lock.release()


def _writer_alive(name: str, pid: int | None) -> bool:
    """Whether the name records a writer that may be alive. A PID tagged with our PID space names a process
    we can see; one tagged with another space (another container or machine) means nothing here; an untagged
    one (older versions) may mean either, so a live-looking one is believed. A reused PID merely keeps the
    file until a later sweep."""
    if pid is None:
        return False
    space = writer_space(name)
    return (space is None or space == locks.pid_space()) and locks.pid_alive(pid)


def stale_parts(
    folder: str | Path, *, max_age: float = STALE_AFTER_S, now: float | None = None
) -> list[Path]:
    """Our part files in ``folder`` that look abandoned by name, owner and age: unchanged for ``max_age``
    seconds and not naming a writer that may be alive (``_writer_alive``). Whether a live process holds the file's lock is
    checked by ``sweep`` at the moment it removes it. Only regular files we own match; links, folders and
    every other name are never listed."""
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
        if now - info.st_mtime < max_age:  # being written (an encoder touches it every few frames)
            continue
        if _writer_alive(entry.name, parsed[1]):
            continue
        found.append(Path(entry.path))
    return found


def _remove_if_unheld(path: Path) -> bool:
    """Remove ``path`` if no live process holds its lock, holding it ourselves meanwhile so no writer can
    take it between our check and the removal."""
    try:
        lock = locks.try_hold(path)
    except OSError:
        return False  # gone, or turned into something that is not a regular file
    if lock is None:
        return False  # a live writer holds it, on this kernel or (NFS) another machine
    try:
        if os.name == "posix":
            path.unlink()
            return True
    except OSError:
        return False
    finally:
        lock.release()
    try:
        path.unlink()  # Windows: only once our own handle is closed
    except OSError:
        return False
    return True


def sweep(folder: str | Path, *, max_age: float = STALE_AFTER_S, now: float | None = None) -> list[Path]:
    """Remove the abandoned part files in ``folder`` (see ``stale_parts``) that no live process holds;
    return what was removed."""
    return [path for path in stale_parts(folder, max_age=max_age, now=now) if _remove_if_unheld(path)]
