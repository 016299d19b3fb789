"""The farm's scaling and overhead: a batch of seeds on 1 vs 2 Ray workers (one torch thread each), and the
per-job cost of the farm against the same jobs queued on one local engine (also one torch thread).

Each setup renders a warm-up job per worker first (model load left out: a worker loads once per batch). The
batch is then split into rounds, each rendered on every setup in turn, so that load from other programs on a
shared machine falls on all setups alike. The clips are full signed exports, placed in a scratch folder. The
farm's overhead per job is what the head sees minus what the worker spent on the job (Ray's scheduling, the
clip's trip back, placing it), next to a local job's time.

Run on demand:  python -m tests.benchmarks.bench_farm [--jobs 16 --steps 20 --rounds 4]
The fault figure:  python -m tests.benchmarks.bench_farm --jobs 16 --steps 20 --fault-kills 10
Cancelling:  python -m tests.benchmarks.bench_farm --steps 20 --cancel-trials 8  (Farm.cancel() at a random step
of a batch on 2 workers, to every worker idle, next to the duration of a step)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "examples" / "first-clip.studio.json"


def make(folder: Path, registry, seeds: list[int], steps: int):  # type: ignore[no-untyped-def]
    from studio.engine.jobs import Override, apply_override, make_jobs
    from studio.graph import dumps, load_graph

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.studio.json"
    shutil.copy(EXAMPLE, path)
    graph = load_graph(path, registry)
    apply_override(graph, registry, Override("generate", "steps", str(steps)))
    return make_jobs(dumps(graph, registry), graph, registry, seeds=seeds, base_dir=folder)


SPIN = """
import time, torch
torch.set_num_threads(1)
a = torch.randn(256, 256)
t = time.perf_counter()
for _ in range(3000):
    a @ a
print(time.perf_counter() - t)
"""


def machine_ceiling() -> float:
    """What two single-threaded torch processes get done next to one, on this machine as loaded now: the
    most any 2-worker farm can scale here."""
    import subprocess
    import sys

    def spin(n: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return max(float(p.communicate()[0]) for p in procs)

    one = spin(1)
    return round(2 * one / spin(2), 2)


class LocalQueue:
    """The jobs one after another on one engine in this process (the editor's queue, `studio render --seeds`)."""

    def __init__(self, registry) -> None:
        import torch

        from studio.engine import Engine

        torch.set_num_threads(1)
        self.registry = registry
        self.engine = Engine(registry)

    def run(self, jobs) -> list[float]:
        times = []
        for job in jobs:
            graph, policy = job.build(self.registry)
            started = time.perf_counter()
            result = self.engine.run(graph, base_dir=job.base_dir, outputs=policy)
            times.append(time.perf_counter() - started)
            assert result.ok, result.failed
        return times


def fault(root: Path, registry, jobs: int, steps: int, kills: int) -> dict:
    """``kills`` workers killed (SIGKILL) at random moments of a batch on 2 workers: every job must still
    complete, every clip verify, and no job leave two clips."""
    import random
    import signal
    import threading

    from studio.farm import Farm
    from studio.media.verify import verify_file

    rng = random.Random(7)
    killed: list[tuple[int, str, int]] = []
    busy: dict[str, tuple[float, int, str, int]] = {}  # worker -> (when, job, node, step) it last reported
    done = threading.Event()

    def on_progress(update) -> None:
        busy[update.worker] = (time.monotonic(), update.index, update.node_id, update.step)

    def killer() -> None:
        # at moments drawn apart from any report (uniform gaps), kill a worker that is on a job right now
        while len(killed) < kills and not done.wait(rng.uniform(3, 15)):
            running = [(w, state) for w, state in list(busy.items()) if time.monotonic() - state[0] < 1.0]
            if running:
                worker, (_, index, node, step) = rng.choice(running)
                busy.pop(worker, None)
                os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)
                killed.append((index, node, step))

    batch = make(root / "fault", registry, list(range(1, jobs + 1)), steps)
    started = time.perf_counter()
    with Farm("local", workers=2, torch_threads=1, registry=registry) as farm:
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        outcomes = farm.run(batch, on_progress=on_progress)
        done.set()
    wall = time.perf_counter() - started
    clips = sorted((root / "fault" / "renders").glob("*.mp4"))
    return {
        "jobs": jobs, "kills": len(killed), "wall_s": round(wall, 1),
        "completed": sum(o.status == "ok" for o in outcomes),
        "retried_jobs": sum(o.attempts > 1 for o in outcomes),
        "clips": len(clips), "duplicates": len(clips) - len({c.name.split("_0")[0] for c in clips}),
        "verified": sum(verify_file(c, trust_anchors="local").ok for c in clips),
        "failed_messages": [o.message for o in outcomes if o.status != "ok"],
        "killed_at": [f"job {i} {node} step {step}" for i, node, step in killed],
    }


def cancel_latency(root: Path, registry, steps: int, trials: int) -> dict:
    """``trials`` batches of 2 jobs on 2 workers, each cancelled once both workers are past a random step:
    the seconds from Farm.cancel() to every worker idle (``Farm.stopped_after``), next to the step time the
    workers reported just before (a cancel is meant to take at most the step under way)."""
    import random
    import statistics

    from studio.farm import Farm

    rng = random.Random(3)
    rows = []
    with Farm("local", workers=2, torch_threads=1, registry=registry) as farm:
        farm.run(make(root / "cancel-warm", registry, [1, 2], 1))  # both workers load the model first
        for trial in range(trials):
            at = rng.randint(2, steps - 6)
            steps_seen: dict[int, int] = {}
            step_s: dict[str, float] = {}

            def on_progress(update, at=at, steps_seen=steps_seen, step_s=step_s) -> None:
                if update.total == steps:
                    steps_seen[update.index] = update.step
                    if update.step_seconds:
                        step_s[update.worker] = update.step_seconds
                # while both denoise (a cancel that lands in the VAE decode waits for the decode: not a step)
                if (len(steps_seen) == 2 and min(steps_seen.values()) >= at and max(steps_seen.values()) < steps - 1
                        and farm.stopped_after is None):
                    farm.cancel()

            batch = make(root / f"cancel{trial}", registry, [10 + 2 * trial, 11 + 2 * trial], steps)
            outcomes = farm.run(batch, on_progress=on_progress)
            if farm.stopped_after is None:
                continue  # the two never denoised at once past the chosen step: no figure from this trial
            assert all(o.status == "cancelled" for o in outcomes), [o.status for o in outcomes]
            step = max(step_s.values()) if step_s else float("nan")
            rows.append((farm.stopped_after, step, max(steps_seen.values())))
    stops = [r[0] for r in rows]
    ratios = [r[0] / r[1] for r in rows]
    return {
        "steps": steps, "trials": trials, "measured": len(rows),
        "stopped_after_ms": [round(1000 * r[0]) for r in rows],
        "step_ms": [round(1000 * r[1]) for r in rows],
        "cancelled_at_step": [r[2] for r in rows],
        "median_stop_ms": round(1000 * statistics.median(stops)),
        "worst_stop_in_steps": round(max(ratios), 2),
        "within_one_step": sum(r <= 1.0 for r in ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4,
                        help="the batch is split into rounds, each run on every setup in turn, so that load "
                        "from other programs falls on all setups alike")
    parser.add_argument("--fault-kills", type=int, default=0,
                        help="instead: kill this many workers at random moments of the batch, then check it")
    parser.add_argument("--cancel-trials", type=int, default=0,
                        help="instead: cancel this many batches at random steps and time each stop")
    args = parser.parse_args()

    import ray

    from studio.farm import Farm
    from studio.graph import NodeRegistry

    root = Path(tempfile.mkdtemp(prefix="bench-farm-"))
    os.environ.setdefault("STUDIO_HOME", str(root / "home"))  # one signing identity for head and workers
    registry = NodeRegistry.default()
    # Logical slots for the three workers alive at once; each worker runs one torch thread on the real cores.
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    if args.fault_kills or args.cancel_trials:
        try:
            found = (fault(root, registry, args.jobs, args.steps, args.fault_kills) if args.fault_kills
                     else cancel_latency(root, registry, args.steps, args.cancel_trials))
            print(json.dumps(found | {"load_average_after": os.getloadavg()[0]}, indent=2))
        finally:
            ray.shutdown()
            shutil.rmtree(root, ignore_errors=True)
        return
    seeds = iter(range(1, 100_000))
    per_round = max(1, args.jobs // args.rounds)
    wall = {"local": 0.0, "farm1": 0.0, "farm2": 0.0}
    overhead: list[float] = []
    local_times: list[float] = []
    farm_render: list[float] = []
    try:
        local = LocalQueue(registry)
        farm1 = Farm("local", workers=1, torch_threads=1, registry=registry)
        farm2 = Farm("local", workers=2, torch_threads=1, registry=registry)
        # warm-up: every worker (and the local engine) loads the model once
        local.run(make(root / "warm", registry, [next(seeds)], args.steps))
        for farm in (farm1, farm2):
            assert all(o.status == "ok" for o in farm.run(make(root / "warm", registry,
                                                               [next(seeds) for _ in farm.workers], args.steps)))
        for r in range(args.rounds):
            started = time.perf_counter()
            local_times += local.run(make(root / f"local{r}", registry,
                                          [next(seeds) for _ in range(per_round)], args.steps))
            wall["local"] += time.perf_counter() - started
            for name, farm in (("farm1", farm1), ("farm2", farm2)):
                batch = make(root / f"{name}-{r}", registry, [next(seeds) for _ in range(per_round)], args.steps)
                started = time.perf_counter()
                outcomes = farm.run(batch)
                wall[name] += time.perf_counter() - started
                assert all(o.status == "ok" for o in outcomes), [o.message for o in outcomes]
                if name == "farm1":
                    overhead += [o.seconds - o.render_seconds for o in outcomes]
                    farm_render += [o.render_seconds for o in outcomes]
        farm1.close()
        farm2.close()
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    ceiling = machine_ceiling()
    jobs = per_round * args.rounds
    local_job = sum(local_times) / len(local_times)
    result = {
        "jobs": jobs, "steps": args.steps, "rounds": args.rounds, "cores": os.cpu_count(),
        "load_average_after": os.getloadavg()[0],
        "wall_s": {k: round(v, 2) for k, v in wall.items()},
        "speedup_2_vs_1_worker": round(wall["farm1"] / wall["farm2"], 2),
        "machine_ceiling_2_vs_1_process": ceiling,
        "local_job_s": round(local_job, 3),
        "farm1_job_on_worker_s": round(sum(farm_render) / len(farm_render), 3),
        "farm_overhead_per_job_s": round(sum(overhead) / len(overhead), 3),
        "farm_overhead_pct_of_local_job": round(100 * sum(overhead) / len(overhead) / local_job, 2),
        "farm1_vs_local_wall_pct": round(100 * (wall["farm1"] - wall["local"]) / wall["local"], 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
