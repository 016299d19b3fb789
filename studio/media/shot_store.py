"""The shot store: a sequence's rendered shots kept on disk between processes, keyed by what made them.

Generate Sequence keys each shot by a digest of everything its frames depend on (prompt, length, seed,
transition, character, the shot it continues, settings, model and weights). A shot it rendered is kept here
under that digest, so a fresh process (``studio render --shots 3,7``, the editor opened again) takes every
unchanged shot from disk instead of rendering it again or leaving it out.

An entry is two files named by the digest (hex only: nothing from a graph becomes a path):
``KEY.frames``, the frames as a page-strided ``FrameSpool`` writes them (raw uint8, each frame on a page
boundary, so a sequence's clip maps the entries side by side instead of copying them, see
``framestore_spool.join_spools``), and ``KEY.json``, a small sidecar (shape, stride, frame count, fps, key
parts, created). The frames are rendered straight into a temporary file in this folder, made durable (fsync)
and renamed: never copied. The sidecar is written last, atomically; an entry without one is not an entry, and
an entry whose file is not exactly as long as its sidecar says is dropped with a warning and rendered again.

The store is capped (``budget_bytes``; by default 20 GiB or half the disk space it may use, the smaller):
past it, the entries used least recently go, except those in use in this process (the shots of the clip on
screen). An entry another process has open stays readable there after it is deleted (it is a mapped file).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio import paths
from studio.fileio import write_text_atomic
from studio.media.framestore_spool import FrameSpool, remove_orphans

log = logging.getLogger(__name__)

FORMAT = "studio.shot"
VERSION = 1
DEFAULT_BUDGET = 20 << 30
FREE_FRACTION = 0.5  # of the space the store may use (free space plus its own): the rest stays for renders
SIDECAR_LIMIT = 1 << 20  # a sidecar larger than this is not ours
ORPHAN_SECONDS = 600  # frames without a sidecar (a crash between the two renames) older than this are swept
_KEY = re.compile(r"^[0-9a-f]{64}$")
_DATA, _SIDE, _ROWS = ".frames", ".json", "rows-"

# Entries in use in this process: (folder, key) -> how many open spools read it. Never evicted.
_in_use: Counter[tuple[str, str]] = Counter()
_in_use_lock = threading.Lock()


def default_folder() -> Path:
    return paths.cache_dir() / "shots"


def is_key(key: str) -> bool:
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


class ShotStore:
    """Shots on disk by key digest. ``warn`` hears why an entry was dropped (the node passes ``ctx.warn``)."""

    def __init__(self, folder: Path | None = None, budget_bytes: int | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.budget_bytes = budget_bytes
        self._warn = warn
        remove_orphans(self.folder)  # temporary frames of renders whose process died

    # ---- writing
    def new_shot(self, height: int, width: int) -> FrameSpool:
        """A spool to render a shot into: a temporary file in this folder that ``put`` renames into an entry
        (closing it instead deletes it)."""
        return FrameSpool(height, width, self.folder, page_stride=True, keep_name=True)

    def put(self, key: str, spool: FrameSpool, fps: float, parts: dict[str, Any]) -> FrameSpool:
        """Make ``spool`` (from ``new_shot``, complete) the entry of ``key``: durable, then named, then
        described. Returns the spool, now reading the entry (it stays in use until it is closed)."""
        _check(key)
        spool.sync()
        self._pin(key)
        try:
            spool.rename(self._path(key, _DATA), on_close=lambda: self._unpin(key))
        except BaseException:
            self._unpin(key)
            raise
        # Read-only from now on: an entry is mapped by every clip made from it, and a file cut short under a
        # mapping crashes the reader (SIGBUS). The store never writes an entry again: it writes anew and renames.
        with contextlib.suppress(OSError):
            os.chmod(self._path(key, _DATA), 0o400)
        _sync_folder(self.folder)  # the rename is on disk before a sidecar can describe it
        height, width, _ = spool.frame_shape
        sidecar = {"format": FORMAT, "version": VERSION, "key": key, "frames": len(spool), "height": height,
                   "width": width, "stride": spool.stride, "bytes": spool.disk_bytes, "fps": fps,
                   "created": time.time(), "parts": parts}
        write_text_atomic(self._path(key, _SIDE), json.dumps(sidecar, separators=(",", ":"), default=str))
        self.enforce_budget()
        return spool

    # ---- reading
    def get(self, key: str, height: int, width: int) -> FrameSpool | None:
        """The entry of ``key`` as a read-only spool (memory-mapped by ``frames()``), or None when there is
        none. A damaged entry (torn sidecar, wrong size, file shorter or longer than it says) is dropped with a
        warning and None returned: the shot renders again."""
        _check(key)
        side = self._path(key, _SIDE)
        try:
            with side.open("rb") as handle:
                raw = handle.read(SIDECAR_LIMIT + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._drop(key, f"its description cannot be read ({exc.strerror or exc})")
            return None
        problem, meta = _parse_sidecar(raw, key)
        if meta is not None and (meta["height"], meta["width"]) != (height, width):
            problem = f"it holds {meta['width']}x{meta['height']} frames where {width}x{height} were asked for"
        if problem or meta is None:
            self._drop(key, problem or "its description is not valid")
            return None
        try:
            fd = os.open(self._path(key, _DATA), os.O_RDONLY)
        except OSError as exc:
            self._drop(key, f"its frames cannot be opened ({exc.strerror or exc})")
            return None
        expected = meta["frames"] * meta["stride"]
        size = os.fstat(fd).st_size
        if size != expected:
            os.close(fd)
            self._drop(key, f"its frames file holds {size} bytes where {expected} were written (cut short by a "
                            "crash or a full disk?)")
            return None
        with contextlib.suppress(OSError):
            os.utime(self._path(key, _DATA))  # last used: what eviction goes by
        self._pin(key)
        return FrameSpool.adopt(fd, meta["frames"], height, width, meta["stride"], self._path(key, _DATA),
                                on_close=lambda: self._unpin(key))

    def has(self, key: str) -> bool:
        """Whether an entry of ``key`` seems to be there (its sidecar is; ``get`` checks it)."""
        _check(key)
        return self._path(key, _SIDE).is_file()

    def sidecar(self, key: str) -> dict[str, Any] | None:
        """The description of ``key``'s entry, or None."""
        _check(key)
        try:
            raw = self._path(key, _SIDE).read_bytes()[:SIDECAR_LIMIT + 1]
        except OSError:
            return None
        return _parse_sidecar(raw, key)[1]

    # ---- size
    def entries(self) -> list[tuple[str, int, float]]:
        """(key, bytes on disk, last used) of every entry, least recently used first."""
        found = []
        for side in self.folder.glob("*" + _SIDE):
            key = side.name[:-len(_SIDE)]
            if not is_key(key):
                continue
            try:
                st = os.stat(self._path(key, _DATA))
            except OSError:
                continue
            found.append((key, st.st_size + _size(side), st.st_mtime))
        found.sort(key=lambda entry: entry[2])
        return found

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def budget(self, used: int | None = None) -> int:
        """The cap: ``budget_bytes``, else DEFAULT_BUDGET or FREE_FRACTION of (free space + the store's own),
        the smaller."""
        if self.budget_bytes is not None:
            return int(self.budget_bytes)
        used = self.size() if used is None else used
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError:
            return DEFAULT_BUDGET
        return min(DEFAULT_BUDGET, int(FREE_FRACTION * (free + used)))

    def enforce_budget(self) -> list[str]:
        """Evict the entries used least recently until the store fits its budget; entries in use here stay.
        Returns the keys evicted."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        budget = self.budget(total)
        evicted = []
        for key, size, _ in entries:
            if total <= budget:
                break
            if self._in_use(key):
                continue
            self._remove(key)
            total -= size
            evicted.append(key)
        if evicted:
            log.info("shot store: evicted %d shot(s) used least recently to stay within %.1f GB",
                     len(evicted), budget / 1e9)
        self._sweep_orphans()
        return evicted

    # ---- why a shot renders again, across processes
    def remembered(self, scope: str) -> dict[int, dict[str, Any]]:
        """The key parts each row of a sequence rendered with last (``scope``: a digest naming the node),
        as ``remember`` kept them; {} when none or unreadable."""
        _check(scope)
        try:
            data = json.loads(self._rows_path(scope).read_bytes()[:SIDECAR_LIMIT * 4])
            return {int(row): parts for row, parts in data.items() if isinstance(parts, dict)}
        except (OSError, ValueError, AttributeError, TypeError):
            return {}

    def remember(self, scope: str, rows: dict[int, dict[str, Any]]) -> None:
        _check(scope)
        with contextlib.suppress(OSError):
            write_text_atomic(self._rows_path(scope),
                              json.dumps({str(k): v for k, v in rows.items()}, default=str))

    # ---- internals
    def _path(self, key: str, suffix: str) -> Path:
        return self.folder / f"{key}{suffix}"

    def _rows_path(self, scope: str) -> Path:
        return self.folder / f"{_ROWS}{scope}.json"

    def _drop(self, key: str, why: str) -> None:
        message = f"shot store: a stored shot ({key[:12]}) was dropped: {why}; it renders again"
        log.warning(message)
        if self._warn is not None:
            self._warn(message)
        self._remove(key)

    def _remove(self, key: str) -> None:
        # the sidecar first: from that instant the entry is gone for every reader, whatever happens next
        for suffix in (_SIDE, _DATA):
            with contextlib.suppress(OSError):
                self._path(key, suffix).unlink()

    def _sweep_orphans(self) -> None:
        now = time.time()
        for data in self.folder.glob("*" + _DATA):
            key = data.name[:-len(_DATA)]
            if not is_key(key) or self._path(key, _SIDE).exists() or self._in_use(key):
                continue
            with contextlib.suppress(OSError):
                if now - data.stat().st_mtime > ORPHAN_SECONDS:
                    data.unlink()

    def _pin(self, key: str) -> None:
        with _in_use_lock:
            _in_use[(str(self.folder), key)] += 1

    def _unpin(self, key: str) -> None:
        with _in_use_lock:
            slot = (str(self.folder), key)
            _in_use[slot] -= 1
            if _in_use[slot] <= 0:
                del _in_use[slot]

    def _in_use(self, key: str) -> bool:
        with _in_use_lock:
            return _in_use[(str(self.folder), key)] > 0


def _check(key: str) -> None:
    if not is_key(key):
        raise ValueError(f"a shot store key is a sha256 hex digest, not {key!r}")


def _parse_sidecar(raw: bytes, key: str) -> tuple[str, dict[str, Any] | None]:
    """(problem, description): the problem is empty when the sidecar is sound."""
    if len(raw) > SIDECAR_LIMIT:
        return "its description is too large to be Studio's", None
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "its description is not JSON (cut short by a crash?)", None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("key") != key:
        return "its description is not a shot store entry for this key", None
    if meta.get("version") != VERSION:
        return f"it was written in another format (version {meta.get('version')!r})", None
    numbers = [meta.get(name) for name in ("frames", "height", "width", "stride")]
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
        return "its description has no valid frame count, size or stride", None
    frames, height, width, stride = numbers
    if frames < 1 or height < 1 or width < 1 or stride < height * width * 3:
        return "its description has no valid frame count, size or stride", None
    return "", meta


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: fsync the directory); a no-op where it cannot be done."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

