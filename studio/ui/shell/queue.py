"""The render queue: renders waiting their turn, the one running, and those that ended, as plain entries.

Ctrl+Enter while a render runs queues the graph as it is now (a snapshot); batches (seeds, sweeps) queue one
entry per variation. The render controller runs them one after another on the same engine and cache; the
queue panel lists them, with per-entry cancel and an ETA from the measured time of finished renders.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.engine.outputs import OutputPolicy
from studio.graph import Graph

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ENDED = (DONE, FAILED, CANCELLED)


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

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.monotonic()) - self.started

    def fraction(self) -> float:
        if self.state in ENDED:
            return 1.0
        return self.step / self.total if self.total else 0.0


class RenderQueue(QObject):
    """The entries in order; ``changed`` fires for one entry's state or progress, ``listed`` when entries
    are added or removed."""

    changed = Signal(object)  # QueuedRender
    listed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entries: list[QueuedRender] = []
        self._numbers = 0

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
        return next((e for e in self.entries if e.state == QUEUED), None)

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

    def progress(self, entry: QueuedRender, node: str, step: int, total: int, now: float | None = None) -> None:
        """A step of the running node: kept with the time it was reached, for the ETA."""
        now = time.monotonic() if now is None else now
        if entry.pace is None or entry.pace[0] != node or step < entry.pace[1]:
            entry.pace = (node, step, now)
        self.update(entry, node=node, step=step, total=total)

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

    def eta(self, entry: QueuedRender, now: float | None = None) -> float | None:
        """Seconds until ``entry`` ends: the running one from its progress, queued ones from the mean time of
        finished renders of the same kind (draft or full) ahead of them; None before anything was measured."""
        now = time.monotonic() if now is None else now
        done = [e.seconds for e in self.entries if e.state == DONE and e.seconds is not None]
        typical = {d: [e.seconds for e in self.entries if e.state == DONE and e.draft == d and e.seconds]
                   for d in (False, True)}

        def expected(e: QueuedRender) -> float | None:
            same = typical[e.draft]
            return sum(same) / len(same) if same else (sum(done) / len(done) if done else None)

        total = 0.0
        for e in self.entries:
            if e.state == RUNNING:
                left = None
                guess = expected(e)
                if guess is not None and e.started is not None:  # a render of this graph took this long
                    left = max(0.0, guess - (now - e.started))
                elif e.pace is not None and e.step > e.pace[1]:  # the first: from the running node's pace
                    per_step = (now - e.pace[2]) / (e.step - e.pace[1])
                    left = per_step * (e.total - e.step)
                if left is None:
                    return None
                total += left
            elif e.state == QUEUED:
                guess = expected(e)
                if guess is None:
                    return None
                total += guess
            if e is entry:
                return total if e.state not in ENDED else None
        return None
