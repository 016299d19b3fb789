"""Frames spooled to disk as they are made, so a clip of minutes costs the same memory as one of seconds.

A ``FrameSpool`` appends raw uint8 frames to a file in the frame store's cache folder (the file is unlinked at
once where the system allows it: its space returns when the last array over it is gone, and a crash leaves
nothing). ``frames()`` maps it back read-only as an ordinary ``uint8 [T, H, W, 3]`` array, so every consumer of a
``Video`` works unchanged; a reader that walks a long clip once (the encoder) calls ``drop_pages`` after each
frame so the pages it touched leave its resident memory again (they stay in the page cache, not in the process).

A spool made with ``page_stride=True`` starts every frame on a page boundary (a frame whose size is not a whole
number of pages is padded: nothing for 64x64 or 1280x720, 0.2% at 832x480). Such spools can be joined without a
copy: ``join_spools`` maps them one after another into one address range, so a sequence's clip reads through
its shots' files (the shot store's) instead of holding every frame a second time on disk.
"""

from __future__ import annotations

import ctypes
import itertools
import mmap
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio import paths
from studio.errors import MediaError

_spool_ids = itertools.count(1)
_PAGE = mmap.PAGESIZE


def page_stride(frame_bytes: int) -> int:
    """A frame's size rounded up to whole pages: the stride of a spool whose frames can be mapped side by side."""
    return -(-int(frame_bytes) // _PAGE) * _PAGE


class FrameSpool:
    """An append-only clip of ``height`` x ``width`` RGB frames on disk.

    ``page_stride``: each frame starts on a page boundary (see ``join_spools``). ``keep_name``: the file keeps
    its name in ``folder`` until ``rename`` gives it its final one (the shot store's entries); a crash leaves a
    "clip-PID-..." file that ``remove_orphans`` sweeps."""

    def __init__(self, height: int, width: int, folder: Path | None = None, *, page_stride: bool = False,
                 keep_name: bool = False) -> None:
        self.frame_shape = (int(height), int(width), 3)
        self.frame_bytes = int(height) * int(width) * 3
        self.stride = _stride(self.frame_bytes, page_stride)
        self.count = 0
        self._lock = threading.Lock()
        self._on_close: Callable[[], None] | None = None
        self._temporary = True  # the file is the spool's own: it goes when the spool closes
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
        if keep_name:
            return
        try:
            path.unlink()
            self._path = None
        except OSError:  # Windows keeps an open file: it goes in close()
            pass

    @classmethod
    def adopt(cls, fd: int, count: int, height: int, width: int, stride: int, path: Path,
              on_close: Callable[[], None] | None = None) -> FrameSpool:
        """A spool over an existing file of ``count`` frames at ``stride`` bytes each (a shot store entry),
        open as ``fd`` (the spool owns it now). Its file is not the spool's: closing leaves it in place."""
        spool = cls.__new__(cls)
        spool.frame_shape = (int(height), int(width), 3)
        spool.frame_bytes = int(height) * int(width) * 3
        spool.stride, spool.count = int(stride), int(count)
        spool._lock = threading.Lock()
        spool._fd, spool._path, spool._temporary, spool._on_close = fd, path, False, on_close
        return spool

    @property
    def fd(self) -> int:
        return self._open_fd()

    @property
    def path(self) -> Path | None:
        """The file's name, when it has one (a spool made with ``keep_name``, or adopted)."""
        return self._path

    def sync(self) -> None:
        """Everything appended is on the disk (before a rename makes it an entry that a crash must not tear)."""
        with self._lock:
            os.fsync(self._open_fd())

    def rename(self, destination: Path, on_close: Callable[[], None] | None = None) -> None:
        """Give the file its final name (the same folder's file system: a rename, never a copy); from now on
        it outlives the spool. ``on_close`` runs when the spool closes."""
        with self._lock:
            if self._path is None:
                raise MediaError("this clip's frames have no name on disk to give another")
            os.replace(self._path, destination)
            self._path, self._temporary, self._on_close = destination, False, on_close

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        """Memory it holds (the engine's cache budget counts this): the frames are on disk."""
        return 0

    @property
    def disk_bytes(self) -> int:
        return self.count * self.stride

    def append(self, frames: np.ndarray) -> None:
        """Add frames uint8 [T, H, W, 3] (or one [H, W, 3]) at the end."""
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.shape[1:] != self.frame_shape:
            raise MediaError(f"a frame of {frames.shape[1:]} does not fit a clip of {self.frame_shape} frames")
        with self._lock:
            fd = self._open_fd()
            try:
                if self.stride == self.frame_bytes:
                    _write_all(fd, memoryview(frames).cast("B"), self.count * self.frame_bytes)
                else:
                    for k, frame in enumerate(frames):
                        _write_all(fd, memoryview(frame).cast("B"), (self.count + k) * self.stride)
                    # the last frame's padding too: a mapping must never reach past the end of the file
                    os.ftruncate(fd, (self.count + len(frames)) * self.stride)
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
        out = np.empty((stop - start, *self.frame_shape), np.uint8)
        with self._lock:
            fd = self._open_fd()
            if self.stride == self.frame_bytes:
                _read_all(fd, memoryview(out).cast("B"), start * self.frame_bytes)
            else:
                for k in range(stop - start):
                    _read_all(fd, memoryview(out[k]).cast("B"), (start + k) * self.stride)
        return out

    def last(self) -> np.ndarray:
        """The last frame, [H, W, 3]."""
        return self.read(self.count - 1, self.count)[0]

    def frames(self) -> np.ndarray:
        """The frames so far as a read-only uint8 [T, H, W, 3] array over the file (an empty array if none)."""
        with self._lock:
            if self.count == 0:
                return np.empty((0, *self.frame_shape), np.uint8)
            mapping = mmap.mmap(self._open_fd(), self.count * self.stride, prot=mmap.PROT_READ)
        return _frames_over(mapping, self.count, self.frame_shape, self.stride)

    def close(self) -> None:
        """Close the file; arrays from ``frames()`` stay valid (their mapping holds the file)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._path is not None and self._temporary:
                try:
                    self._path.unlink(missing_ok=True)
                    self._path = None
                except OSError:  # still mapped on Windows: the orphan sweep takes it later
                    pass
            on_close, self._on_close = getattr(self, "_on_close", None), None
        if on_close is not None:
            on_close()

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


def _stride(frame_bytes: int, paged: bool) -> int:
    return page_stride(frame_bytes) if paged else frame_bytes


def _write_all(fd: int, data: memoryview, at: int) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], at + done)


def _read_all(fd: int, view: memoryview, at: int) -> None:
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], at + done)
        if got <= 0:
            raise MediaError("the clip's frames on disk are shorter than written (the cache folder was cleaned "
                             "while rendering?)")
        done += got


def _frames_over(mapping: mmap.mmap, count: int, frame_shape: tuple[int, int, int], stride: int) -> np.ndarray:
    """uint8 [count, H, W, 3] over ``mapping``, frame k at byte k x ``stride`` (each frame C-contiguous)."""
    h, w, c = frame_shape
    return np.ndarray((count, h, w, c), np.uint8, buffer=mapping, strides=(stride, w * c, c, 1))


def _libc_mmap():
    """libc's mmap, for mapping files at a chosen address (Python's mmap cannot); None where unsupported."""
    if not (sys.platform.startswith("linux") or sys.platform == "darwin"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).mmap
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_void_p
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                         ctypes.c_int64]
    return function


_MAP_FIXED = 0x10  # the same on Linux and macOS; Python's mmap module does not name it


def join_spools(spools: list[FrameSpool]) -> np.ndarray | None:
    """The frames of ``spools`` one after another as one read-only uint8 [T, H, W, 3] array, without copying:
    one address range reserved, each spool's file mapped into its part of it (MAP_FIXED). The array reads
    through the files (which it keeps, even when they are deleted meanwhile), so the joined clip costs no disk
    of its own. None when it cannot be done here (not Linux or macOS, spools of other sizes, frames not on
    page boundaries): then join by copying (``FrameSpool.extend``)."""
    libc_mmap = _libc_mmap()
    if libc_mmap is None or not spools:
        return None
    shape, stride = spools[0].frame_shape, spools[0].stride
    if stride % _PAGE or any(s.frame_shape != shape or s.stride != stride for s in spools):
        return None
    count = sum(len(s) for s in spools)
    if count == 0:
        return np.empty((0, *shape), np.uint8)
    # The reservation is an ordinary mmap object: the array's owner, recognised by ``mapped`` and
    # ``values.file_mapped``, and unmapping it (the files' mappings inside it too) when the array goes.
    region = mmap.mmap(-1, count * stride, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    probe = np.frombuffer(region, np.uint8)
    address = probe.ctypes.data
    del probe  # no export may stay, or the region could not be closed below
    at = 0
    for spool in spools:
        length = len(spool) * spool.stride
        if length:
            with spool._lock:
                got = libc_mmap(address + at, length, mmap.PROT_READ, mmap.MAP_SHARED | _MAP_FIXED,
                                spool._open_fd(), 0)
            if got != address + at:
                region.close()
                return None
        at += length
    return _frames_over(region, count, shape, stride)


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
    # the bytes the array spans: more than its nbytes when frames are a page apart (``page_stride``)
    extent = 1 + sum((n - 1) * s for n, s in zip(array.shape, array.strides, strict=True)) if array.size else 0
    lo = offset // _PAGE * _PAGE
    hi = min(len(mapping), -(-(offset + extent) // _PAGE) * _PAGE)
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
