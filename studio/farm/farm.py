"""The head of a render farm: hands Jobs to worker actors on a Ray cluster in the person's order, streams their
progress, retries a job whose worker died, and places every finished clip in the output folder.

Failures are told apart: a worker that died (kill -9, a lost node) is replaced and its job goes to the next
free worker, from the start; a job that failed for a reason of its own (a missing file, a bad value) fails
once, with its message. Cancelling stops every running job at its next step and drops the queued ones.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from studio.engine.jobs import Job, JobOutcome, writer_nodes
from studio.engine.outputs import resolve_output
from studio.errors import StudioError
from studio.farm.worker import PROGRESS_EVERY_S, Progress, RenderWorker
from studio.graph import NodeRegistry
from studio.media.outputs import place_output

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # a job whose workers keep dying is given up after this many tries, whatever the reason
SAME_POINT_DEATHS = 3  # ...or sooner, when its workers died this many times in a row at the same point
WORKER_THREADS = 4  # render + progress + cancel calls answered at once by one actor
COMPANIONS = (".otio",)


class Farm:
    """Workers on a Ray cluster. ``address``: "local" starts (or joins) a Ray on this machine; anything else is
    a Ray address ("ray://head:10001", "auto"). ``workers``: how many (default: one per GPU, else 2).
    ``torch_threads``: torch threads per worker (default: the cores divided among the workers)."""

    def __init__(self, address: str = "local", *, workers: int | None = None, torch_threads: int | None = None,
                 registry: NodeRegistry | None = None, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise StudioError(f"the farm needs Ray, which is not installed ({exc})",
                              hint="pip install 'studio[farm]'") from None
        self._ray = ray
        self.registry = registry or NodeRegistry.default()
        self._started_ray = False
        if not ray.is_initialized():
            try:
                if address == "local":
                    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                             logging_level=logging.WARNING)
                else:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise StudioError(f"cannot reach the Ray cluster at '{address}': {exc}",
                                  hint="start it with `ray start --head`, or use --farm local") from None
            self._started_ray = True
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        self.count = workers or gpus or min(2, cpus)
        self.torch_threads = torch_threads or (None if gpus else max(1, cpus // self.count))
        self._actor = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_concurrency=WORKER_THREADS,
                                 max_restarts=0)(RenderWorker)
        self._serial = 0
        self.workers: list[Any] = [self._spawn() for _ in range(self.count)]
        self._cancel = threading.Event()

    # ---- workers
    def _spawn(self):
        self._serial += 1
        return self._actor.remote(f"worker-{self._serial}", self.torch_threads)

    def pids(self) -> list[int]:
        """The process id of each worker (for tests and the fault benchmark, which kill them)."""
        return [pid for _, pid in self._ray.get([w.identity.remote() for w in self.workers])]

    def cancel(self) -> None:
        """Stop the batch: running jobs at their next step, queued ones never start. Safe from any thread."""
        self._cancel.set()
        for worker in list(self.workers):
            worker.cancel.remote()

    def close(self) -> None:
        for worker in self.workers:
            self._ray.kill(worker)
        self.workers = []
        if self._started_ray:
            self._ray.shutdown()

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- a batch
    def run(self, jobs: Sequence[Job], *, on_finished: Callable[[JobOutcome], None] | None = None,
            on_progress: Callable[[Progress], None] | None = None) -> list[JobOutcome]:
        """Render ``jobs`` (first queued, first started) and return one outcome per job, in job order.
        ``on_progress`` gets each worker's progress at most every 0.2 s; ``on_finished`` each outcome."""
        ray = self._ray
        self._cancel.clear()
        ray.get([w.resume.remote() for w in self.workers])
        queue: deque[tuple[Job, int]] = deque((job, 1) for job in jobs)
        idle = list(self.workers)
        running: dict[Any, tuple[Job, int, Any, float]] = {}  # ref -> job, attempt, worker, started
        outcomes: dict[int, JobOutcome] = {}
        where: dict[int, tuple[str, int]] = {}  # job index -> (node, step) it last reported
        deaths: dict[int, list[tuple[str, int, float]]] = {}  # job -> (node, step, seconds in) of each death

        def finish(outcome: JobOutcome) -> None:
            outcomes[outcome.index] = outcome
            if on_finished is not None:
                on_finished(outcome)

        last_poll = 0.0
        while queue or running:
            while queue and idle and not self._cancel.is_set():
                job, attempt = queue.popleft()
                worker = idle.pop(0)
                running[worker.render.remote(job.to_dict())] = (job, attempt, worker, time.perf_counter())
            if self._cancel.is_set():
                while queue:
                    job, attempt = queue.popleft()
                    finish(JobOutcome(job.index, job.describe(), "cancelled", attempts=attempt))
            if not running:
                break
            ready, _ = ray.wait(list(running), num_returns=1, timeout=PROGRESS_EVERY_S)
            for ref in ready:
                job, attempt, worker, started = running.pop(ref)
                try:
                    answer = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # a bug in the worker's code, not a lost worker
                    log.error("job %d crashed its worker's code: %s", job.index, exc)
                    idle.append(worker)
                    finish(JobOutcome(job.index, job.describe(), "failed", seconds=time.perf_counter() - started,
                                      attempts=attempt, message=f"internal error: {str(exc).strip().splitlines()[-1]}"))
                    continue
                except ray.exceptions.RayActorError as exc:
                    # the worker died under the job: never the job's fault, so it runs again elsewhere
                    log.warning("a worker died during job %d (try %d): %s", job.index, attempt,
                                str(exc).strip().splitlines()[0])
                    self.workers.remove(worker)
                    replacement = self._spawn()
                    self.workers.append(replacement)
                    idle.append(replacement)
                    deaths.setdefault(job.index, []).append(
                        (*where.pop(job.index, ("", 0)), time.perf_counter() - started))
                    verdict = give_up(deaths[job.index])
                    if self._cancel.is_set():
                        finish(JobOutcome(job.index, job.describe(), "cancelled", attempts=attempt))
                    elif verdict:
                        finish(JobOutcome(job.index, job.describe(), "failed",
                                          seconds=time.perf_counter() - started, attempts=attempt, message=verdict))
                    else:
                        queue.appendleft((job, attempt + 1))  # keeps its place at the head of the queue
                    continue
                idle.append(worker)
                finish(self._outcome(job, attempt, answer, time.perf_counter() - started))
            now = time.monotonic()
            if running and now - last_poll >= PROGRESS_EVERY_S:
                # polled even with nobody listening: where a job was when its worker died tells a random
                # kill from a job that kills its workers itself (see give_up)
                last_poll = now
                for state in self._poll_progress(running):
                    where[state.index] = (state.node_id, state.step)
                    if on_progress is not None:
                        on_progress(state)
        return [outcomes[job.index] for job in jobs]

    def _poll_progress(self, running: dict) -> list[Progress]:
        refs = [worker.progress.remote() for (_, _, worker, _) in running.values()]
        try:
            states = self._ray.get(refs, timeout=PROGRESS_EVERY_S)
        except (self._ray.exceptions.RayError, TimeoutError):
            return []  # a dying or busy worker: its next report, or its death, comes on a later round
        return [state for state in states if state.index]

    def _outcome(self, job: Job, attempt: int, answer: dict[str, Any], seconds: float) -> JobOutcome:
        status, message = answer["status"], answer.get("message", "")
        written: list[str] = []
        if status == "ok":
            try:
                written = place_files(job, self.registry, answer["files"])
            except (StudioError, OSError) as exc:
                status, message = "failed", f"the clip could not be placed in the output folder: {exc}"
        return JobOutcome(job.index, job.describe(), status, tuple(written), seconds, message,
                          answer.get("worker", ""), attempt, float(answer.get("seconds", 0.0)))


def give_up(deaths: Sequence[tuple[str, int, float]]) -> str:
    """Why a job whose workers died at these points (node, step, seconds into the try), in order, is not
    tried again, or "".

    A worker killed from outside (kill -9, a machine lost) dies wherever its job happened to be; a job that
    kills its workers itself (memory, a crash in a library) dies at the same node and step, about as long
    into each try (a model load is one long step 0, so the time tells them apart there). Such a job fails
    after SAME_POINT_DEATHS deaths in a row at one point; any job after MAX_ATTEMPTS."""
    last = list(deaths[-SAME_POINT_DEATHS:])
    steps = [step for _, step, _ in last]
    seconds = [t for _, _, t in last]
    if len(last) == SAME_POINT_DEATHS and len({node for node, _, _ in last}) == 1 and (
            max(steps) - min(steps) <= 2 and max(seconds) - min(seconds) <= max(2.0, 0.25 * max(seconds))):
        node, step, _ = last[-1]
        at = f"node '{node}', step {step}" if node else "before it reported any progress"
        return (f"its worker died {len(deaths)} times, the last {SAME_POINT_DEATHS} at the same point ({at}): "
                "the job itself is likely what kills it (out of memory?)")
    if len(deaths) >= MAX_ATTEMPTS:
        return f"its worker died {len(deaths)} times"
    return ""


def place_files(job: Job, registry: NodeRegistry, files: dict[str, dict[str, bytes]]) -> list[str]:
    """Write a finished job's clips into its output folder on this machine (the head): each written whole
    beside its destination, then moved to its name or the next free version, with the same rules as a local
    render (never replacing what Studio did not write; a draft never replacing a full render)."""
    graph, policy = job.build(registry)
    base = Path(job.base_dir) if job.base_dir else None
    written = []
    for nid in writer_nodes(graph, registry):
        produced = files.get(nid) or {}
        dest = resolve_output(policy, nid, str(graph.nodes[nid].params.get("path", "")), base)
        main = produced.get(dest.suffix.lower())
        if main is None:
            continue  # a writer that wrote nothing this time (bypassed downstream, a format it names otherwise)
        placed = _place(main, dest, policy.overwrite, policy.draft,
                        companions=tuple(s for s in COMPANIONS if s in produced))
        for suffix in COMPANIONS:
            if suffix in produced:
                _place(produced[suffix], placed.with_suffix(suffix), True, policy.draft, companions=())
        written.append(str(placed))
    return written


def _place(data: bytes, dest: Path, overwrite: bool, draft: bool, companions: tuple[str, ...]) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        from studio.fileio import shareable_mode

        os.chmod(tmp, shareable_mode())
        return place_output(Path(tmp), dest, overwrite=overwrite, draft=draft, companions=companions)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def missing_assets(jobs: Sequence[Job], registry: NodeRegistry) -> list[str]:
    """Files the jobs read that this machine cannot see, each named with its node, checked before anything is
    submitted. The farm reads assets from storage every node sees (the same path on each): a file missing on
    the head is missing on the workers too."""
    found: list[str] = []
    for job in jobs:
        graph, _ = job.build(registry)
        for nid, node in graph.nodes.items():
            spec = registry.get(node.type)
            if spec is None or node.bypassed:
                continue
            for pspec in spec.params:
                value = node.params.get(pspec.name, pspec.default)
                if pspec.kind == "path" and not pspec.output_file and isinstance(value, str) and value:
                    path = Path(value).expanduser()
                    if not path.is_absolute() and job.base_dir:
                        path = Path(job.base_dir) / path
                    line = f"node '{nid}': file '{path}' of parameter '{pspec.name}' does not exist"
                    if not path.exists() and line not in found:
                        found.append(line)
    return found
