"""Frames spooled to disk as they are made, so a clip of minutes costs the same memory as one of seconds.

A ``FrameSpool`` appends raw uint8 frames to a file in the frame store's cache folder (the file is unlinked at
once where the system allows it: its space returns when the last array over it is gone, and a crash leaves
nothing). ``frames()`` maps it back read-only as an ordinary ``uint8 [T, H, W, 3]`` array, so every consumer of a
``Video`` works unchanged; a reader that walks a long clip once (the encoder) calls ``drop_pages`` after each
frame so the pages it touched leave its resident memory again (they stay in the page cache, not in the process).
"""

from __future__ import annotations

import itertools
import mmap
import os
import threading
from pathlib import Path

import numpy as np

from studio import paths
from studio.errors import MediaError

_spool_ids = itertools.count(1)
_PAGE = mmap.PAGESIZE


class FrameSpool:
    """An append-only clip of ``height`` x ``width`` RGB frames on disk."""

    def __init__(self, height: int, width: int, folder: Path | None = None) -> None:
        self.frame_shape = (int(height), int(width), 3)
        self.frame_bytes = int(height) * int(width) * 3
        self.count = 0
        self._lock = threading.Lock()
        folder = folder or paths.cache_dir() / "frames"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            remove_orphans(folder)
            # "clip-PID-..." so the frame store's sweep of dead processes' files covers these too
            path = folder / f"clip-{os.getpid()}-s{next(_spool_ids)}.bin"
            self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise MediaError(f"cannot keep the clip's frames on disk: {exc.strerror or exc}", path=folder,
                             hint="free some space in the cache folder, or set STUDIO_HOME to a folder on a larger disk") from exc
        self._path: Path | None = path
        try:
            path.unlink()
            self._path = None
        except OSError:  # Windows keeps an open file: it goes in close()
            pass

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        """Memory it holds (the engine's cache budget counts this): the frames are on disk."""
        return 0

    @property
    def disk_bytes(self) -> int:
        return self.count * self.frame_bytes

    def append(self, frames: np.ndarray) -> None:
        """Add frames uint8 [T, H, W, 3] (or one [H, W, 3]) at the end."""
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.shape[1:] != self.frame_shape:
            raise MediaError(f"a frame of {frames.shape[1:]} does not fit a clip of {self.frame_shape} frames")
        data = memoryview(frames).cast("B")
        with self._lock:
            fd = self._open_fd()
            at, done = self.count * self.frame_bytes, 0
            try:
                while done < len(data):
                    done += os.pwrite(fd, data[done:], at + done)
            except OSError as exc:
                raise MediaError(f"cannot keep the clip's frames on disk: {exc.strerror or exc}",
                                 hint="free some space in the cache folder, or set STUDIO_HOME to a folder on a larger disk") from exc
            self.count += len(frames)

    def extend(self, other: FrameSpool, chunk: int = 64) -> None:
        """Append every frame of ``other``, a chunk at a time (never the whole clip in memory)."""
        for start in range(0, len(other), chunk):
            self.append(other.read(start, min(len(other), start + chunk)))

    def read(self, start: int, stop: int) -> np.ndarray:
        """A copy of frames ``start..stop-1``, read from the file (no mapping: nothing stays resident)."""
        if not 0 <= start <= stop <= self.count:
            raise IndexError(f"frames {start}..{stop} of a clip of {self.count}")
        size = (stop - start) * self.frame_bytes
        out = np.empty((stop - start, *self.frame_shape), np.uint8)
        view = memoryview(out).cast("B")
        with self._lock:
            fd, done = self._open_fd(), 0
            while done < size:
                got = os.preadv(fd, [view[done:]], start * self.frame_bytes + done)
                if got <= 0:
                    raise MediaError("the clip's frames on disk are shorter than written (the cache folder "
                                     "was cleaned while rendering?)")
                done += got
        return out

    def last(self) -> np.ndarray:
        """The last frame, [H, W, 3]."""
        return self.read(self.count - 1, self.count)[0]

    def frames(self) -> np.ndarray:
        """The frames so far as a read-only uint8 [T, H, W, 3] array over the file (an empty array if none)."""
        with self._lock:
            if self.count == 0:
                return np.empty((0, *self.frame_shape), np.uint8)
            mapping = mmap.mmap(self._open_fd(), self.count * self.frame_bytes, prot=mmap.PROT_READ)
        return np.frombuffer(mapping, np.uint8).reshape(self.count, *self.frame_shape)

    def close(self) -> None:
        """Close the file; arrays from ``frames()`` stay valid (their mapping holds the file)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._path is not None:
                try:
                    self._path.unlink(missing_ok=True)
                    self._path = None
                except OSError:  # still mapped on Windows: the orphan sweep takes it later
                    pass

    release = close  # what the engine's cache calls when it drops a value

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def _open_fd(self) -> int:
        if self._fd is None:
            raise MediaError("the clip's frames on disk were closed")
        return self._fd


def mapped(array: np.ndarray) -> tuple[mmap.mmap, int] | None:
    """The read-only mapping under ``array`` (from ``FrameSpool.frames``) and its offset there, or None."""
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    owner = root.base.obj if isinstance(root.base, memoryview) else root.base
    if not isinstance(owner, mmap.mmap):
        return None
    return owner, array.__array_interface__["data"][0] - root.__array_interface__["data"][0]


def drop_pages(array: np.ndarray) -> bool:
    """Let the pages under ``array`` (a part of a spooled clip, already copied) leave resident memory; they
    are read again from the page cache or disk when touched. False when ``array`` is not spooled."""
    found = mapped(array)
    if found is None or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    mapping, offset = found
    lo = offset // _PAGE * _PAGE
    hi = min(len(mapping), -(-(offset + array.nbytes) // _PAGE) * _PAGE)
    if hi > lo:
        mapping.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
    return True


def remove_orphans(folder: Path) -> None:
    """Spill files of processes that are gone (a crash leaves them; they can be gigabytes): the frame
    store's and the spools'."""
    for path in folder.glob("clip-*-*.bin"):
        try:
            pid = int(path.name.split("-")[1])
            if pid != os.getpid():
                os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, PermissionError, OSError):
            continue
