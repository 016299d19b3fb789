"""Studio's own outputs: the mark a clip carries, and placing a finished file without replacing anyone's work.

Every clip Studio writes carries a comment tag in its container (``studio-output full`` or ``studio-output
draft``), and every editor timeline a ``studio_output`` entry in its metadata. A render writes the next
version (clip_0002.mp4) when its name is taken; asked to overwrite, it replaces only a file with that mark,
and a draft never replaces a full render.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from studio.errors import MediaError
from studio.fileio import place_versioned

MARK = "studio-output"
_HEAD_BYTES = 64 * 1024 * 1024  # an editor timeline larger than this is not one of ours


def comment_for(draft: bool) -> str:
    """The container comment that marks a clip as Studio's (and whether it is a draft)."""
    return f"{MARK} {'draft' if draft else 'full'}"


def studio_kind(path: Path) -> str | None:
    """"full" or "draft" for a file Studio wrote, None for anything else (or a file that cannot be read)."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return None
    if path.suffix.lower() == ".otio":
        return _timeline_kind(path)
    import av

    try:
        # Only the header is read: the tag sits in the container's metadata.
        with av.open(str(path), options={"probesize": "1000000", "analyzeduration": "0"}) as container:
            tags = {k.lower(): v for k, v in container.metadata.items()}
    except (OSError, av.error.FFmpegError, ValueError, UnicodeDecodeError):
        return None
    comment = str(tags.get("comment", ""))
    if not comment.startswith(MARK + " "):
        return None
    kind = comment[len(MARK) + 1 :].strip()
    return kind if kind in ("full", "draft") else None


def _timeline_kind(path: Path) -> str | None:
    try:
        if path.stat().st_size > _HEAD_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    meta = data.get("metadata") if isinstance(data, dict) else None
    studio = meta.get("studio") if isinstance(meta, dict) else None
    kind = studio.get("studio_output") if isinstance(studio, dict) else None
    return kind if kind in ("full", "draft") else None


def replacer(overwrite: bool, draft: bool) -> Callable[[Path], bool] | None:
    """The ``replace`` rule for ``place_versioned``: None (never replace) unless the person asked to
    overwrite; then only Studio's own outputs, and a draft only another draft. A file that is not Studio's
    is refused with a MediaError naming it, since the person asked for that name."""
    if not overwrite:
        return None

    def may_replace(existing: Path) -> bool:
        kind = studio_kind(existing)
        if kind is None:
            raise MediaError(
                f"'{existing}' exists and is not a file Studio wrote, so it is not replaced",
                path=existing,
                hint="Studio overwrites only its own earlier outputs: choose another name, or move that file",
            )
        return not (draft and kind == "full")  # a draft never replaces a full render: it takes a new version

    return may_replace


def place_output(
    finished: Path, dest: Path, *, overwrite: bool, draft: bool, companions: Sequence[str] = ()
) -> Path:
    """Put the finished file at ``dest`` or its next free version (see ``fileio.place_versioned``)."""
    try:
        return place_versioned(finished, dest, replace=replacer(overwrite, draft), companions=companions)
    except OSError as exc:
        raise write_error(exc, dest) from exc


def write_error(exc: OSError, dest: Path) -> MediaError:
    """A sentence for a failed write that names the destination, not a hidden temporary file."""
    folder = Path(dest).parent
    if exc.errno == errno.ENOSPC:
        return MediaError(f"no space left on {folder}", path=dest, hint="free some space, or choose another folder")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return MediaError(
            f"cannot write to {folder}: {exc.strerror}", path=dest, hint="choose a folder you can write to"
        )
    if exc.errno == errno.EEXIST:
        return MediaError(str(exc.strerror or exc), path=dest, hint="move some earlier versions away")
    return MediaError(f"writing {dest.name} failed: {exc.strerror or exc}", path=dest)
