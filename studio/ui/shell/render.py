"""Runs the graph on the engine's worker thread and brings its events to the Qt main thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from studio.engine import Engine, Event, NodeFinished, NodeProgress, RunFinished, RunHandle, RunStarted
from studio.engine.jobs import Override
from studio.priority import hold_short_switch
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.last_render import LastRender
from studio.ui.shell.queue import CANCELLED, DONE, FAILED, RUNNING, QueuedRender, RenderQueue
from studio.ui.shell.session import EditSession

if TYPE_CHECKING:
    from studio.ui.shell.farm_queue import FarmQueue

DELIVERY_HZ = 30  # engine events reach the widgets at most this often


@dataclass(frozen=True)
class LoggedLine:
    """A line logged while a render ran, queued between its events."""

    text: str
    level: int


class RenderController(QObject):
    """Starts and cancels runs. Events arrive on the worker thread; they are queued, progress
    events for the same node replace each other while undelivered, and the main thread drains
    the queue in one go, so it never has more to do than it paints.

    ``last`` holds the newest finished render: a run that ends well is published there once its
    result is in, and panels subscribe to it rather than to the run handle."""

    event = Signal(object)  # each engine event, on the main thread
    running_changed = Signal(bool)
    farm_added = Signal(object)  # a FarmQueue, when renders first go to its address
    forgotten = Signal()  # another graph is on the canvas: what was shown of this one's runs goes
    logged = Signal(str, int)  # a line logged while a render ran (text, level), in order with its events
    _wake = Signal()

    def __init__(self, session: EditSession, engine: Engine | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.engine = engine or Engine(session.registry)
        self.handle: RunHandle | None = None
        self._lock = threading.Lock()
        self._queue: deque[Event | LoggedLine] = deque()
        self._progress_at: dict[str, int] = {}  # node id -> index of its undelivered progress event
        self._woken = False
        self._dropped = 0
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._last_drain = 0.0
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._drain)
        self.last = LastRender(self)
        self.queue = RenderQueue(self)
        self._current: QueuedRender | None = None
        self._written: list[Path] = []
        self._streamed: str | None = None
        self._timed = False  # a node of this run taught the step times: save them when it ends
        self._saving: BackgroundJob | None = None
        self.target = ""  # where a new render goes: "" this machine, else a farm's address (the Queue panel's choice)
        self.farms: dict[str, FarmQueue] = {}
        self.farm_factory = None  # how a farm is made: studio.farm.Farm (tests give Ray fewer cores)
        self._result_poll = QTimer(self)  # RunFinished arrives just before the worker hands over the result
        self._result_poll.setInterval(5)
        self._result_poll.timeout.connect(self._publish_when_done)
        self._switch_back = lambda: None  # ends the short GIL switch interval of the run on this machine
        # from just before a run starts here until its result is taken: lines logged meanwhile are its lines
        # (``running`` is not yet true for the worker's first line: the handle comes back after it starts)
        self._taking_lines = False

    @property
    def running(self) -> bool:
        return self.handle is not None and not self.handle.done

    @property
    def current(self) -> QueuedRender | None:
        """The queue entry this machine's engine runs now (farm renders run elsewhere)."""
        return self._current

    @property
    def coalesced(self) -> int:
        """Progress events replaced before the main thread saw them (for tests and benchmarks)."""
        return self._dropped

    def start(self, targets: list[str] | None = None, draft: bool = False, export: bool = False) -> bool:
        """Render now on the engine's worker thread (False while another render runs: see ``submit``)."""
        if self.running:
            return False
        self.submit(targets, draft, export)
        return True

    def submit(self, targets: list[str] | None = None, draft: bool = False, export: bool = False,
               variations: Sequence[Sequence[Override]] = ((),), label: str = "",
               where: str | None = None) -> list[QueuedRender]:
        """Queue the graph as it is now, once per variation (a tuple of NODE.PARAM=VALUE overrides: seeds,
        sweeps); it starts at once when nothing runs. ``draft`` runs generators at their draft steps and,
        unless ``export`` asks for it, stops short of the exporters (a draft is a look, not a file).
        ``where``: "" this machine, else a farm's address; by default ``target`` (the Queue panel's choice).
        Raises StudioError for an override the graph cannot take (before anything is queued)."""
        from studio.engine.engine import draft_copy, preview_targets
        from studio.engine.jobs import apply_override, tag_for, tagged, writer_nodes
        from studio.ui.shell.output_folder import policy_for

        registry = self.session.registry
        base = Path(self.session.path.parent) if self.session.path else None
        graph = self.session.graph.copy()  # the editor keeps editing while this waits and runs
        if draft:
            graph, _ = draft_copy(graph, registry)
            if targets is None and not export:
                targets = preview_targets(graph, registry)
        kind = "draft" if draft else "render"
        made = []
        for overrides in variations:
            snapshot = graph.copy() if len(variations) > 1 or overrides else graph
            for override in overrides:
                apply_override(snapshot, registry, override)
            tag = tag_for(overrides)
            for nid in writer_nodes(snapshot, registry) if tag else ():  # clip_seed3.mp4, as studio render names it
                snapshot.set_param(nid, "path", tagged(str(snapshot.nodes[nid].params.get("path", "")), tag))
            what = " ".join(dict.fromkeys(str(o) for o in overrides))
            name = label or self.session.display_name
            made.append((f"{name} · {kind}" + (f" · {what}" if what else ""), snapshot,
                         list(targets) if targets is not None else None, base, policy_for(draft), draft))
        where = self.target if where is None else where
        if where:
            made = [(f"{text} · on the farm", *rest) for text, *rest in made]
        entries = self.queue.add_many(made)
        for entry, overrides in zip(entries, variations, strict=True):
            entry.varied = list(dict.fromkeys(str(o) for o in overrides))
            entry.where = where
        if where:
            self.farm_for(where).add(entries)
        elif not self.running:
            self._start_next()
        return entries

    def farm_for(self, address: str) -> FarmQueue:
        """The farm at ``address``, kept until the window closes; it starts (off the main thread) on first use."""
        from studio.ui.shell.farm_queue import FarmQueue

        farm = self.farms.get(address)
        if farm is None:
            farm = self.farms[address] = FarmQueue(address, self.queue, self.session.registry,
                                                   farm_factory=self.farm_factory, parent=self)
            self.farm_added.emit(farm)
        return farm

    def close_farms(self) -> None:
        for farm in self.farms.values():
            farm.close()
        self.farms.clear()

    def _start_next(self) -> bool:
        if self.running:
            return False
        entry = self.queue.next_queued()
        if entry is None:
            return False
        self._result_poll.stop()
        self._current = entry
        self._written, self._streamed = [], None
        self.queue.update(entry, state=RUNNING, started=time.monotonic())
        # while it runs, a thread running Python hands the GIL back to the main thread within 0.5 ms, not 5: a run
        # that imports (the first after launch waits for the warm-up's imports) otherwise stalls every repaint
        self._switch_back()
        self._switch_back = hold_short_switch()
        self._taking_lines = True
        # below the main thread's priority: on a machine with few cores the UI wins the CPU at once
        self.handle = self.engine.start(entry.graph, entry.targets, listener=self._listen, base_dir=entry.base_dir,
                                        background=True, outputs=entry.outputs)
        self.running_changed.emit(True)
        return True

    def forget(self) -> None:
        """The canvas holds another graph now: stop its renders (queued ones too), and drop its last render."""
        self.cancel_all()
        self._result_poll.stop()
        if self._current is not None and self._current.state == RUNNING:  # its RunFinished will find no entry
            self.queue.update(self._current, state=CANCELLED, ended=time.monotonic(), message="another graph opened")
        self._current = None  # a run of the old graph that still ends well is not this graph's last render
        self.last.clear()
        self.forgotten.emit()

    def cancel_all(self) -> None:
        for farm in self.farms.values():
            farm.cancel_all()
        for entry in self.queue.entries:
            if not entry.where:
                self.queue.cancel_waiting(entry)
        self.cancel()

    def cancel_entry(self, number: int) -> bool:
        """Cancel one render of the queue: a waiting one leaves the queue, the running one stops at its next step."""
        entry = self.queue.get(number)
        if entry is None:
            return False
        if entry.where and entry.where in self.farms:
            return self.farms[entry.where].cancel(entry)
        if entry.state == RUNNING:
            return self.cancel()
        return self.queue.cancel_waiting(entry)

    def cancel(self) -> bool:
        if not self.running:
            return False
        assert self.handle is not None
        self.handle.cancel()
        return True

    # ---- worker thread
    def take_logged(self, text: str, level: int) -> bool:
        """A line logged (on any thread) while a render runs here joins the queue of its events, so the log
        shows it where it happened: after "render started", before "render ok". False when nothing runs."""
        if not self._taking_lines:
            return False
        self._listen(LoggedLine(text, level))
        return True

    def _listen(self, event: Event | LoggedLine) -> None:
        if isinstance(event, RunFinished):  # here too, not only on the main thread: a closed window still ends it
            self._switch_back()
        with self._lock:
            if isinstance(event, NodeProgress):
                at = self._progress_at.get(event.node_id)
                if at is not None:
                    self._queue[at] = event
                    self._dropped += 1
                    return
                self._progress_at[event.node_id] = len(self._queue)
            self._queue.append(event)
            if self._woken:
                return
            self._woken = True
        if shiboken6.isValid(self):  # the window may be closing
            with contextlib.suppress(RuntimeError):
                self._wake.emit()

    # ---- main thread
    def _drain(self) -> None:
        """Deliver what arrived, at most DELIVERY_HZ times a second: a fast worker then costs
        the main thread a bounded amount of work, and progress events merge while they wait."""
        wait_ms = int((self._last_drain + 1.0 / DELIVERY_HZ - time.monotonic()) * 1000)
        if wait_ms > 0:
            if not self._later.isActive():
                self._later.start(wait_ms)
            return
        self._last_drain = time.monotonic()
        with self._lock:
            events: list[Event | LoggedLine] = list(self._queue)
            self._queue.clear()
            self._progress_at.clear()
            self._woken = False
        finished = False
        for event in events:
            if isinstance(event, LoggedLine):
                self.logged.emit(event.text, event.level)
                continue
            self._note(event)
            self.event.emit(event)
            finished = finished or isinstance(event, RunFinished)
        if finished:
            self.running_changed.emit(False)

    def _note(self, event: Event) -> None:
        """What the last-render record needs from the events: files written, the streaming node, the end."""
        if isinstance(event, RunStarted):
            self._written, self._streamed = [], None
        elif isinstance(event, NodeProgress):
            if event.preview is not None:
                self._streamed = event.node_id
            if self._current is not None:
                self.queue.progress(self._current, event.node_id, event.step, event.total, message=event.message)
        elif isinstance(event, NodeFinished):
            self._written.extend(Path(p) for p in event.written)
            if self._current is not None:
                self._timed = self.queue.node_finished(self._current, event.node_id, event.seconds) or self._timed
        elif isinstance(event, RunFinished):
            if self._current is not None:
                state = {"ok": DONE, "failed": FAILED}.get(event.status, CANCELLED)
                self.queue.update(self._current, state=state, ended=time.monotonic(), message=event.message,
                                  written=list(self._written))
            if self._timed:
                self._timed = False
                self.save_step_times()
            self._result_poll.start()
            self._publish_when_done()

    def save_step_times(self) -> BackgroundJob:
        """Keep the measured step times for the next session (written atomically, off the main thread)."""
        times = self.queue.times
        text = times.text()
        job = BackgroundJob(lambda _ctx: times.save_text(text), "step-times", parent=self)
        job.finished.connect(job.deleteLater)
        self._saving = job
        return job.start()

    def flush(self) -> None:
        """Deliver the events that arrived and publish a run that has ended, now: what reads the last render
        at once (Export, pressed the moment a render ends) must not miss it."""
        self._last_drain = 0.0
        self._drain()
        if self._result_poll.isActive():
            self._publish_when_done()

    def _publish_when_done(self) -> None:
        """Once the worker has handed over the result: publish a good one, then start the next queued render."""
        handle = self.handle
        if handle is None:
            self._result_poll.stop()
            return
        if not handle.done:
            return
        self._result_poll.stop()
        self._taking_lines = False
        self._switch_back()  # a run that ended without RunFinished (an engine error) ends it here
        entry, self._current = self._current, None
        if entry is not None and handle.result is not None and handle.result.ok:
            extra = {"graph": entry.graph, "label": entry.label, "base_dir": entry.base_dir,
                     "varied": list(entry.varied), "seconds": entry.seconds}
            self.last.publish(handle.result, draft=entry.draft,
                              written=tuple(self._written), streamed=self._streamed, extra=extra)
        QTimer.singleShot(0, self._start_next)

    def wait(self, timeout: float = 5.0) -> None:
        """Block until the current run ends (closing the window, tests)."""
        if self.handle is not None:
            self.handle.wait(timeout)
