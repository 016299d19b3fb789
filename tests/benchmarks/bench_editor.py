"""Editor figures: load and pan of a 300-node graph, main-thread stalls while rendering, cold start."""

# Run on demand: QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 python -m tests.benchmarks.bench_editor [--stress]
# --batch: only the stall figures (a queued batch from the first second after launch and warmed up, one render,
# the idle floor); compare versions side by side in the same minutes (a worktree of the old commit)

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCHED = time.perf_counter()  # the launch-batch child measures from here (before Qt and Studio import)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))


from studio.graph import Graph, NodeRegistry, ParamSpec, PortSpec, node, save_graph  # noqa: E402
from tests import toy_nodes  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@node("bench.Generate", title="Generate (bench)", category="Generate", inputs=[PortSpec("x", "FLOAT")],
      outputs=[PortSpec("y", "FLOAT")],
      params=[ParamSpec("steps", "int", 150, minimum=1, maximum=1000), ParamSpec("seed", "seed", 0)])
def busy(ctx, x, steps, seed):
    """Denoising-like work on the worker thread with a whole-clip preview at every step: torch on all
    cores, as a model's steps are (its threads are the worker's own, as in a real render)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn((16, 16, 32, 32), generator=generator)
    eye = torch.eye(32)
    for k in range(1, steps + 1):
        ctx.check_cancelled()
        for _ in range(4):
            latents = torch.tanh(latents @ eye * 0.99)
        preview = ((latents[:3].permute(1, 2, 3, 0) + 1) * 127).clamp(0, 255).to(torch.uint8).numpy()
        ctx.progress(k, steps, preview=preview)
    return float(latents.mean()) + x


def registry() -> NodeRegistry:
    reg = toy_nodes.registry()
    reg.register(busy)
    return reg


def big_graph(reg: NodeRegistry, nodes: int = 300, links: int = 400, seed: int = 1,
              spread: int = 2) -> Graph:
    """A graph laid out as people build them: columns of nodes, each fed from the column before.

    20 rows by 15 columns: sources in the first, two-input nodes after; every 'a' input is linked
    and 'b' inputs until there are ``links`` links, each from a row at most ``spread`` away
    (``spread`` = 20 links any row to any row: long crossing links, a stress case).
    """
    rnd = random.Random(seed)
    rows = 20
    cols = nodes // rows
    g = Graph()
    ids = [[f"c{c}r{r}" for r in range(rows)] for c in range(cols)]
    for c in range(cols):
        for r in range(rows):
            spec = reg.get("test.Number" if c == 0 else "test.Add")
            g.add_node(spec, ids[c][r], position=(c * 300.0, r * 160.0))
    wanted = []
    for port in ("a", "b"):
        for c in range(1, cols):
            for r in range(rows):
                wanted.append((c, r, port))
    for c, r, port in wanted[:links]:
        src_row = max(0, min(rows - 1, r + rnd.randint(-spread, spread)))
        src = ids[c - 1][src_row]
        g.connect(src, "value" if c == 1 else "sum", ids[c][r], port)
    return g


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def bench_load_and_pan(spread: int = 2, prefix: str = "") -> dict[str, float]:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from studio.ui.shell.app import application
    from studio.ui.shell.window import MainWindow

    app = application()
    reg = registry()
    path = Path(tempfile.mkdtemp()) / "big.studio.json"
    save_graph(big_graph(reg, spread=spread), path, reg)
    window = MainWindow(reg)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    t0 = time.perf_counter()
    window.open_path(path, confirmed=True)
    window.view.viewport().repaint()
    load = time.perf_counter() - t0
    assert len(window.scene.nodes) == 300 and len(window.scene.links) == 400
    out = {prefix + "load_s": load}
    view = window.view
    for label, zoom in (("pan_1.0", 1.0), ("pan_0.5", 0.5), ("pan_all", None)):
        if zoom is None:
            view.frame_all()
        else:
            view.resetTransform()
            view.scale(zoom, zoom)
            view.centerOn(window.scene.nodes["c7r10"])
        app.processEvents()
        times, cpu = [], []
        for i in range(150):
            # one frame of a drag: the view scrolls, then Qt paints what the scroll exposed
            t, c = time.perf_counter(), time.thread_time()
            view.pan_by(QPoint(9 if (i // 50) % 2 == 0 else -9, 4))
            app.processEvents()
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
        times, cpu = times[10:], cpu[10:]
        out[f"{prefix}{label}_mean_ms"] = statistics.mean(times)
        out[f"{prefix}{label}_p50_ms"] = percentile(times, 50)
        out[f"{prefix}{label}_p99_ms"] = percentile(times, 99)
        # the main thread's own CPU time per frame: what the editor costs, without the waits for
        # a CPU that other processes share (the wall-clock p99 above includes those)
        out[f"{prefix}{label}_cpu_p99_ms"] = percentile(cpu, 99)
        t = time.perf_counter()
        view.viewport().repaint()
        out[f"{prefix}{label}_full_repaint_ms"] = (time.perf_counter() - t) * 1000
    window.session.undo.setClean()
    window.close()
    QApplication.processEvents()
    return out


class TickGaps:
    """A 16 ms Qt timer on the main thread and the gaps between its ticks (ms): how long the UI stalled."""

    def __init__(self, interval_ms: int = 16) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.gaps: list[float] = []
        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = self.clock.nsecsElapsed()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.gaps.append((now - self.last) / 1e6)
        self.last = now

    def stop(self) -> list[float]:
        """The gaps, without the first (the timer's own start-up)."""
        self.timer.stop()
        return self.gaps[1:]


class LongCollections:
    """Python's garbage-collector passes over 50 ms, in any thread (each holds the GIL throughout: the editor
    cannot paint meanwhile), from ``start`` on."""

    def __init__(self) -> None:
        import gc

        self.seconds: list[float] = []
        self._began = 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began and time.perf_counter() - self._began > 0.05:
            self.seconds.append(time.perf_counter() - self._began)

    def start(self) -> None:
        self.seconds.clear()

    def found(self) -> dict[str, float]:
        import gc

        gc.callbacks.remove(self._note)
        return {"gc_passes_over_50ms": len(self.seconds), "gc_longest_ms": max(self.seconds, default=0.0) * 1000}


def timed_render(app, window, limit_s: float = 120) -> tuple[float, list[float]]:
    """Render the window's graph pumping events as the editor's loop does, then close the window:
    (seconds, the main thread's tick gaps in ms)."""
    ticks = TickGaps()
    t0 = time.perf_counter()
    window.render()
    # until the queue entry is done, not only the engine: its result is published a moment after the worker
    # ends, and closing before that asks whether to stop the render (a modal question the benchmark never answers)
    while (window.renderer.running or window.files.active_renders()) and time.perf_counter() - t0 < limit_s:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - t0
    gaps = ticks.stop()
    window.session.undo.setClean()
    window.close()
    return seconds, gaps


def bench_render_stall(timeline: bool = True, prefix: str = "") -> dict[str, float]:
    import torch  # noqa: F401 - imported by the first render; its import stall is first_render_*
    from PySide6.QtCore import QPointF

    from studio.engine import NodeProgress
    from studio.ui.shell.app import application
    from studio.ui.shell.window import MainWindow

    app = application()
    reg = registry()
    window = MainWindow(reg, timeline=timeline)
    window.resize(1400, 900)
    window.show()
    src = window.editing.add_node(reg.get("test.Number"), QPointF(0, 0))
    gens = []
    for i in range(3):
        gid = window.editing.add_node(reg.get("bench.Generate"), QPointF(300, i * 200))
        window.session.edit("link", lambda g, gid=gid: g.connect(src, "value", gid, "x"))
        sink = window.editing.add_node(reg.get("test.Sink"), QPointF(600, i * 200))
        window.session.edit("link", lambda g, gid=gid, sink=sink: g.connect(gid, "y", sink, "x"))
        gens.append(gid)
    # settle first: the window's first paint and the inspector's update for the new nodes are not
    # part of a render
    deadline = time.perf_counter() + 0.5
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    progress_seen = []
    window.renderer.event.connect(lambda ev: progress_seen.append(1) if isinstance(ev, NodeProgress) else None)
    seconds, gaps = timed_render(app, window)
    found = {"render_s": seconds, "ticks": len(gaps), "gap_p50_ms": percentile(gaps, 50),
             "gap_p95_ms": percentile(gaps, 95),
             "gap_p99_ms": percentile(gaps, 99), "gap_max_ms": max(gaps), "progress_delivered": len(progress_seen),
             "progress_coalesced": window.renderer.coalesced}
    return {prefix + k: v for k, v in found.items()}


def batch_window(reg, timeline: bool):  # type: ignore[no-untyped-def]
    """The batch figures' editor: a 60-step bench generator between a number and a sink, shown at 1400x900."""
    from PySide6.QtCore import QPointF

    from studio.ui.shell.window import MainWindow

    window = MainWindow(reg, timeline=timeline)
    window.resize(1400, 900)
    window.show()
    src = window.editing.add_node(reg.get("test.Number"), QPointF(0, 0))
    gid = window.editing.add_node(reg.get("bench.Generate"), QPointF(300, 0))
    sink = window.editing.add_node(reg.get("test.Sink"), QPointF(600, 0))
    window.session.edit("link", lambda g: (g.connect(src, "value", gid, "x"), g.connect(gid, "y", sink, "x")))
    window.session.set_param(gid, "steps", 60)
    return window


def run_batch(app, window, reg, renders: int, t0: float) -> float:  # type: ignore[no-untyped-def]
    """Queue seeds 1..``renders`` and pump events as the editor's loop does until the queue is done: seconds
    since ``t0``."""
    from studio.engine.jobs import parse_seeds, variations

    window.renderer.submit(variations=variations(window.session.graph, reg, parse_seeds(f"1-{renders}")))
    while (window.renderer.running or window.renderer.queue.waiting()) and time.perf_counter() - t0 < 300:
        app.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - t0


def bench_queued_batch(renders: int = 4, prefix: str = "batch_") -> dict[str, float]:
    """Main-thread stalls while a batch of ``renders`` seeds runs from the queue, with the Queue, History and
    Metrics panels open (History and Metrics floating, so both paint), from the first render to the last; the
    editor warmed up (bench_launch_batch: the same from the first second after launch)."""
    import torch  # noqa: F401 - imported by the first render; its import stall is first_render_*

    from studio.ui.shell.app import application, warm_up

    warm_up().join()  # as in the editor a while after launch: the model stack imported (bench_launch_batch: before)
    app = application()
    reg = registry()
    window = batch_window(reg, timeline=True)
    window.metrics_dock.raise_()  # its tab shows: the panel builds (pyqtgraph), as when a person opens it
    app.processEvents()
    for dock in (window.history_dock, window.metrics_dock):
        dock.setFloating(True)
        dock.show()
        dock.resize(520, 360)
    deadline = time.perf_counter() + 1.0  # the Metrics panel builds (pyqtgraph) as it first shows
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    assert window.metrics is not None, "the Metrics panel did not build"
    collections = LongCollections()
    ticks = TickGaps()
    t0 = time.perf_counter()
    seconds = run_batch(app, window, reg, renders, t0)
    gaps = ticks.stop()
    collected = collections.found()
    deadline = time.perf_counter() + 10  # the last render's history record is written off the main thread
    while len(window.history_panel.records) < renders and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)
    kept = len(window.history_panel.records)
    window.session.undo.setClean()
    window.close()
    found = {"render_s": seconds, "renders": renders, "history_kept": kept, "ticks": len(gaps),
             "gap_p50_ms": percentile(gaps, 50), "gap_p99_ms": percentile(gaps, 99), "gap_max_ms": max(gaps),
             "metrics_redraws": window.metrics.redraws, **collected}
    return {prefix + k: v for k, v in found.items()}


def launch_batch_child(renders: int = 4, at_s: float = 1.0) -> dict[str, float]:
    """In a fresh process, as ``studio.ui.shell.app.main`` starts the editor (the window first, the timeline
    after its first paint, the warm-up a second in), with the History and Metrics docks open as a layout keeps
    them: a batch of ``renders`` seeds queued ``at_s`` seconds after launch, and the main thread's tick gaps
    from then to the last render's end (the warm-up's imports run meanwhile; the batch waits for them)."""
    import json

    from PySide6.QtCore import QTimer

    from studio.ui.shell.app import application, warm_up

    collections = LongCollections()
    app = application()
    reg = registry()
    window = batch_window(reg, timeline=False)
    QTimer.singleShot(0, window.attach_timeline)
    for dock in (window.history_dock, window.metrics_dock):
        dock.setFloating(True)
        dock.show()
        dock.resize(520, 360)
    while time.perf_counter() - LAUNCHED < at_s:
        app.processEvents()
        time.sleep(0.001)
    ticks = TickGaps()
    t0 = time.perf_counter()
    queued_at = t0 - LAUNCHED
    collections.start()
    warm_up()
    seconds = run_batch(app, window, reg, renders, t0)
    gaps = ticks.stop()
    window.session.undo.setClean()
    window.close()
    found = {"queued_at_s": queued_at, "render_s": seconds, "ticks": len(gaps), "gap_p50_ms": percentile(gaps, 50),
             "gap_p99_ms": percentile(gaps, 99), "gap_max_ms": max(gaps), **collections.found()}
    print(json.dumps(found))
    return found


def bench_launch_batch() -> dict[str, float]:
    """The queued batch from the first second after launch, in a fresh process (see launch_batch_child)."""
    import json

    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_editor", "--launch-batch-child"], cwd=ROOT,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return {"launch_batch_" + k: v for k, v in found.items()}


def bench_idle_ticks(seconds: float = 3.0) -> dict[str, float]:
    """The same 16 ms timer with nothing running: the machine's own noise floor for the stall figures."""

    from studio.ui.shell.app import application

    app = application()
    ticks = TickGaps()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        time.sleep(0.001)
    gaps = ticks.stop()
    return {"idle_gap_p50_ms": percentile(gaps, 50), "idle_gap_p99_ms": percentile(gaps, 99),
            "idle_gap_max_ms": max(gaps)}


def bench_cold_start(runs: int = 3) -> dict[str, float]:
    # as studio.ui.shell.app.main does it: the window paints first, the timeline docks join right after
    code = ("import time,sys; t=time.perf_counter();"
            "from studio.ui.shell.app import application, load_registry; app=application();"
            "from studio.ui.shell.window import MainWindow; reg,_=load_registry(); w=MainWindow(reg, timeline=False);"
            "w.show(); app.processEvents(); w.view.viewport().repaint();"
            "print(time.time()); w.attach_timeline(); app.processEvents();"
            "print(time.time()); w.session.undo.setClean(); w.close()")
    usable, complete = [], []
    for _ in range(runs):
        t = time.time()  # wall clock: the child reports the moments it reaches, on the same clock
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
        painted, with_timeline = (float(x) for x in out.stdout.split()[-2:])
        usable.append(painted - t)
        complete.append(with_timeline - t)
    return {"cold_start_to_usable_window_s": min(usable), "cold_start_with_timeline_s": min(complete)}


def first_render_child(warm: bool, idle_s: float = 12.0) -> dict[str, float]:
    """In a fresh process: the first-clip example with the embedded model, first render after launch.

    ``warm``: as ``studio.ui.shell.app.main`` does, the model and export stack import in the background while
    the editor idles; without it, the first render imports them itself.
    """
    import json

    from studio.ui.shell.app import application, load_registry, warm_up
    from studio.ui.shell.files import examples
    from studio.ui.shell.window import MainWindow

    app = application()
    reg, _ = load_registry()
    window = MainWindow(reg)
    window.resize(1400, 900)
    window.show()
    window.open_path(next(p for p in examples() if p.name.startswith("first-clip")), confirmed=True, as_copy=True)
    ticks = TickGaps()
    t0 = time.perf_counter()
    if warm:
        warm_up()
    while time.perf_counter() - t0 < idle_s:
        app.processEvents()
        time.sleep(0.001)
    idle = ticks.stop()
    seconds, gaps = timed_render(app, window, limit_s=300)
    found = {"render_s": seconds, "gap_p99_ms": percentile(gaps, 99), "gap_max_ms": max(gaps),
             "idle_gap_p99_ms": percentile(idle, 99), "idle_gap_max_ms": max(idle)}
    print(json.dumps(found))
    return found


def bench_first_render() -> dict[str, float]:
    """The first render after launch, with and without the background warm-up, each in a fresh process."""
    import json

    results = {}
    for warm in (False, True):
        out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_editor", "--first-render-child"]
                             + (["--warm"] if warm else []), cwd=ROOT, capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
        found = json.loads(out.stdout.strip().splitlines()[-1])
        prefix = "first_render_warm_" if warm else "first_render_cold_"
        results.update({prefix + k: v for k, v in found.items()})
    return results


def main() -> None:
    if "--first-render-child" in sys.argv:
        first_render_child(warm="--warm" in sys.argv)
        return
    if "--launch-batch-child" in sys.argv:
        launch_batch_child()
        return
    if "--batch" in sys.argv:  # the stall figures only: the batch from launch and warm, one render, the floor
        results = {**bench_launch_batch(), **bench_queued_batch(), **bench_render_stall(), **bench_idle_ticks()}
        for key, value in results.items():
            print(f"{key:<32}  {value:.3f}" if isinstance(value, float) else f"{key:<32}  {value}")
        return
    results = {}
    results.update(bench_load_and_pan())
    if "--stress" in sys.argv:
        results.update(bench_load_and_pan(spread=20, prefix="stress_"))
    results.update(bench_render_stall())
    results.update(bench_render_stall(timeline=False, prefix="canvas_only_"))
    results.update(bench_queued_batch())
    results.update(bench_launch_batch())
    results.update(bench_idle_ticks())
    results.update(bench_cold_start())
    results.update(bench_first_render())
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.3f}" if isinstance(value, float) else f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
