"""Every render kept: a record on disk per finished render (the graph as it ran, what it varied, timings, the
files it wrote) with a small proxy of its clip, in a folder beside the renders, capped in size.

When the folder grows past its cap, the proxies of the renders looked at least recently go first; the records
(a few kilobytes each) stay, so the history still lists every render and can restore its graph.

The graph of a render lives in its own file (``graph.json``) beside the record, read only when restoring or
comparing: listing 200 renders must not parse 200 graphs of 10-20 KB. A record written with its graph inline
(before this layout) is moved to it the first time it is listed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from studio.fileio import write_text_atomic
from studio.paths import OUTPUT_RECORDS

FOLDER = OUTPUT_RECORDS
PROXY_SIDE = 128  # the proxy's longer side in pixels: enough to compare, small enough to keep hundreds
THUMB_SIDE = 96
DEFAULT_CAP = 512 << 20
RECORD_LIMIT = 4 << 20  # a record larger than this is not ours (or not intact): skipped
GRAPH_LIMIT = 8 << 20  # as large as a graph file may be (studio.graph's own limit is lower)
RECORD, GRAPH = "record.json", "graph.json"
_NAME = re.compile(r"^(\d{5})$")


@dataclass
class HistoryRecord:
    """One render as the history keeps it (the JSON written beside its proxy)."""

    number: int
    label: str
    finished: float  # time.time()
    seconds: float
    draft: bool
    graph: str  # the graph file's JSON as it ran, when adding; "" once listed (RenderHistory.graph_text reads it)
    graph_hash: str = ""
    varied: list[str] = field(default_factory=list)  # NODE.PARAM=VALUE this render varied (seeds, sweeps)
    written: list[str] = field(default_factory=list)
    frames: int = 0
    fps: float = 0.0
    size: tuple[int, int] = (0, 0)  # the clip's width and height
    timings: dict[str, float] = field(default_factory=dict)
    folder: Path | None = field(default=None, compare=False)

    def describe(self) -> str:
        kind = "draft" if self.draft else "render"
        varied = (" · " + " ".join(self.varied)) if self.varied else ""
        return f"#{self.number} {kind} · {self.seconds:.1f} s{varied}"


def _stored(record: HistoryRecord) -> dict:
    """What record.json holds: the record without its graph (graph.json) and without where it lies."""
    data = asdict(record)
    data.pop("folder")
    data.pop("graph")
    return data


def _migrate(record: HistoryRecord, graph: str) -> None:
    """Move an inline graph into graph.json, then drop it from the record (in that order: a crash in between
    leaves both, and the next listing finishes the move). A folder we cannot write keeps its old record, and
    the record its graph in memory."""
    assert record.folder is not None
    try:
        if not (record.folder / GRAPH).exists():
            write_text_atomic(record.folder / GRAPH, graph)
        write_text_atomic(record.folder / RECORD, json.dumps(_stored(record)))
    except OSError:
        record.graph = graph


def _shrink(frames: np.ndarray, side: int) -> np.ndarray:
    t, h, w = frames.shape[:3]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return np.ascontiguousarray(frames)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


class RenderHistory:
    """The renders kept in ``root/.studio-history``: add one, list them (newest first), read a proxy."""

    def __init__(self, root: Path, cap_bytes: int = DEFAULT_CAP) -> None:
        self.folder = Path(root) / FOLDER
        self.cap_bytes = cap_bytes

    def _next_number(self) -> int:
        numbers = [int(m.group(1)) for p in self._dirs() if (m := _NAME.match(p.name))]
        return max(numbers, default=0) + 1

    def _dirs(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [p for p in self.folder.iterdir() if _NAME.match(p.name) and p.is_dir() and not p.is_symlink()]

    def add(self, record: HistoryRecord, frames: np.ndarray | None) -> HistoryRecord:
        """Write a render's record and proxy (off the UI thread); returns it with its number and folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record.number = self._next_number()
        target = self.folder / f"{record.number:05d}"
        target.mkdir()
        if frames is not None and frames.ndim == 4 and len(frames):
            proxy = _shrink(frames, PROXY_SIDE)
            np.save(target / "proxy.npy", proxy, allow_pickle=False)
            thumb = _shrink(frames[len(frames) // 2: len(frames) // 2 + 1], THUMB_SIDE)[0]
            np.save(target / "thumb.npy", thumb, allow_pickle=False)
            record.frames, record.size = len(frames), (int(frames.shape[2]), int(frames.shape[1]))
        write_text_atomic(target / GRAPH, record.graph)
        write_text_atomic(target / RECORD, json.dumps(_stored(record)))
        record.folder = target
        self.enforce_cap()
        return record

    def records(self) -> list[HistoryRecord]:
        """Every readable record, newest first (a damaged one is skipped, never an error)."""
        found = []
        for path in self._dirs():
            file = path / RECORD
            try:
                if file.stat().st_size > RECORD_LIMIT:
                    continue
                data = json.loads(file.read_text(encoding="utf-8"))
                inline = data.pop("graph", None)
                data["size"] = tuple(data.get("size") or (0, 0))
                record = HistoryRecord(graph="", **{k: v for k, v in data.items()
                                                    if k in HistoryRecord.__dataclass_fields__})
            except (OSError, ValueError, TypeError):
                continue
            record.folder = path
            if isinstance(inline, str):
                _migrate(record, inline)
            found.append(record)
        return sorted(found, key=lambda r: r.number, reverse=True)

    def graph_text(self, record: HistoryRecord) -> str | None:
        """The graph file's JSON this render ran (read now: restoring, comparing), or None when it is not kept."""
        if record.graph:
            return record.graph
        if record.folder is None:
            return None
        path = record.folder / GRAPH
        try:
            if path.is_symlink() or path.stat().st_size > GRAPH_LIMIT:
                return None
            return path.read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None

    def _array(self, record: HistoryRecord, name: str) -> np.ndarray | None:
        if record.folder is None:
            return None
        path = record.folder / name
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if array.dtype != np.uint8 or array.ndim not in (3, 4) or array.shape[-1] != 3:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # looked at: the cap drops it last
        return array

    def proxy(self, record: HistoryRecord) -> np.ndarray | None:
        return self._array(record, "proxy.npy")

    def thumbnail(self, record: HistoryRecord) -> np.ndarray | None:
        return self._array(record, "thumb.npy")

    def size(self) -> int:
        total = 0
        for path in self._dirs():
            for file in path.iterdir():
                with contextlib.suppress(OSError):
                    total += file.stat().st_size
        return total

    def enforce_cap(self) -> None:
        """Drop the proxies looked at least recently until the folder fits its cap (records are kept)."""
        total = self.size()
        if total <= self.cap_bytes:
            return
        proxies = []
        for path in self._dirs():
            proxy = path / "proxy.npy"
            with contextlib.suppress(OSError):
                proxies.append((proxy.stat().st_mtime, proxy, proxy.stat().st_size))
        for _, proxy, size in sorted(proxies):
            if total <= self.cap_bytes:
                break
            with contextlib.suppress(OSError):
                proxy.unlink()
                total -= size

    def forget(self, record: HistoryRecord) -> None:
        if record.folder is not None and record.folder.parent == self.folder:
            shutil.rmtree(record.folder, ignore_errors=True)

