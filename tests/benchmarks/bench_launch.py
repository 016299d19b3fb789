"""The first 15 seconds after launch: how long the editor freezes while the model stack is imported.

A person works in bursts: for 1.2 s they drag the mouse over the canvas (an event every 16 ms), then look for
1.2 s. The figure is the event loop's stall while they work (a gap between timer ticks beyond 16 ms), from
the first second, with the editor's warm-up imports ("warm-up"), the same without loading torch's native
libraries first with the GIL released ("gil-load", the warm-up before that change), and without any warm-up
("none", the floor this machine gives); each variant runs in a fresh process (imports happen once per process),
the variants alternating, with the machine's load average beside each row.

Run on demand: QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 python -m tests.benchmarks.bench_launch [MODES [ROUNDS]]
(MODES: a comma list of warm-up, gil-load, normal, none; default all four, two rounds)
Target: stall p99 while working under 33 ms from the first second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

SECONDS = 15.0
WORK, REST = 1.2, 1.2


def child(mode: str) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PySide6.QtCore import QPoint, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from studio import warmup
    from studio.ui.shell import app as shell_app
    from studio.ui.shell.window import MainWindow
    from tests.ui.conftest import ui_registry

    qt = QApplication.instance() or QApplication([])
    window = MainWindow(ui_registry(), timeline=False)
    window.resize(1200, 800)
    window.show()
    start = time.perf_counter()
    if mode == "warm-up":
        QTimer.singleShot(1000, shell_app.warm_up)
    elif mode == "normal":  # the same imports at the editor's own CPU priority
        QTimer.singleShot(1000, lambda: warmup.start(shell_app.WARM_UP, lower_priority=False))
    elif mode == "gil-load":  # torch's libraries loaded by its own import, holding the GIL
        QTimer.singleShot(1000, lambda: warmup.start(shell_app.WARM_UP, preload=False))
    gaps: list[float] = []
    last = [time.perf_counter()]
    working = [False]

    def tick() -> None:
        now = time.perf_counter()
        t = now - start
        phase = (t % (WORK + REST)) < WORK
        if working[0] and phase and t > 1.0:
            gaps.append(now - last[0])
        working[0] = phase
        if phase:
            x = 300 + int(200 * np.sin(t * 3))
            QTest.mouseMove(window.view.viewport(), QPoint(x, 300))
        last[0] = now
        if t > SECONDS:
            qt.quit()

    timer = QTimer()
    timer.setInterval(16)
    timer.timeout.connect(tick)
    timer.start()
    qt.exec()
    stalls = np.maximum(np.array(gaps) - 0.016, 0) * 1000
    done = warmup._running is not None and not warmup._running.is_alive()
    print(json.dumps({"mode": mode, "p99": float(np.percentile(stalls, 99)), "max": float(stalls.max()),
                      "over_33": int((stalls > 33).sum()), "ticks": len(gaps), "warm_done": done}))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    modes = sys.argv[1].split(",") if len(sys.argv) > 1 else ["warm-up", "gil-load", "normal", "none"]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    for mode in modes * rounds:
        out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_launch", "--child", mode], env=env,
                             capture_output=True, text=True, timeout=120).stdout.strip().splitlines()
        row = json.loads(out[-1])
        load = os.getloadavg()[0]
        print(f"{row['mode']:8s}: load {load:4.1f}, stall p99 {row['p99']:6.1f} ms, max {row['max']:6.0f} ms, "
              f"{row['over_33']} stalls over 33 ms in {row['ticks']} working ticks; warm-up done: {row['warm_done']}")


if __name__ == "__main__":
    main()
