"""The render queue: renders waiting their turn, the one running, and those that ended, as plain entries.

Ctrl+Enter while a render runs queues the graph as it is now (a snapshot); batches (seeds, sweeps) queue one
entry per variation. The render controller runs them one after another on the same engine and cache; the
queue panel lists them, with per-entry cancel and an ETA: from seconds per step measured in earlier sessions
(studio/ui/shell/eta.py) before a render starts, from the running node's pace while it runs, else from the time
finished renders took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.engine.outputs import OutputPolicy
from studio.graph import Graph
from studio.ui.shell.eta import StepTimes, step_key, steps_of
from studio.ui.shell.passes import Pass, next_pass


def clock(seconds: float | None) -> str:
    """Seconds as m:ss (h mm past an hour), or a dash when not known."""
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600} h {seconds // 60 % 60:02d}"


QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ENDED = (DONE, FAILED, CANCELLED)


@dataclass(frozen=True)
class _Basis:
    overhead: float  # seconds the last finished render spent beyond its stepping nodes
    means: dict[bool | None, float]  # mean seconds of finished renders: drafts, full renders, all (None)


@dataclass(eq=False)
class QueuedRender:
    """One render in the queue: the graph snapshot it runs, and how far it got."""

    number: int
    label: str
    graph: Graph
    targets: list[str] | None
    base_dir: Path | None
    outputs: OutputPolicy
    draft: bool = False
    where: str = ""  # "" on this machine, else the address of the farm it runs on
    state: str = QUEUED
    step: int = 0
    total: int = 0
    node: str = ""
    message: str = ""
    queued_at: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    written: list[Path] = field(default_factory=list)
    varied: list[str] = field(default_factory=list)  # NODE.PARAM=VALUE this render varies (a batch's seed)
    pace: tuple[str, int, float] | None = None  # (node, step, when) the running node's step timing starts from
    passes: Pass | None = None  # the running node's pass, when it runs several ("pass 1 of 2: camera guide")
    stepped: set[str] = field(default_factory=set)  # nodes that reported steps (their time is a step time)
    stepping_seconds: float = 0.0  # what those nodes took; the rest of the render is overhead
    expected: tuple[int, float | None] | None = None  # (StepTimes.version, seconds its stepping nodes take)
    # a farm render's clip as it takes shape (uint8 [T, h, w, 3], small): the worker's latest preview
    preview: Any = None

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.monotonic()) - self.started

    def steps_text(self, short: bool = False) -> str:
        """The running node's steps, with its pass when it runs several: "pass 1 of 2: camera guide · step 3/20"
        (``short``, for the node: "pass 1/2: camera guide · 3/20")."""
        steps = f"{self.step}/{self.total}" if short else f"step {self.step}/{self.total}"
        if self.passes is None:
            return steps
        return f"{self.passes.short() if short else self.passes.label()} · {steps}"

    def doing(self) -> str:
        """What the running render does now: "generate: pass 1 of 2: camera guide · step 3/20"."""
        return f"{self.node}: {self.steps_text()}" if self.total else self.node

    def fraction(self) -> float:
        if self.state in ENDED:
            return 1.0
        return self.step / self.total if self.total else 0.0


class RenderQueue(QObject):
    """The entries in order; ``changed`` fires for one entry's state or progress, ``listed`` when entries
    are added or removed."""

    changed = Signal(object)  # QueuedRender
    listed = Signal()

    def __init__(self, parent: QObject | None = None, times: StepTimes | None = None) -> None:
        super().__init__(parent)
        self.entries: list[QueuedRender] = []
        self._numbers = 0
        self.times = times if times is not None else StepTimes()

    def add(self, label: str, graph: Graph, targets: list[str] | None, base_dir: Path | None,
            outputs: OutputPolicy, draft: bool = False) -> QueuedRender:
        self._numbers += 1
        entry = QueuedRender(self._numbers, label, graph, targets, base_dir, outputs, draft)
        self.entries.append(entry)
        self.listed.emit()
        return entry

    def add_many(self, entries: list[tuple[str, Graph, list[str] | None, Path | None, OutputPolicy, bool]]
                 ) -> list[QueuedRender]:
        """Queue a batch with one ``listed`` (a hundred seeds must not repaint the panel a hundred times)."""
        made = []
        for label, graph, targets, base, outputs, draft in entries:
            self._numbers += 1
            made.append(QueuedRender(self._numbers, label, graph, targets, base, outputs, draft))
        self.entries.extend(made)
        self.listed.emit()
        return made

    def next_queued(self) -> QueuedRender | None:
        """The next render for this machine's engine (a farm's renders wait for the farm)."""
        return next((e for e in self.entries if e.state == QUEUED and not e.where), None)

    @property
    def running(self) -> QueuedRender | None:
        return next((e for e in self.entries if e.state == RUNNING), None)

    def waiting(self) -> int:
        return sum(e.state == QUEUED for e in self.entries)

    def get(self, number: int) -> QueuedRender | None:
        return next((e for e in self.entries if e.number == number), None)

    def update(self, entry: QueuedRender, **changes: object) -> None:
        for name, value in changes.items():
            setattr(entry, name, value)
        self.changed.emit(entry)

    def progress(self, entry: QueuedRender, node: str, step: int, total: int, now: float | None = None,
                 message: str = "") -> None:
        """A step of the running node: kept with the time it was reached, for the ETA, and the pass it is in."""
        now = time.monotonic() if now is None else now
        passes = next_pass(entry.passes, node, message)
        if entry.pace is None or entry.pace[0] != node or step < entry.pace[1] or passes != entry.passes:
            entry.pace = (node, step, now)
        if total > 1:
            entry.stepped.add(node)
        self.update(entry, node=node, step=step, total=total, passes=passes)

    def node_finished(self, entry: QueuedRender, node: str, seconds: float) -> bool:
        """A node of ``entry`` ended well: a node that stepped teaches the kept step times (True when it did)."""
        key = step_key(entry.graph, node) if node in entry.stepped else None
        if key is None:
            return False
        entry.stepping_seconds += seconds
        self.times.record(key, steps_of(entry.graph, node), seconds)
        return True

    def status_line(self, running: QueuedRender | None, node: str, step: int, total: int) -> str:
        """The status bar while ``running`` renders: what it does, its ETA, how many wait behind it."""
        eta = self.eta(running) if running is not None else None
        waiting = self.waiting()
        return (f"rendering {running.doing() if running is not None else f'{node}: step {step}/{total}'}"
                + (f" · {clock(eta)} left" if eta is not None else "") + (f" · {waiting} waiting" if waiting else ""))

    def cancel_waiting(self, entry: QueuedRender) -> bool:
        """Take a queued entry off the queue (the running one is cancelled through the controller)."""
        if entry.state != QUEUED:
            return False
        self.update(entry, state=CANCELLED, ended=time.monotonic(), message="cancelled before it ran")
        return True

    def clear_ended(self) -> None:
        kept = [e for e in self.entries if e.state not in ENDED]
        if len(kept) != len(self.entries):
            self.entries = kept
            self.listed.emit()

    def expected(self, entry: QueuedRender, basis: _Basis | None = None) -> float | None:
        """Seconds ``entry`` should take from start to end, before it starts: its stepping nodes at the kept
        step times plus the overhead the last finished render had beyond its steps (loading, exporting);
        without kept times, the mean of finished renders of the same kind (draft or full)."""
        basis = basis or self._basis()
        if entry.expected is None or entry.expected[0] != self.times.version:
            entry.expected = (self.times.version, self.times.estimate(entry.graph))
        steps = entry.expected[1]
        if steps is not None:
            return steps + basis.overhead
        return basis.means.get(entry.draft, basis.means.get(None))

    def _basis(self) -> _Basis:
        """What the finished renders tell about the next ones (once per ETA pass, not once per entry)."""
        done = [e for e in self.entries if e.state == DONE and e.seconds is not None]
        stepped = [e for e in done if e.stepping_seconds > 0]
        overhead = max(0.0, stepped[-1].seconds - stepped[-1].stepping_seconds) if stepped else 0.0
        means: dict[bool | None, float] = {}
        for kind in (False, True, None):
            pool = [e.seconds for e in done if kind is None or e.draft == kind]
            if pool:
                means[kind] = sum(pool) / len(pool)
        return _Basis(overhead, means)

    def eta(self, entry: QueuedRender, now: float | None = None) -> float | None:
        """Seconds until ``entry`` ends, counting the renders ahead of it; None while something ahead was
        never measured. The running one: from its node's pace in its last pass, else from what it should take."""
        return self.etas(now).get(entry.number)

    def etas(self, now: float | None = None) -> dict[int, float | None]:
        """Every waiting or running entry's ETA in one pass over the queue (the panel refreshes them all)."""
        now = time.monotonic() if now is None else now
        basis = self._basis()
        found: dict[int, float | None] = {}
        total: float | None = 0.0
        for e in self.entries:
            if e.state == RUNNING:
                left = self._left(e, now, basis)
            elif e.state == QUEUED:
                left = self.expected(e, basis)
            else:
                continue
            total = None if total is None or left is None else total + left
            found[e.number] = total
        return found

    def _left(self, e: QueuedRender, now: float, basis: _Basis) -> float | None:
        live = None
        if e.pace is not None and e.step > e.pace[1]:  # the running node's own pace (its first step excluded)
            per_step = (now - e.pace[2]) / (e.step - e.pace[1])
            live = per_step * (e.total - e.step)
        later_passes = e.passes is not None and e.passes.number < e.passes.count
        guess = self.expected(e, basis)
        # a quick node's pace (loading the model: 5 of 5) says nothing of the steps still to come
        stepping = e.node in e.graph.nodes and step_key(e.graph, e.node) is not None
        if live is not None and not later_passes and (stepping or guess is None):
            return live
        passes_left = None
        if live is not None and later_passes:  # this pass's pace, as long again per pass to come
            assert e.passes is not None and e.pace is not None
            passes_left = live + (e.passes.count - e.passes.number) * (now - e.pace[2]) / (e.step - e.pace[1]) * e.total
        if guess is not None and e.started is not None:
            # A render slower than the last (a busy machine) would count down to 0:00 and stay there with a
            # pass still to run (seen under Xvfb): the live pace wins once it says longer.
            return max(guess - (now - e.started), passes_left or 0.0, 0.0)
        return passes_left
