"""Render queue and history figures (issue 17): queue 100 renders, open the History panel on 200 kept renders,
scroll it; the window is a real MainWindow (offscreen), the renders real toy renders.

Run on demand: QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 python -m tests.benchmarks.bench_queue_history
Targets: 100 jobs queued (panel listed) under 1 s; history of 200 opens under 300 ms; scroll p99 under 16 ms.
Each kept render carries a realistic graph: the shots example with its shot list eight times over (about 16 KB).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="bench-home-"))

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.engine.jobs import parse_seeds, variations  # noqa: E402
from studio.media.render_history import HistoryRecord  # noqa: E402
from studio.paths import RESOURCES  # noqa: E402
from studio.ui.shell import files  # noqa: E402
from studio.ui.shell.window import MainWindow  # noqa: E402
from tests.ui.conftest import ui_registry  # noqa: E402


def pump(until, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while not until():
        QApplication.processEvents()
        if time.perf_counter() - start > timeout:
            raise TimeoutError
        time.sleep(0.0005)
    return time.perf_counter() - start


def realistic_graph() -> str:
    """The shots example with eight times its shots, written as a graph file is (indented): about 16 KB."""
    data = json.loads((RESOURCES / "examples" / "shots.studio.json").read_text(encoding="utf-8"))
    shots = next(n for n in data["nodes"] if n["type"] == "studio.ShotList")["params"]["shots"]
    shots[:] = [dict(s, name=f"{s['name']}-{k}") for k in range(8) for s in shots]
    return json.dumps(data, indent=2)


def main() -> None:
    app = QApplication.instance() or QApplication([])
    files.ask_save = lambda *a: "discard"
    registry = ui_registry()
    window = MainWindow(registry, timeline=False)
    window.resize(1400, 900)
    window.show()
    session = window.session
    session.edit("build", lambda g: (g.add_node(registry.get("test.Number"), "n"),
                                     g.add_node(registry.get("test.Slow"), "s"),
                                     g.add_node(registry.get("test.Sink"), "k"),
                                     g.connect("n", "value", "s", "x"), g.connect("s", "y", "k", "x")))
    session.set_param("s", "steps", 400)  # long enough that the queue stays full while we measure
    # ---- 100 jobs
    batch = variations(session.graph, registry, parse_seeds("1-100"))
    start = time.perf_counter()
    window.renderer.submit(variations=batch)
    QApplication.processEvents()
    queued = time.perf_counter() - start
    rows = window.queue_panel.table.rowCount()
    window.renderer.cancel_all()
    window.renderer.wait(10)
    pump(lambda: not window.renderer.running)
    # ---- 200 kept renders
    history = window.render_history()
    frames = np.random.default_rng(1).integers(0, 255, (17, 64, 64, 3), np.uint8)
    graph = realistic_graph()
    for i in range(200):
        history.add(HistoryRecord(0, f"render {i}", time.time(), 2.0, False, graph, varied=[f"s.seed={i}"]),
                    frames)
    reads = []
    for _ in range(5):  # the records alone, as the listing reads them (no thumbnails, no widgets)
        start = time.perf_counter()
        assert len(history.records()) == 200
        reads.append(time.perf_counter() - start)
    opens = []
    for _ in range(5):
        start = time.perf_counter()
        job = window.history_panel.refresh()
        pump(lambda job=job: not job.running and window.history_panel.list.count() == 200)
        QApplication.processEvents()
        opens.append(time.perf_counter() - start)
    window.history_dock.show()
    window.history_dock.raise_()
    window.history_dock.resize(500, 400)
    QApplication.processEvents()
    bar = window.history_panel.list.verticalScrollBar()
    steps = []
    for k in range(200):
        start = time.perf_counter()
        bar.setValue((k * 7) % (bar.maximum() + 1))
        window.history_panel.list.viewport().repaint()
        steps.append(time.perf_counter() - start)
    p99 = float(np.percentile(steps, 99))
    print(f"each kept render's graph: {len(graph) / 1024:.1f} KB")
    print(f"queue 100 jobs (panel listed): {queued * 1000:.0f} ms, {rows} rows   [target < 1000 ms]")
    print(f"history of 200: records read median {statistics.median(reads) * 1000:.1f} ms")
    print(f"history of 200: open median {statistics.median(opens) * 1000:.0f} ms, "
          f"max {max(opens) * 1000:.0f} ms   [target < 300 ms]")
    print(f"history scroll: p50 {np.percentile(steps, 50) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms   [target < 16 ms]")
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main()
