"""Atomic writes and versioned placement: files the user owns are never left half-written or silently replaced."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

MAX_VERSIONS = 9999  # name_0002 ... name_9999
_VERSION = re.compile(r"^(?P<base>.*)_(?P<n>\d{4})$")


@contextlib.contextmanager
def atomic_path(
    destination: str | Path, suffix: str | None = None, *, private: bool = False
) -> Iterator[Path]:
    """Yield a temporary path next to ``destination``; rename it over the destination on success.

    On any exception the temporary file is removed and the destination is untouched. The finished file keeps
    the mode of the file it replaces, or gets the user's usual mode for a new file (``private``: 0600, for keys).
    """
    dest = Path(destination)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or ".part", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        if not private:
            os.chmod(tmp_path, _mode_for(dest))
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text_atomic(destination: str | Path, text: str, *, private: bool = False) -> None:
    with atomic_path(destination, private=private) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _mode_for(dest: Path) -> int:
    """The mode of the file being replaced (a saved graph keeps its permissions), else the usual new-file mode."""
    try:
        info = dest.stat()
    except OSError:
        return shareable_mode()
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else shareable_mode()


def shareable_mode() -> int:
    """The mode a new file of the user's gets by their umask (temp files start private, 0600).

    Read, not set-and-restore: os.umask would briefly change it for every thread of the app."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def versions(dest: Path) -> Iterator[Path]:
    """``dest`` and then its numbered versions: clip.mp4, clip_0002.mp4, clip_0003.mp4, ...

    A name that already ends in a version (clip_0007.mp4) counts on from it."""
    yield dest
    stem, suffix = dest.name[: len(dest.name) - len(dest.suffix)], dest.suffix
    match = _VERSION.match(stem)
    base, first = (match.group("base"), int(match.group("n")) + 1) if match else (stem, 2)
    for n in range(first, MAX_VERSIONS + 1):
        yield dest.with_name(f"{base}_{n:04d}{suffix}")


class NameTaken(Exception):
    """Raised by a ``replace`` callback to refuse replacing an existing file (with the reason as message)."""


def place_versioned(
    finished: Path,
    dest: Path,
    *,
    replace: Callable[[Path], bool] | None = None,
    companions: Sequence[str] = (),
) -> Path:
    """Move the finished file ``finished`` (in ``dest``'s folder) to ``dest``, or to its first free version.

    Never replaces an existing file, unless ``replace(existing)`` says yes for it (and for each companion that
    exists). A name counts as free only when the names with the ``companions`` suffixes (".otio") are free too,
    so a clip and its side files share one version. Taking a name is atomic (a hard link, which fails when the
    name exists), so two renders to the same name at once get two versions, never last-rename-wins.
    Returns the path written.
    """
    for candidate in versions(dest):
        others = [candidate.with_suffix(s) for s in companions]
        if os.path.lexists(candidate):
            if replace is not None and replace(candidate) and all(
                not os.path.lexists(o) or replace(o) for o in others
            ):
                os.replace(finished, candidate)
                return candidate
            continue
        if any(os.path.lexists(o) for o in others):
            continue
        if _take(finished, candidate):
            return candidate
    raise FileExistsError(errno.EEXIST, f"every version of {dest.name} up to {MAX_VERSIONS} exists", str(dest))


def place_new(finished: Path, dest: Path) -> bool:
    """Move ``finished`` to ``dest`` only if nothing is there (atomically); False when the name is taken."""
    return _take(finished, dest)


def _take(finished: Path, candidate: Path) -> bool:
    try:
        os.link(finished, candidate)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # A file system without hard links (FAT, some network shares): reserve the name, then rename over it.
        try:
            fd = os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        os.replace(finished, candidate)
        return True
    os.unlink(finished)
    return True


def file_sha256(path: str | Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in 1 MiB chunks (a LoRA may be gigabytes)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()
