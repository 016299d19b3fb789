"""The editor's queue on a render farm: entries queued for a farm run on Ray workers (studio/farm) instead of
this machine's engine, with their progress and outcome shown in the same Queue panel.

Starting Ray takes seconds and a batch blocks until it ends, so the farm lives on one background thread
(ui/shell/jobs.BackgroundJob) for the window's life: it starts the farm, then runs whatever the main thread
handed it as a batch (the farm spreads it over its workers); renders queued while a batch runs join it
(Farm.submit, called off the main thread: it asks the workers about their memory). A single render is
cancelled alone (Farm.cancel_job). Everything the farm reports comes back to the main thread as signals; the
threads never touch the queue or a widget.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.engine.jobs import Job, JobOutcome, content_hash
from studio.errors import StudioError
from studio.graph import NodeRegistry, dumps
from studio.ui.shell.jobs import BackgroundJob, JobContext, emit_on_main
from studio.ui.shell.queue import CANCELLED, DONE, ENDED, FAILED, QUEUED, RUNNING, QueuedRender, RenderQueue

POLL_S = 0.25  # how often the farm thread looks for new work or for the window closing
STATES = {"ok": DONE, "failed": FAILED, "cancelled": CANCELLED}


def job_for(entry: QueuedRender, registry: NodeRegistry) -> Job:
    """The farm's job for a queued render: its snapshot (seeds and sweeps already in it, outputs already named
    by what they vary), its folder and its output rule."""
    text = dumps(entry.graph, registry)
    policy = entry.outputs
    return Job(index=entry.number, graph=text, graph_hash=content_hash(text),
               base_dir=str(entry.base_dir) if entry.base_dir else None,
               output_root=str(policy.root) if policy.root else None,
               chosen={nid: str(p) for nid, p in policy.chosen.items()}, draft=entry.draft,
               overwrite=policy.overwrite)


class FarmQueue(QObject):
    """Runs the entries given to ``add`` on the farm at ``address``. ``status`` says where the farm stands
    ("starting", "ready", why it failed); ``status_changed`` fires with it."""

    status_changed = Signal(str)
    _progressed = Signal(object)  # studio.farm.worker.Progress, from the farm thread
    _ended = Signal(object)  # JobOutcome, from the farm thread
    _ready = Signal(str)
    _started = Signal(int, str)  # job index, worker

    def __init__(self, address: str, queue: RenderQueue, registry: NodeRegistry, *, workers: int | None = None,
                 farm_factory: Callable[..., Any] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.address, self.queue, self.registry, self.workers = address, queue, registry, workers
        self._factory = farm_factory
        self._pending: deque[Job] = deque()
        self._sent: set[int] = set()  # entry numbers handed to the farm (cancelling one stops its batch)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._farm: Any = None
        self.status = f"starting the farm at '{address}'…"
        self._progressed.connect(self._on_progress)
        self._ended.connect(self._on_ended)
        self._ready.connect(self._set_status)
        self._started.connect(self._on_started)
        self._in_batch = False  # the farm thread is inside Farm.run: new renders may join the batch
        self._joining: list[BackgroundJob] = []
        self._thread = BackgroundJob(self._loop, "farm", parent=self)
        self._thread.failed.connect(self._farm_failed)

    # ---- main thread
    def add(self, entries: list[QueuedRender]) -> None:
        """Hand ``entries`` (queued, marked for this farm) to the farm thread, starting the farm on first use."""
        from studio.farm.farm import missing_assets

        jobs = []
        for entry in entries:
            job = job_for(entry, self.registry)
            missing = missing_assets([job], self.registry)
            if missing:  # the workers read the same paths: they would fail the same way, later
                self.queue.update(entry, state=FAILED, ended=time.monotonic(),
                                  message="the farm cannot see: " + "; ".join(missing))
                continue
            self.queue.update(entry, message=self.status)
            jobs.append(job)
        if jobs and self._in_batch and hasattr(self._farm, "submit"):
            self._join_batch(jobs)
        else:
            with self._lock:
                self._pending.extend(jobs)
            self._wake.set()
        self.start()

    def _join_batch(self, jobs: list[Job]) -> None:
        """Add renders to the batch the farm runs now, off the main thread; if it has just ended, they wait for
        the next one."""
        farm = self._farm

        def join(_ctx: JobContext) -> None:
            with self._lock:
                self._sent.update(job.index for job in jobs)
            try:
                farm.submit(jobs)
            except StudioError:
                with self._lock:
                    self._sent.difference_update(job.index for job in jobs)
                    self._pending.extend(jobs)
                self._wake.set()

        job = BackgroundJob(join, "farm-submit", parent=self)
        job.finished.connect(lambda: self._joining.remove(job))
        self._joining.append(job)
        job.start()
    def start(self) -> None:
        """Start the farm now (in the background), before anything is sent to it."""
        if self._thread.thread is None:
            self._thread.start()

    def cancel(self, entry: QueuedRender) -> bool:
        """Cancel one farm render: a waiting one leaves the queue; one the farm has already is stopped alone
        (Farm.cancel_job), the others go on."""
        with self._lock:
            waiting = next((j for j in self._pending if j.index == entry.number), None)
            if waiting is not None:
                self._pending.remove(waiting)
        if waiting is not None:
            return self.queue.cancel_waiting(entry)
        with self._lock:
            sent = entry.number in self._sent
        farm = self._farm
        if sent and farm is not None:
            farm.cancel_job(entry.number)
            return True
        return False

    def cancel_all(self) -> None:
        with self._lock:
            dropped = [j.index for j in self._pending]
            self._pending.clear()
        for number in dropped:
            entry = self.queue.get(number)
            if entry is not None:
                self.queue.cancel_waiting(entry)
        if self._farm is not None and self._sent:
            self._farm.cancel()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the farm's renders and its workers (closing the window)."""
        self.cancel_all()
        self._closing.set()
        self._wake.set()
        self._thread.wait(timeout)

    @property
    def busy(self) -> bool:
        return bool(self._pending or self._sent)

    def _set_status(self, text: str) -> None:
        self.status = text
        for entry in self.queue.entries:
            if entry.where == self.address and entry.state == QUEUED:
                self.queue.update(entry, message=text)
        self.status_changed.emit(text)

    def _on_started(self, index: int, worker: str) -> None:
        entry = self.queue.get(index)
        if entry is not None and entry.state == QUEUED:
            self.queue.update(entry, state=RUNNING, started=time.monotonic(), message=f"on {worker}")

    def _on_progress(self, state: Any) -> None:
        entry = self.queue.get(state.index)
        if entry is None or entry.state in ENDED:
            return
        if entry.state == QUEUED:
            self.queue.update(entry, state=RUNNING, started=time.monotonic(), message=f"on {state.worker}")
        if state.preview is not None:  # sent at most twice a second per worker (studio.farm)
            entry.preview = state.preview
        self.queue.progress(entry, state.node_id, state.step, state.total, message=state.message)

    def _on_ended(self, outcome: JobOutcome) -> None:
        with self._lock:
            self._sent.discard(outcome.index)
        entry = self.queue.get(outcome.index)
        if entry is None:
            return
        now = time.monotonic()
        started = entry.started if entry.started is not None else now - outcome.seconds
        where = f" on {outcome.worker}" if outcome.worker else ""
        self.queue.update(entry, state=STATES.get(outcome.status, FAILED), started=started, ended=now,
                          written=[Path(p) for p in outcome.written],
                          message=(outcome.message or f"rendered{where}"))

    def _farm_failed(self, why: str) -> None:
        """The farm could not start (no Ray, an address nobody answers): its renders fail with the reason."""
        self._set_status(f"the farm at '{self.address}' did not start: {why}")
        with self._lock:
            dropped = [j.index for j in self._pending]
            self._pending.clear()
        for number in dropped:
            entry = self.queue.get(number)
            if entry is not None and entry.state not in ENDED:
                self.queue.update(entry, state=FAILED, ended=time.monotonic(), message=self.status)

    # ---- the farm thread
    def _emit(self, name: str, *values: Any) -> None:
        # on the main thread, where the window is deleted: checked and emitted there (a check here and an emit
        # later could straddle the window closing)
        emit_on_main(self, name, *values)

    def _loop(self, _ctx: JobContext) -> None:
        if self._factory is None:
            from studio.farm import Farm

            self._factory = Farm
        farm = self._factory(self.address, workers=self.workers, registry=self.registry)
        self._farm = farm
        try:
            self._emit("_ready", f"farm at '{self.address}': {farm.count} worker(s), ready")
            while not self._closing.is_set():
                self._wake.wait(POLL_S)
                self._wake.clear()
                with self._lock:
                    batch = list(self._pending)
                    self._pending.clear()
                    self._sent.update(job.index for job in batch)
                if batch and not self._closing.is_set():
                    callbacks: dict[str, Any] = {"on_finished": lambda o: self._emit("_ended", o),
                                                 "on_progress": lambda p: self._emit("_progressed", p)}
                    if "on_started" in inspect.signature(farm.run).parameters:
                        callbacks["on_started"] = lambda job, worker, _try: self._emit("_started", job.index,
                                                                                       worker)
                    self._in_batch = True
                    try:
                        farm.run(batch, **callbacks)
                    except StudioError as exc:  # refused as a whole (a job needs more GPU memory than any has)
                        for job in batch:
                            self._emit("_ended", JobOutcome(job.index, job.describe(), "failed", message=str(exc)))
                    finally:
                        self._in_batch = False
        finally:
            self._farm = None
            farm.close()
