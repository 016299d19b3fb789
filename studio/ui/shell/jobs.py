"""One helper for slow work off the Qt main thread: a thread, signals that arrive on the main thread, cancel.

Export, verify, validation and autosave use it, and so should every new panel that reads or writes files:
the main thread only paints and reacts (the editor's stall figures hold only if nothing slow runs there).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal

from studio.errors import Cancelled, StudioError
from studio.priority import lower_this_thread

log = logging.getLogger(__name__)


class JobContext:
    """What the work sees of its job: whether it was cancelled, and a way to report progress."""

    def __init__(self, job: BackgroundJob) -> None:
        self._job = job

    def cancelled(self) -> bool:
        return self._job._cancel.is_set()

    def check(self) -> None:
        """Raise Cancelled if the person cancelled (call between pieces of work)."""
        if self.cancelled():
            raise Cancelled("cancelled")

    def progress(self, done: int, total: int) -> None:
        """Report progress; at most a hundred distinct updates reach the main thread, however long the work."""
        percent = done * 100 // max(total, 1)
        if percent != self._job._shown:
            self._job._shown = percent
            self._job._emit("progress", done, total)


def explain_failure(exc: BaseException) -> str:
    """A sentence a person can act on, for an exception the work raised."""
    if isinstance(exc, StudioError):
        return str(exc)
    if isinstance(exc, OSError):  # a folder cannot be made or written: say which and why
        where = f"{exc.filename}: " if exc.filename else ""
        return f"cannot read or write {where}{exc.strerror or exc}"
    return f"it failed unexpectedly ({exc.__class__.__name__}: {exc}); the log has details"


class _Relay(QObject):
    """Carries a job's signals from its worker thread to the main thread, where the job is checked for life.

    A job emitting its own signals from the worker raced with the main thread deleting it (its owner closed):
    the check for life and the emit were not one step, and the whole tests/ui run crashed at times. The relay
    lives as long as the program, so the worker only ever touches it; the job's own signals are emitted on the
    main thread, where jobs are deleted, so the check and the emit cannot be split."""

    deliver = Signal(object, str, tuple)

    def __init__(self) -> None:
        super().__init__()
        self.deliver.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @staticmethod
    def _deliver(job: QObject, name: str, values: tuple) -> None:
        if shiboken6.isValid(job):  # the owner (and this job with it) may be gone meanwhile
            with contextlib.suppress(RuntimeError):
                getattr(job, name).emit(*values)


_relay: _Relay | None = None


def _the_relay() -> _Relay:
    """The relay, made on first use by a job's constructor: on the main thread, which it then belongs to."""
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


def emit_on_main(owner: QObject, name: str, *values: Any) -> None:
    """Emit ``owner``'s signal ``name`` on the main thread, from any thread, unless ``owner`` is gone by then (a
    worker's signals to a window that may be closing). Make a BackgroundJob (or call this once) on the main
    thread first: that makes the relay there."""
    _the_relay().deliver.emit(owner, name, values)


class BackgroundJob(QObject):
    """Runs ``work(ctx)`` on a worker thread, once. Exactly one of ``succeeded`` (with the return value),
    ``failed`` (a sentence), ``cancelled`` follows, then ``finished``; all arrive on the main thread (queued),
    and none arrives once the job's owner has been deleted (a closed dialog)."""

    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, work: Callable[[JobContext], Any], name: str, *, background: bool = True,
                 explain: Callable[[BaseException], str] = explain_failure, parent: QObject | None = None) -> None:
        super().__init__(parent)
        _the_relay()  # made here, on the main thread, before the worker needs it
        self.work, self.name, self.background, self.explain = work, name, background, explain
        self._cancel = threading.Event()
        self._shown = -1
        self.thread: threading.Thread | None = None
        self.result: Any = None
        self.error: str | None = None

    def start(self) -> BackgroundJob:
        if self.thread is not None:
            raise RuntimeError(f"the job {self.name} was started already")
        self.thread = threading.Thread(target=self._run, name=f"studio-{self.name}", daemon=True)
        self.thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work is done (closing, tests); True if it is. Its signals still arrive queued."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running

    def _run(self) -> None:
        if self.background:
            lower_this_thread()  # by studio.priority.BACKGROUND steps: now none (see there why)
        try:
            self.result = self.work(JobContext(self))
        except Cancelled:
            self._emit("cancelled")
        except Exception as exc:  # noqa: BLE001 - a sentence for the person, the traceback for the log
            if not isinstance(exc, StudioError | OSError):
                log.exception("background job %s failed", self.name)
            self.error = self.explain(exc)
            self._emit("failed", self.error)
        else:
            self._emit("succeeded", self.result)
        self._emit("finished")

    def _emit(self, name: str, *values: Any) -> None:
        emit_on_main(self, name, *values)
