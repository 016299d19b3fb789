"""A render in the editor on a busy machine: how long it takes at each nice step of the render's worker thread,
with and without other processes keeping the cores busy, and how long the editor's main thread stalls meanwhile.

The editor's way: the first-clip example (the embedded model) in a MainWindow, rendered by the window
(Engine.start with background=True, the short GIL switch interval held), events pumped as the editor's loop
does; torch's waits spinning briefly (GOMP_SPINCOUNT, as `studio` sets it before torch loads). The nice step
is studio.priority.BACKGROUND, set before each render. Competitors are ``yes > /dev/null`` processes at nice 0
(a browser, a compile), started a second before the render and ended after it. One untimed render first loads
the model (kept for the rest: each window is a fresh engine, so every node runs again). Conditions alternate
round by round, so a machine whose load drifts slows each alike; medians and ratios to nice 0 are reported,
with torch's thread count (studio lowers it on a loaded machine) and `uptime`.

Run on demand:
    QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 python -m tests.benchmarks.bench_render_priority
        [--nice 0,4,10] [--busy 0,2] [--rounds 2] [--limit-s 240] [--steps 20] [--torch-threads N]

--editor-stall: instead, bench_editor's render-stall figure (its 3-generator toy graph, the 33 ms p99 target)
at each nice step, alternating, with no competitors added.
--torch-threads: torch's CPU threads fixed (OMP_NUM_THREADS), e.g. 2 as studio picks on a quiet 2-core machine:
on a loaded one it picks 1 (studio.runtime.loading.fit_cpu_threads), so without it the figures are for 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from studio import warmup

if "--torch-threads" in sys.argv:  # torch's pool as on a quiet machine (studio keeps an explicit count)
    os.environ["OMP_NUM_THREADS"] = sys.argv[sys.argv.index("--torch-threads") + 1]
warmup.short_spin_waits()  # as `studio` does before torch loads and before Qt starts its threads

from tests.benchmarks.bench_editor import bench_render_stall, percentile, timed_render  # noqa: E402


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def render_once(app, reg, nice: int, busy: int, steps: int, limit_s: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One render of the first-clip example in a fresh window, with ``busy`` competing processes."""
    import torch

    from studio import priority
    from studio.ui.shell.files import examples
    from studio.ui.shell.window import MainWindow

    priority.BACKGROUND = nice
    window = MainWindow(reg)
    window.resize(1400, 900)
    window.show()
    window.open_path(next(p for p in examples() if p.name.startswith("first-clip")), confirmed=True, as_copy=True)
    window.session.set_param("generate", "steps", steps)
    hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(busy)]
    try:
        deadline = time.perf_counter() + 1.0  # the competitors take their cores; the new window settles
        while time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.005)
        seconds, gaps = timed_render(app, window, limit_s=limit_s)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    handle = window.renderer.handle
    status = handle.result.status if handle is not None and handle.result is not None else "unfinished"
    if status == "unfinished" and handle is not None:
        handle.cancel_token.cancel()
        handle.wait(60)
    return {"seconds": seconds, "p99": percentile(gaps, 99), "max": max(gaps), "threads": torch.get_num_threads(),
            "ok": status == "ok"}


def editor_stall(nices: list[int], rounds: int) -> None:
    """bench_editor's render-stall figure at each nice step, in the same minutes."""
    from studio import priority

    print("before:", uptime(), flush=True)
    found: dict[int, list[dict[str, float]]] = {n: [] for n in nices}
    for round_ in range(rounds + 1):
        for nice in nices if round_ % 2 else nices[::-1]:
            priority.BACKGROUND = nice
            got = bench_render_stall()
            if round_:  # the first round imports torch and warms up: not counted
                found[nice].append(got)
                print(f"round {round_} nice={nice}: {got['render_s']:.1f} s, stall p99 {got['gap_p99_ms']:.0f} ms "
                      f"max {got['gap_max_ms']:.0f} ms  [{uptime()}]", flush=True)
    print("after:", uptime())
    print(f"\n{'nice':>4} {'render s (median)':>18} {'stall p99 ms (median)':>22} {'stall max ms':>13}")
    for nice in nices:
        got = found[nice]
        print(f"{nice:>4} {statistics.median(r['render_s'] for r in got):>18.1f} "
              f"{statistics.median(r['gap_p99_ms'] for r in got):>22.0f} {max(r['gap_max_ms'] for r in got):>13.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nice", default="0,4,10", help="nice steps of the render's worker thread")
    parser.add_argument("--busy", default="0,2", help="competing busy processes")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit-s", type=float, default=240.0, help="a render still running then is cut off")
    parser.add_argument("--torch-threads", type=int, default=0, help="fix torch's threads (0: studio picks)")
    parser.add_argument("--steps", type=int, default=20, help="Generate's steps (the example has 20)")
    parser.add_argument("--editor-stall", action="store_true", help="bench_editor's render-stall figure instead")
    args = parser.parse_args()
    nices = [int(v) for v in args.nice.split(",")]
    busies = [int(v) for v in args.busy.split(",")]
    if args.editor_stall:
        editor_stall(nices, args.rounds)
        return

    from studio.ui.shell.app import application, load_registry

    app = application()
    reg, _ = load_registry()
    print("before:", uptime(), f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}", flush=True)
    t = time.perf_counter()
    first = render_once(app, reg, 0, 0, args.steps, args.limit_s)
    print(f"model load + first render: {time.perf_counter() - t:.1f} s (ok={first['ok']})", flush=True)
    runs: dict[tuple[int, int], list[dict[str, float]]] = {(b, n): [] for b in busies for n in nices}
    for round_ in range(args.rounds):
        order = [(b, n) for b in busies for n in nices]
        if round_ % 2:
            order.reverse()  # the load average drifts: no condition always goes first
        for busy, nice in order:
            found = render_once(app, reg, nice, busy, args.steps, args.limit_s)
            runs[(busy, nice)].append(found)
            print(f"round {round_ + 1} busy={busy} nice={nice}: {found['seconds']:.1f} s, stall p99 "
                  f"{found['p99']:.0f} ms max {found['max']:.0f} ms, torch threads {found['threads']}"
                  f"{'' if found['ok'] else ' NOT FINISHED'}  [{uptime()}]", flush=True)
    print("after:", uptime())
    print(f"\n{'busy':>4} {'nice':>4} {'render s (median)':>18} {'x nice 0':>8} {'stall p99 ms':>13} "
          f"{'stall max ms':>13}  runs")
    for busy in busies:
        base = statistics.median(r["seconds"] for r in runs[(busy, nices[0])])
        for nice in nices:
            got = runs[(busy, nice)]
            med = statistics.median(r["seconds"] for r in got)
            print(f"{busy:>4} {nice:>4} {med:>18.1f} {med / base:>8.2f} "
                  f"{statistics.median(r['p99'] for r in got):>13.0f} {max(r['max'] for r in got):>13.0f}  "
                  + ", ".join(f"{r['seconds']:.1f}s/{r['p99']:.0f}ms" + ("" if r["ok"] else "!") for r in got))


if __name__ == "__main__":
    sys.exit(main())
