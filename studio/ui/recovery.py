"""Autosave to a recovery file while there are unsaved changes, and find leftovers after a crash."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from studio import paths
from studio.errors import GraphFileError
from studio.fileio import write_text_atomic
from studio.graph import Graph, NodeRegistry, dumps, loads
from studio.ui.session import EditSession

AUTOSAVE_DELAY_MS = 3000
INFO_SUFFIX = ".info.json"
GRAPH_SUFFIX = ".recovery.studio.json"


def recovery_dir() -> Path:
    path = paths.data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Recovery:
    """Unsaved work left behind by a session that did not close normally."""

    key: str
    graph_file: Path
    info_file: Path
    source: Path | None  # the file it was editing, None for an untitled graph
    written: float
    title: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.written))
        return f"{self.title} (unsaved changes from {when})"

    def load(self, registry: NodeRegistry) -> Graph:
        text = self.graph_file.read_text(encoding="utf-8")
        return loads(text, registry, self.source.parent if self.source else None)

    def discard(self) -> None:
        for path in (self.graph_file, self.info_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return False  # os.kill(pid, 0) would terminate it on Windows; assume a leftover
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pending_recoveries() -> list[Recovery]:
    """Recovery files of sessions that are gone and whose work is newer than the saved file."""
    found = []
    for info_file in sorted(recovery_dir().glob("*" + INFO_SUFFIX)):
        key = info_file.name[: -len(INFO_SUFFIX)]
        graph_file = info_file.with_name(key + GRAPH_SUFFIX)
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
            written = float(info["written"])
            pid = int(info.get("pid", -1))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not graph_file.exists() or _alive(pid):
            continue
        source = Path(info["source"]) if info.get("source") else None
        rec = Recovery(key, graph_file, info_file, source, written, str(info.get("title", "Untitled")))
        if source is not None and source.exists() and source.stat().st_mtime >= written:
            rec.discard()  # saved after the autosave: nothing to recover
            continue
        found.append(rec)
    return found


class Autosaver(QObject):
    """Writes the session's graph a few seconds after each change while it is dirty."""

    written = Signal(Path)

    def __init__(self, session: EditSession, delay_ms: int = AUTOSAVE_DELAY_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.key = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.write_now)
        self._lock = threading.Lock()
        self._generation = 0
        self._serial = 0  # snapshots taken
        self._written = 0  # the newest snapshot on disk
        session.changed.connect(self._schedule)
        session.dirty_changed.connect(self._dirty_changed)

    @property
    def graph_file(self) -> Path:
        return recovery_dir() / (self.key + GRAPH_SUFFIX)

    @property
    def info_file(self) -> Path:
        return recovery_dir() / (self.key + INFO_SUFFIX)

    def _dirty_changed(self, dirty: bool) -> None:
        if dirty:
            self._schedule()
        else:
            self.discard()  # saved (or undone back to the saved state): nothing to recover

    def _schedule(self, *_args: object) -> None:
        if not self.timer.isActive():
            self.timer.start()

    def write_now(self, wait: bool = False) -> None:
        """Snapshot the graph now; the disk write (with its fsync) happens on a worker thread."""
        session = self.session
        if not session.dirty:
            self.discard()
            return
        try:
            text = dumps(session.graph, session.registry)
        except GraphFileError:
            return
        info = json.dumps({"source": str(session.path) if session.path else None, "written": time.time(),
                           "pid": os.getpid(), "title": session.display_name}, indent=2)
        generation = self._generation
        self._serial += 1
        serial = self._serial
        graph_file, info_file = self.graph_file, self.info_file

        def write() -> None:
            with self._lock:
                if generation != self._generation or serial < self._written:  # discarded, or older
                    return
                self._written = serial
                try:
                    write_text_atomic(graph_file, text)
                    write_text_atomic(info_file, info)
                except OSError:
                    return  # a full disk must not interrupt editing; the next change tries again
            if shiboken6.isValid(self):
                with contextlib.suppress(RuntimeError):
                    self.written.emit(graph_file)

        job = threading.Thread(target=write, name="studio-autosave", daemon=True)
        job.start()
        if wait:
            job.join()

    def discard(self) -> None:
        self.timer.stop()
        with self._lock:
            self._generation += 1  # a write still queued will not happen
            for path in (self.graph_file, self.info_file):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
