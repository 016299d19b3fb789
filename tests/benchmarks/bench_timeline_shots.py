"""Scrubbing with a 50-shot sequence's sections on the timeline against the same clip without them.

The clip and the scrub are bench_timeline's (2880 frames of 720p, random seeks dragged on the ruler, mouse move to
the viewer having painted that frame); the runs alternate, without and with the shots lane, in one process.
Run on demand: ``QT_QPA_PLATFORM=offscreen python -m tests.benchmarks.bench_timeline_shots [--quick]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from PySide6.QtWidgets import QApplication

from studio.ui.timeline.shotplan import ShotSection
from tests.benchmarks.bench_timeline import COUNT, bench_scrub, fill, window

SHOTS = 50


def fifty_shots() -> list[ShotSection]:
    rng = np.random.default_rng(5)
    cuts = np.sort(rng.choice(np.arange(1, COUNT), SHOTS - 1, replace=False))
    starts = [0, *cuts.tolist()]
    ends = [*cuts.tolist(), COUNT]
    return [ShotSection(a, b - a, f"shot {i + 1}: the red circle", "a red circle moves right", i % 3 == 1)
            for i, (a, b) in enumerate(zip(starts, ends, strict=True))]


def lane_paint_ms(docks, rounds: int = 30) -> float:
    lane = docks.timeline.shots
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        lane.repaint()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def main() -> None:
    quick = "--quick" in sys.argv
    app = QApplication.instance() or QApplication([])
    win, docks = window((960, 540))
    fill(docks, 12 if quick else 48)
    docks.model.clip_changed.emit()
    store = docks.model.store
    arrived = time.perf_counter()
    while not store.proxies_done() and time.perf_counter() - arrived < 120:  # the steady state: proxies made
        QApplication.processEvents()
        time.sleep(0.02)
    seeks = 100 if quick else 300
    rounds = 3
    shots = fifty_shots()
    lane = docks.timeline.shots
    results: dict[str, list[dict]] = {"without": [], "with 50 shots": []}
    for _round in range(rounds):  # alternated: the machine's load drifts between runs
        for name in results:
            docks.model.set_shots(shots if name != "without" else [])
            for _ in range(5):
                QApplication.processEvents()
            paints, spent = lane.paints, lane.paint_s
            run = bench_scrub(docks, seeks)
            run["lane_ms_per_seek"] = (lane.paint_s - spent) * 1000 / max(1, run["seeks"])
            run["lane_paints"] = lane.paints - paints
            results[name].append(run)
    for name, runs in results.items():
        p50 = [r["p50_ms"] for r in runs]
        p99 = [r["p99_ms"] for r in runs]
        print(f"scrub {name:>13}: p50 {' / '.join(f'{v:.1f}' for v in p50)} ms, "
              f"p99 {' / '.join(f'{v:.1f}' for v in p99)} ms (median p99 {np.median(p99):.1f}), "
              f"max {max(r['max_ms'] for r in runs):.1f} ms over {sum(r['seeks'] for r in runs)} seeks "
              f"({rounds} rounds); shots lane painting {np.mean([r['lane_ms_per_seek'] for r in runs]):.2f} ms "
              f"a seek ({sum(r['lane_paints'] for r in runs)} paints)")
    docks.model.set_shots(shots)
    QApplication.processEvents()
    print(f"shots lane, {SHOTS} sections with thumbnails, full repaint at {docks.timeline.shots.width()} px: "
          f"median {lane_paint_ms(docks):.2f} ms; thumbnails scaled {docks.timeline.shots.thumbs_made}")
    win.close()
    docks.model.close()
    app.processEvents()


if __name__ == "__main__":
    main()
