"""The farm on a terminal (``studio render --farm``): the asset check, one status line for all workers, one
line per finished job, Ctrl+C cancelling every worker."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from studio.engine.jobs import Job, JobOutcome
from studio.errors import StudioError
from studio.farm.farm import Farm, missing_assets
from studio.farm.worker import Progress
from studio.graph import NodeRegistry


def render_on_farm(jobs: Sequence[Job], registry: NodeRegistry, address: str, *, workers: int | None,
                   progress: bool, line: Callable[[JobOutcome], str]) -> list[JobOutcome] | None:
    """Run ``jobs`` on the farm at ``address``, printing ``line(outcome)`` as each finishes. Returns the
    outcomes, or None when the person pressed Ctrl+C (every worker was told to stop at its next step)."""
    missing = missing_assets(jobs, registry)
    if missing:  # before Ray starts: the workers read the same paths, so they would fail the same way
        raise StudioError("the farm cannot see every file the graph reads:\n  " + "\n  ".join(missing),
                          hint="put assets on storage every machine of the farm sees, under the same path")
    status = StatusLine() if progress else None

    def finished(outcome: JobOutcome) -> None:
        if status is not None:
            status.clear()
        print(line(outcome), flush=True)

    with Farm(address, workers=workers, registry=registry) as farm:
        print(f"farm: {farm.count} workers on '{address}', {len(jobs)} jobs", file=sys.stderr)
        try:
            return farm.run(jobs, on_finished=finished, on_progress=status)
        except KeyboardInterrupt:
            print("\ncancelling every worker at its next step...", file=sys.stderr)
            farm.cancel()
            return None


class StatusLine:
    """One line on the terminal for the whole farm, each worker's job and step, redrawn in place (the farm
    calls it at most every 0.2 s)."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def __call__(self, update: Progress) -> None:
        step = f" {update.step}/{update.total}" if update.total else ""
        self.states[update.worker.split("@")[0]] = f"job {update.index} {update.node_id}{step}"
        text = "  |  ".join(f"{w}: {s}" for w, s in sorted(self.states.items()))
        print("\r\033[K" + text[:200], end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
