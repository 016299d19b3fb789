"""The head of a render farm: hands Jobs to worker actors on a Ray cluster in the person's order (priority
first), streams their progress and previews, retries a job whose worker died, and signs and places every
finished clip in the output folder.

Failures are told apart: a worker that died (kill -9, a lost node) is replaced and its job goes to the next
free worker, from the start; a job that failed for a reason of its own (a missing file, a bad value) fails
once, with its message. Cancelling stops every running job at its next step and drops the queued ones.

The API a front end uses (the CLI's console.py, the editor's queue panel)::

    farm = Farm("local" | "auto" | "ray://head:10001", workers=None)
    outcomes = farm.run(jobs, on_progress=..., on_finished=..., on_started=...)   # blocks; one thread
    farm.submit(more_jobs)       # from any thread while run() runs: queued by priority, then queue order
    farm.cancel_job(index)       # from any thread: drop a queued job, or stop a running one at its next step
    farm.cancel()                # from any thread: stop every worker at its next step, drop the queue
    farm.close()

Every callback runs on run()'s thread, never at once:

* ``on_started(job, worker, attempt)`` when a job goes to a worker (``worker``: "worker-2@host:pid").
* ``on_progress(Progress)`` with each busy worker's state at most every 0.2 s: ``index`` (the job),
  ``node_id``, ``step``/``total``, ``message``, ``step_seconds`` (the last step's duration, for an ETA) and
  ``preview``: None, or the job's whole clip as it looks now, uint8 [T, h, w, 3], h and w <= 64, T <= 48.
  A preview comes at most twice a second per worker, and the farm asks less of each as more workers run
  (8 previews a second in all), so 16 workers never flood a front end. Keep the last preview per job.
* ``on_finished(JobOutcome)`` once per job: ok (``written``: the clips, signed here) | failed | cancelled.

``run`` raises StudioError before anything starts when a job needs more GPU memory than the largest worker
has (resources.py), naming both figures.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.engine.assets import read_files, resolve_input
from studio.engine.jobs import Job, JobOutcome
from studio.errors import StudioError
from studio.farm.placing import place_files
from studio.farm.resources import Need, check_fits, job_need
from studio.farm.worker import PREVIEW_EVERY_S, PROGRESS_EVERY_S, Progress, RenderWorker, WorkerInfo
from studio.graph import NodeRegistry

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # a job whose workers keep dying is given up after this many tries, whatever the reason
SAME_POINT_DEATHS = 3  # ...or sooner, when its workers died this many times in a row at the same point
WORKER_THREADS = 4  # render + progress + cancel calls answered at once by one actor
PREVIEWS_PER_S = 8.0  # previews a second from all workers together, at most


@dataclass(order=True)
class _Queued:
    """A job waiting for a worker. Sorted by priority (higher first), then by when it was queued; a retried
    job keeps its key, so it goes before every job of its priority queued after it."""

    key: tuple[int, int]
    job: Job = field(compare=False)
    attempt: int = field(default=1, compare=False)
    need: Need = field(default_factory=Need, compare=False)


class Farm:
    """Workers on a Ray cluster. ``address``: "local" starts (or joins) a Ray on this machine; anything else is
    a Ray address ("ray://head:10001", "auto"). ``workers``: how many (default: one per GPU, else 2), each
    holding one GPU (or, without GPUs, one CPU). ``torch_threads``: torch threads per worker (default: the
    cores divided among the workers)."""

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
        # Each worker holds its GPU (or CPU) for as long as it lives: Ray places the workers, one per GPU,
        # and the head packs jobs onto them by their GPU memory (see _pick).
        self._actor = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_concurrency=WORKER_THREADS,
                                 max_restarts=0)(RenderWorker)
        self._serial = 0
        self._info: dict[Any, Any] = {}  # worker -> WorkerInfo, or the ref of its describe() until it answers
        self.workers: list[Any] = [self._spawn() for _ in range(self.count)]
        self._cancel = threading.Event()
        self._lock = threading.Lock()  # guards what submit() and cancel_job() change under a running run()
        self._queue: list[_Queued] = []
        self._dropped: set[int] = set()
        self._seen: set[int] = set()
        self._order = itertools.count()
        self._running = False
        self._cancelled_at: float | None = None
        self.stopped_after: float | None = None  # seconds from the last cancel() to every worker idle
        self.batch = ""

    # ---- workers
    def _spawn(self):
        self._serial += 1
        worker = self._actor.remote(f"worker-{self._serial}", self.torch_threads)
        self._info[worker] = worker.describe.remote()
        return worker

    def _ready(self, worker) -> WorkerInfo | None:
        """The worker's description once it has started (a replacement takes seconds to), else None."""
        info = self._info.get(worker)
        if isinstance(info, WorkerInfo):
            return info
        done, _ = self._ray.wait([info], timeout=0)
        if not done:
            return None
        try:
            self._info[worker] = self._ray.get(done[0])
        except self._ray.exceptions.RayError:
            return None  # died while starting: its render call, if any, says so
        return self._info[worker]

    def describe(self) -> list[WorkerInfo]:
        """Every worker (name, host, GPU memory), waiting for those still starting."""
        found = []
        for worker in list(self.workers):
            info = self._info.get(worker)
            if info is not None and not isinstance(info, WorkerInfo):
                try:
                    info = self._info[worker] = self._ray.get(info)
                except self._ray.exceptions.RayError:
                    continue  # died while starting
            if info is not None:
                found.append(info)
        return found

    def pids(self) -> list[int]:
        """The process id of each worker (for tests and the fault benchmark, which kill them)."""
        return [info.pid for info in self.describe()]

    def cancel(self) -> None:
        """Stop the batch: running jobs at their next step, queued ones never start. Safe from any thread."""
        self._cancelled_at = time.perf_counter()
        self._cancel.set()
        for worker in list(self.workers):
            worker.cancel.remote()

    def cancel_job(self, index: int) -> None:
        """Drop job ``index`` if it is queued, or stop it at its next step if it runs. Safe from any thread."""
        with self._lock:
            self._dropped.add(index)
        for worker in list(self.workers):
            worker.stop.remote(index)

    def submit(self, jobs: Sequence[Job]) -> None:
        """Add jobs to the running batch (the editor queues while the farm renders). Safe from any thread.
        Raises StudioError when no run() is going on, or when an index is already in the batch."""
        entries = self._entries(jobs)
        with self._lock:
            if not self._running:
                raise StudioError("the farm is not running a batch: give these jobs to run()")
            taken = {q.job.index for q in self._queue} | self._seen
            clash = sorted(taken & {e.job.index for e in entries})
            if clash:
                raise StudioError(f"job {clash[0]} is already in this batch", hint="give each job its own index")
            self._seen |= {e.job.index for e in entries}
            for entry in entries:
                bisect.insort(self._queue, entry)

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
    def _entries(self, jobs: Sequence[Job]) -> list[_Queued]:
        """Queue entries for ``jobs``, each with the GPU memory it needs, refusing the lot when one needs more
        than the largest worker has."""
        infos = [i for i in self.describe() if i.vram]
        largest = max(infos, key=lambda i: i.vram, default=None)
        needs = [job_need(job, self.registry) for job in jobs] if largest else [Need() for _ in jobs]
        if largest is not None:
            check_fits(jobs, needs, largest.vram, largest.name)
        return [_Queued((-job.priority, next(self._order)), job, 1, need) for job, need in zip(jobs, needs, strict=True)]

    def run(self, jobs: Sequence[Job], *, on_finished: Callable[[JobOutcome], None] | None = None,
            on_progress: Callable[[Progress], None] | None = None,
            on_started: Callable[[Job, str, int], None] | None = None) -> list[JobOutcome]:
        """Render ``jobs`` (and any submitted meanwhile): higher priority first, then in queue order. Returns
        one outcome per job, in the order given (submitted ones after). See the module docstring for the
        callbacks."""
        ray = self._ray
        if len({job.index for job in jobs}) != len(jobs):
            raise StudioError("two jobs of this batch have the same index", hint="give each job its own index")
        entries = self._entries(jobs)
        self._cancel.clear()
        self.stopped_after, self._cancelled_at = None, None
        self.batch = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        ray.get([w.resume.remote() for w in self.workers])
        with self._lock:
            self._queue, self._dropped, self._running = sorted(entries), set(), True
            self._seen = {job.index for job in jobs}
        order = [job.index for job in jobs]
        idle = list(self.workers)
        running: dict[Any, tuple[_Queued, Any, float]] = {}  # ref -> entry, worker, started
        outcomes: dict[int, JobOutcome] = {}
        where: dict[int, tuple[str, int]] = {}  # job index -> (node, step) it last reported
        deaths: dict[int, list[tuple[str, int, float]]] = {}  # job -> (node, step, seconds in) of each death

        def finish(outcome: JobOutcome) -> None:
            outcomes[outcome.index] = outcome
            if on_finished is not None:
                on_finished(outcome)

        last_poll = 0.0
        try:
            while True:
                for entry in self._take_dropped():
                    finish(JobOutcome(entry.job.index, entry.job.describe(), "cancelled", attempts=entry.attempt))
                while not self._cancel.is_set() and (pick := self._pick(idle)) is not None:
                    entry, worker = pick
                    idle.remove(worker)
                    running[worker.render.remote(entry.job.to_dict())] = (entry, worker, time.perf_counter())
                    if on_started is not None:
                        on_started(entry.job, self._info[worker].name, entry.attempt)
                if self._cancel.is_set():
                    with self._lock:
                        dropped, self._queue = self._queue, []
                    for entry in dropped:
                        finish(JobOutcome(entry.job.index, entry.job.describe(), "cancelled", attempts=entry.attempt))
                if not running:
                    with self._lock:
                        if not self._queue:
                            break
                    if all(self._ready(w) is not None for w in self.workers):
                        for entry in self._unplaceable():
                            finish(JobOutcome(entry.job.index, entry.job.describe(), "failed",
                                              attempts=entry.attempt, message=entry_too_big(entry, self.describe())))
                        continue
                    time.sleep(PROGRESS_EVERY_S)  # queued jobs wait for a worker that is still starting
                    continue
                ready, _ = ray.wait(list(running), num_returns=1, timeout=PROGRESS_EVERY_S)
                for ref in ready:
                    entry, worker, started = running.pop(ref)
                    job, attempt = entry.job, entry.attempt
                    try:
                        answer = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # a bug in the worker's code, not a lost worker
                        log.error("job %d crashed its worker's code: %s", job.index, exc)
                        idle.append(worker)
                        finish(JobOutcome(job.index, job.describe(), "failed", seconds=time.perf_counter() - started,
                                          attempts=attempt,
                                          message=f"internal error: {str(exc).strip().splitlines()[-1]}"))
                        continue
                    except ray.exceptions.RayActorError as exc:
                        # the worker died under the job: never the job's fault, so it runs again elsewhere
                        log.warning("a worker died during job %d (try %d): %s", job.index, attempt,
                                    str(exc).strip().splitlines()[0])
                        self.workers.remove(worker)
                        self._info.pop(worker, None)
                        replacement = self._spawn()
                        self.workers.append(replacement)
                        idle.append(replacement)
                        deaths.setdefault(job.index, []).append(
                            (*where.pop(job.index, ("", 0)), time.perf_counter() - started))
                        verdict = give_up(deaths[job.index])
                        if self._cancel.is_set() or job.index in self._dropped:
                            finish(JobOutcome(job.index, job.describe(), "cancelled", attempts=attempt))
                        elif verdict:
                            finish(JobOutcome(job.index, job.describe(), "failed",
                                              seconds=time.perf_counter() - started, attempts=attempt,
                                              message=verdict))
                        else:
                            with self._lock:  # its old key: first of its priority again
                                bisect.insort(self._queue, _Queued(entry.key, job, attempt + 1, entry.need))
                        continue
                    idle.append(worker)
                    finish(self._outcome(job, attempt, answer, time.perf_counter() - started))
                if self._cancelled_at is not None and not running and self.stopped_after is None:
                    self.stopped_after = time.perf_counter() - self._cancelled_at
                now = time.monotonic()
                if running and not self._cancel.is_set() and now - last_poll >= PROGRESS_EVERY_S:
                    # polled even with nobody listening: where a job was when its worker died tells a random
                    # kill from a job that kills its workers itself (see give_up)
                    last_poll = now
                    for state in self._poll_progress(running):
                        where[state.index] = (state.node_id, state.step)
                        if on_progress is not None:
                            on_progress(state)
        finally:
            with self._lock:
                self._running = False
        order += [i for i in outcomes if i not in order]
        return [outcomes[i] for i in order if i in outcomes]

    def _take_dropped(self) -> list[_Queued]:
        """Queued jobs that cancel_job() dropped, taken out of the queue."""
        with self._lock:
            if not self._dropped:
                return []
            taken = [q for q in self._queue if q.job.index in self._dropped]
            self._queue = [q for q in self._queue if q.job.index not in self._dropped]
            return taken

    def _unplaceable(self) -> list[_Queued]:
        """With every worker started and idle, what is still queued fits none of them (the big GPU's worker
        died and its replacement landed on a smaller one): taken out of the queue, to fail."""
        with self._lock:
            taken, self._queue = self._queue, []
        return taken

    def _pick(self, idle: list) -> tuple[_Queued, Any] | None:
        """The first queued job (by priority, then queue order) that an idle, started worker can hold, and
        the smallest such worker (so a big GPU stays free for a big job). On CPU workers: the first job and
        the first idle worker."""
        ready = [(info, w) for w in idle if (info := self._ready(w)) is not None]
        if not ready:
            return None
        with self._lock:
            for position, entry in enumerate(self._queue):
                fits = [(info.vram, n, w) for n, (info, w) in enumerate(ready)
                        if not info.vram or entry.need.vram <= info.vram]
                if fits:
                    del self._queue[position]
                    return entry, min(fits, key=lambda f: (f[0], f[1]))[2]
        return None

    def _poll_progress(self, running: dict) -> list[Progress]:
        every = max(PREVIEW_EVERY_S, len(running) / PREVIEWS_PER_S)
        refs = [worker.progress.remote(every) for (_, worker, _) in running.values()]
        done, _ = self._ray.wait(refs, num_returns=len(refs), timeout=PROGRESS_EVERY_S)
        states = []
        for ref in done:
            try:
                states.append(self._ray.get(ref))
            except self._ray.exceptions.RayError:
                continue  # a dying worker: its death comes through its render call
        return [state for state in states if state.index]

    def _outcome(self, job: Job, attempt: int, answer: dict[str, Any], seconds: float) -> JobOutcome:
        status, message = answer["status"], answer.get("message", "")
        written: list[str] = []
        if status == "ok":
            farm = {"batch": self.batch, "job": job.index, "attempt": attempt,
                    "worker": answer.get("worker_id", ""), "host": answer.get("host", "")}
            try:
                written = place_files(job, self.registry, answer["files"], signing=answer.get("signing"),
                                      farm=farm)
            except (StudioError, OSError) as exc:
                status, message = "failed", f"the clip could not be signed and placed in the output folder: {exc}"
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


def entry_too_big(entry: _Queued, workers: Sequence[WorkerInfo]) -> str:
    largest = max((w.vram for w in workers), default=0)
    return (f"it needs about {entry.need.vram / 2**30:.1f} GiB of GPU memory ({entry.need.what}) and the "
            f"largest worker left has {largest / 2**30:.1f} GiB")


def missing_assets(jobs: Sequence[Job], registry: NodeRegistry) -> list[str]:
    """Files the jobs read that this machine cannot see, each named with its node, checked before anything is
    submitted. The farm reads assets from storage every node sees (the same path on each): a file missing on
    the head is missing on the workers too."""
    found: list[str] = []
    for job in jobs:
        graph, _ = job.build(registry)
        for nid, what, value in read_files(graph, registry):
            path = resolve_input(value, Path(job.base_dir) if job.base_dir else None)
            line = f"node '{nid}': file '{path}' of parameter '{what}' does not exist"
            if not path.exists() and line not in found:
                found.append(line)
    return found
