"""Autosave to a recovery file while there are unsaved changes, and find leftovers after a crash.

Each editing session with unsaved work keeps three files in the recovery folder, by one key: the graph, an
info file (which file it was editing, when, on which host) and a lock file whose OS lock the session holds
while it runs (``studio.locks``). At start-up a recovery is offered when its lock is free, whatever PID the
session had: a PID says nothing across containers (both editors may have been PID 1) or after reuse. Each
recovery is read on its own: one that cannot be read is moved aside into ``set-aside/`` and named in the log,
and the others are still offered. A recovery is deleted only when the person declines it or when its graph
equals the saved file; a saved file merely touched later (a sync tool, ``git checkout``) proves nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import stat
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from studio import locks, paths
from studio.errors import GraphFileError
from studio.fileio import write_text_atomic
from studio.graph import Graph, NodeRegistry, dumps, loads
from studio.graph.fileformat import MAX_FILE_BYTES
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.session import EditSession

AUTOSAVE_DELAY_MS = 3000  # between autosaves while editing goes on
FIRST_AUTOSAVE_MS = 500  # after the first change of unsaved work: it is on disk within a second
INFO_SUFFIX = ".info.json"
GRAPH_SUFFIX = ".recovery.studio.json"
LOCK_SUFFIX = ".lock"
SET_ASIDE = "set-aside"
MAX_INFO_BYTES = 64 * 1024
MAX_TITLE = 1000
MAX_PATH = 4096
LATEST_TIME = 2.0**33  # year 2242: later (or inf, nan) is not a time a session wrote

log = logging.getLogger(__name__)


def recovery_dir() -> Path:
    path = paths.data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Unreadable(Exception):
    """A recovery file that cannot be offered; the message says why."""


@dataclass(frozen=True)
class Recovery:
    """Unsaved work left behind by a session that did not close normally."""

    key: str
    graph_file: Path
    info_file: Path
    source: Path | None  # the file it was editing, None for an untitled graph
    written: float
    title: str
    host: str = ""  # the machine it was written on, when that is not this one
    saved_since: bool = False  # the source file changed after this copy was written (with other content)

    @property
    def lock_file(self) -> Path:
        return self.graph_file.with_name(self.key + LOCK_SUFFIX)

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.written))
        where = f" on {self.host}" if self.host else ""
        later = "; the file was saved again after that" if self.saved_since else ""
        return f"{self.title} (unsaved changes from {when}{where}{later})"

    def load(self, registry: NodeRegistry) -> Graph:
        """The recovered graph; only GraphFileError (or OSError) escapes, whatever the file holds."""
        try:
            text = _read_text(self.graph_file, MAX_FILE_BYTES)
        except Unreadable as exc:
            raise GraphFileError(str(exc), path=self.graph_file) from None
        try:
            return loads(text, registry, self.source.parent if self.source else None)
        except GraphFileError as exc:
            exc.path = str(self.graph_file)
            exc.args = (exc.describe(),)
            raise

    def discard(self) -> None:
        """Delete it (the person declined it, or it was restored into a session that now autosaves it)."""
        for path in (self.graph_file, self.info_file, self.lock_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def set_aside(self, reason: str) -> Path:
        """Move it out of the way (it could not be restored), keeping its files for a person to look at."""
        return _set_aside(self.graph_file.parent, self.key, reason)


def _read_text(path: Path, limit: int, *, follow: bool = False) -> str:
    """A small regular file as UTF-8 text, never blocking on a pipe, nor following a link unless ``follow``."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Unreadable(f"cannot read it ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unreadable("it is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise Unreadable(f"it is larger than the {limit} bytes a recovery file can be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("it is not UTF-8 text") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise Unreadable(f"it is not valid JSON ({exc})") from None


@dataclass(frozen=True)
class _Info:
    source: Path | None
    written: float
    title: str
    pid: int | None
    host: str


def _parse_info(text: str) -> _Info:
    data = _json(text)
    if not isinstance(data, dict):
        raise Unreadable("it is not a JSON object")
    written = data.get("written")
    if isinstance(written, bool) or not isinstance(written, int | float) or not math.isfinite(written) \
            or not 0 <= written <= LATEST_TIME:
        raise Unreadable(f"'written' is {written!r}, not a time")
    source = data.get("source")
    if source is not None:
        if not isinstance(source, str) or not source or len(source) > MAX_PATH or "\x00" in source \
                or not Path(source).is_absolute():
            raise Unreadable(f"'source' is {str(source)[:80]!r}, not the path of a graph file")
    title = data.get("title", "Untitled")
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise Unreadable("'title' is not a short text")
    pid = data.get("pid")
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int)):
        raise Unreadable(f"'pid' is {pid!r}, not a process number")
    host = data.get("host", "")
    if not isinstance(host, str) or len(host) > 255:
        raise Unreadable("'host' is not a host name")
    return _Info(Path(source) if source else None, float(written), title, pid, host)


def _same_as_saved(source: Path, graph_text: str) -> bool:
    """Whether the saved file holds the same graph (then there is nothing to recover)."""
    try:
        # the user's own file may be a link (dotfile managers): follow it
        return _json(_read_text(source, MAX_FILE_BYTES, follow=True)) == _json(graph_text)
    except Unreadable:
        return False


def _set_aside(folder: Path, key: str, reason: str) -> Path:
    """Move a recovery's files into ``set-aside/`` (never offered again, never deleted) and say so in the log.

    Returns the folder they went to."""
    aside = folder / SET_ASIDE
    aside.mkdir(exist_ok=True)
    target_key = key
    for n in range(2, 1000):
        if not any((aside / (target_key + s)).exists() for s in (INFO_SUFFIX, GRAPH_SUFFIX)):
            break
        target_key = f"{key}-{n}"
    moved = []
    for suffix in (INFO_SUFFIX, GRAPH_SUFFIX):
        path = folder / (key + suffix)
        with contextlib.suppress(FileNotFoundError):
            path.replace(aside / (target_key + suffix))
            moved.append(str(aside / (target_key + suffix)))
    with contextlib.suppress(FileNotFoundError):
        (folder / (key + LOCK_SUFFIX)).unlink()
    log.warning("A recovery file could not be read (%s) and was set aside: %s. It will not be offered "
                "again; open the .recovery.studio.json file by hand if it holds work you need.",
                reason, ", ".join(moved) or key)
    return aside


def _editor_running(lock_file: Path, info: _Info | None) -> bool:
    """Whether the session that owns this recovery still runs, going by the lock it holds."""
    held = locks.is_held(lock_file)
    if held is None:  # a file system that cannot lock: the recorded holder, where its PID means something
        return locks.recorded_holder_alive(locks.read_holder(lock_file))
    if held or lock_file.exists():
        return held
    # Written by a Studio from before the lock: only a PID. Never ours (we would hold a lock), and a
    # process that started after the recovery was written merely reused the number.
    if info is None or info.pid is None or info.pid == os.getpid() or not locks.pid_alive(info.pid):
        return False
    started = locks.process_started(info.pid)
    return started is None or started <= info.written + 1.0


def _keys(folder: Path) -> list[str]:
    keys = set()
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return []
    for name in names:
        for suffix in (INFO_SUFFIX, GRAPH_SUFFIX, LOCK_SUFFIX):
            if name.endswith(suffix) and len(name) > len(suffix):
                keys.add(name[: -len(suffix)])
    return sorted(keys)


def _read_one(folder: Path, key: str) -> Recovery | None:
    """The recovery under ``key`` if it should be offered; None when its session runs or there is nothing
    to recover. Raises Unreadable for a file that cannot be offered."""
    graph_file, info_file = folder / (key + GRAPH_SUFFIX), folder / (key + INFO_SUFFIX)
    lock_file = folder / (key + LOCK_SUFFIX)
    info = _parse_info(_read_text(info_file, MAX_INFO_BYTES)) if os.path.lexists(info_file) else None
    if _editor_running(lock_file, info):
        return None
    if not os.path.lexists(graph_file):  # no graph: nothing to recover (a crash before the first write)
        for path in (info_file, lock_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return None
    try:
        text = _read_text(graph_file, MAX_FILE_BYTES)
    except Unreadable as exc:
        raise Unreadable(f"its graph: {exc}") from None
    if not isinstance(_json(text), dict):
        raise Unreadable("its graph is not a JSON object")
    if info is None:  # died between writing the graph and its info: offer it as an untitled graph
        info = _Info(None, graph_file.lstat().st_mtime, "Untitled", None, "")
    rec = Recovery(key, graph_file, info_file, info.source, info.written, info.title,
                   info.host if info.host != socket.gethostname() else "")
    if info.source is not None:
        if _same_as_saved(info.source, text):
            rec.discard()  # the saved file holds exactly this: nothing to recover
            return None
        with contextlib.suppress(OSError, ValueError):
            rec = replace(rec, saved_since=info.source.stat().st_mtime > info.written)
    return rec


def pending_recoveries() -> list[Recovery]:
    """Recoveries of sessions that are gone, each read on its own: one that cannot be read is set aside
    (and named in the log) and never stops the others from being offered."""
    folder = recovery_dir()
    found = []
    for key in _keys(folder):
        try:
            try:
                rec = _read_one(folder, key)
            except Unreadable as exc:
                if not locks.is_held(folder / (key + LOCK_SUFFIX)):  # a live session's files are its business
                    _set_aside(folder, key, str(exc))
                continue
        except OSError as exc:  # a folder we may not write to, a file removed meanwhile: the next one
            log.warning("The recovery %s in %s could not be checked (%s); it is left as it is.",
                        key, folder, exc.strerror or exc)
            continue
        if rec is not None:
            found.append(rec)
    return found


class Autosaver(QObject):
    """Writes the session's graph soon after each change while it is dirty, holding a lock that tells other
    editors this session still runs."""

    written = Signal(Path)

    def __init__(self, session: EditSession, delay_ms: int = AUTOSAVE_DELAY_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.key = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.delay_ms = delay_ms
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.write_now)
        self._lock = threading.Lock()
        self._generation = 0
        self._serial = 0  # snapshots taken
        self._written = 0  # the newest snapshot on disk
        self._started = False  # a snapshot of this dirty spell has been taken
        self._held: locks.HeldLock | None = None
        self._lock_warned = False
        session.changed.connect(self._schedule)
        session.dirty_changed.connect(self._dirty_changed)

    @property
    def graph_file(self) -> Path:
        return recovery_dir() / (self.key + GRAPH_SUFFIX)

    @property
    def info_file(self) -> Path:
        return recovery_dir() / (self.key + INFO_SUFFIX)

    @property
    def lock_file(self) -> Path:
        return recovery_dir() / (self.key + LOCK_SUFFIX)

    def _dirty_changed(self, dirty: bool) -> None:
        if dirty:
            self._schedule()
        else:
            self.discard()  # saved (or undone back to the saved state): nothing to recover

    def _schedule(self, *_args: object) -> None:
        if not self.timer.isActive():
            # the first change soon (an edit lost to a crash in the first seconds is still lost work),
            # later ones batched
            self.timer.start(self.delay_ms if self._started else min(self.delay_ms, FIRST_AUTOSAVE_MS))

    def _claim(self) -> None:
        """Hold this session's lock before its recovery files exist, so no reader takes them for a crash's."""
        if self._held is None:
            try:
                self._held = locks.hold(self.lock_file, record=True)
            except (OSError, locks.LockBusy) as exc:
                if not self._lock_warned:  # autosave anyway: readers then go by the PID in the info file
                    self._lock_warned = True
                    log.warning("Autosave runs without its lock file %s (%s): another Studio may offer "
                                "this session's unsaved work as a crash's.", self.lock_file, exc)

    def write_now(self, wait: bool = False) -> None:
        """Snapshot the graph now; the disk write (with its fsync) happens on a worker thread."""
        session = self.session
        if not session.dirty:
            self.discard()
            return
        base = session.path.parent if session.path else None  # as a save would write it: comparable
        try:
            text = dumps(session.graph, session.registry, base)
        except GraphFileError:
            return
        holder = locks.Holder.current()
        info = json.dumps({"source": str(session.path) if session.path else None, "written": time.time(),
                           "pid": holder.pid, "host": holder.host, "title": session.display_name}, indent=2)
        self._claim()
        self._started = True
        generation = self._generation
        self._serial += 1
        serial = self._serial
        graph_file, info_file = self.graph_file, self.info_file

        def write(_ctx: object) -> Path | None:
            with self._lock:
                if generation != self._generation or serial < self._written:  # discarded, or older
                    return None
                self._written = serial
                try:
                    write_text_atomic(graph_file, text)
                    write_text_atomic(info_file, info)
                except OSError:
                    return None  # a full disk must not interrupt editing; the next change tries again
            return graph_file

        job = BackgroundJob(write, "autosave", background=False, parent=self)
        job.succeeded.connect(lambda path: path is not None and self.written.emit(path))
        job.finished.connect(job.deleteLater)
        job.start()
        if wait:
            job.wait()

    def discard(self) -> None:
        self.timer.stop()
        self._started = False
        with self._lock:
            self._generation += 1  # a write still queued will not happen
            for path in (self.graph_file, self.info_file):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            if self._held is not None:  # last: the recovery files are gone before the lock is
                self._held.release(remove=True)
                self._held = None
