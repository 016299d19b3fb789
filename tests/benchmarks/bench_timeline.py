"""Timeline figures: scrub latency in a 2-minute 720p clip, step-to-screen latency, frames dropped in playback.

Run on demand: ``QT_QPA_PLATFORM=offscreen python -m tests.benchmarks.bench_timeline [--quick]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow  # noqa: E402

from studio.engine import NodeProgress, RunStarted  # noqa: E402
from studio.graph import NodeRegistry  # noqa: E402
from studio.ui.shell.render import RenderController  # noqa: E402
from studio.ui.shell.session import EditSession  # noqa: E402
from studio.ui.timeline import TimelineDocks  # noqa: E402

H, W, COUNT, FPS = 720, 1280, 2880, 24.0


def textured(k: int, rng: np.random.Generator) -> np.ndarray:
    """A 720p frame with gradients, blurred noise and a moving shape: JPEG sizes like real footage."""
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([(xx + k * 7) % 256, (yy + k * 3) % 256, ((xx + yy) // 4 + k) % 256], -1).astype(np.uint8)
    noise = cv2.GaussianBlur(rng.integers(0, 60, (H, W, 3), dtype=np.uint8), (3, 3), 0)
    frame = cv2.add(base, noise)
    cv2.circle(frame, ((k * 37) % W, (k * 19) % H), 90, (250, 240, 40), -1)
    return frame


def window(viewer_size: tuple[int, int]) -> tuple[QMainWindow, TimelineDocks]:
    win = QMainWindow()
    win.setCentralWidget(QLabel("canvas"))
    session = EditSession(NodeRegistry(), win)
    docks = TimelineDocks(win, session)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, docks.viewer_dock)
    win.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, docks.timeline_dock)
    win.resize(viewer_size[0] + 500, viewer_size[1] + 420)
    win.show()
    win.resizeDocks([docks.viewer_dock], [viewer_size[0]], Qt.Orientation.Horizontal)
    win.resizeDocks([docks.timeline_dock], [330], Qt.Orientation.Vertical)
    for _ in range(5):
        QApplication.processEvents()
    return win, docks


def fill(docks: TimelineDocks, distinct: int) -> float:
    """A 2880-frame 720p clip in the store, ``distinct`` different pictures cycled (encoding them all
    would take minutes here and changes nothing for decoding); returns the mean JPEG size."""
    rng = np.random.default_rng(0)
    blobs = []
    for k in range(distinct):
        bgr = cv2.cvtColor(textured(k, rng), cv2.COLOR_RGB2BGR)
        blobs.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    store = docks.model.store
    store.reset(COUNT, FPS)
    for i in range(COUNT):
        store.put_encoded(i, blobs[i % distinct], (H, W))
    return float(np.mean([len(b) for b in blobs]))


def wait_painted(docks: TimelineDocks, frame: int, timeout: float = 2.0) -> float:
    viewer = docks.viewer.viewer
    deadline = time.perf_counter() + timeout
    while viewer.shown_index != frame and time.perf_counter() < deadline:
        QApplication.processEvents()
    return viewer.painted_at


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_scrub(docks: TimelineDocks, seeks: int, rest: float = 0.0) -> dict[str, float]:
    """Random seeks by dragging on the ruler: mouse move to the viewer having painted that frame.
    With ``rest`` seconds between seeks (clicks, not a drag) every frame is painted at full size."""
    ruler, axis, model = docks.timeline.ruler, docks.timeline.axis, docks.model
    rng = np.random.default_rng(7)
    y = ruler.height() // 2
    QTest.mousePress(ruler, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(5, y))
    wait_painted(docks, model.playhead)
    drafts = docks.viewer.viewer.draft_paints
    kinds0 = dict(docks.viewer.viewer.draft_kinds)
    times = []
    for x in rng.integers(0, ruler.width(), seeks):
        target = round(axis.frame_at(int(x)))
        if target == model.playhead:
            continue
        t0 = time.perf_counter()
        QTest.mouseMove(ruler, QPoint(int(x), y))
        painted = wait_painted(docks, target)
        times.append((painted - t0) * 1000)
        end = time.perf_counter() + rest
        while time.perf_counter() < end:
            QApplication.processEvents()
            time.sleep(0.005)
    QTest.mouseRelease(ruler, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(5, y))
    drafts = docks.viewer.viewer.draft_paints - drafts
    kinds = {k: v - kinds0.get(k, 0) for k, v in docks.viewer.viewer.draft_kinds.items()}
    return {
        "kinds": ", ".join(f"{v} {k}" for k, v in kinds.items() if v) or "none",
        "p50_ms": pct(times, 50),
        "p99_ms": pct(times, 99),
        "max_ms": max(times),
        "seeks": len(times),
        "drafts": drafts,
    }


def bench_step_to_screen(docks: TimelineDocks, steps: int, shape: tuple[int, int, int]) -> dict[str, float]:
    """Previews [T, h, w, 3] from a worker thread through the editor's RenderController queue."""
    session = docks.session
    controller = RenderController(session)
    controller.event.connect(lambda ev: docks.handle_event(ev))
    viewer = docks.viewer.viewer
    sent: dict[int, float] = {}
    seen: list[float] = []
    current = [0]

    def painted(_index: int) -> None:
        step = current[0]
        if step in sent and len(seen) < step:
            seen.append((viewer.painted_at - sent[step]) * 1000)

    viewer.painted.connect(painted)
    controller.event.connect(
        lambda ev: current.__setitem__(0, ev.step) if isinstance(ev, NodeProgress) else None
    )
    rng = np.random.default_rng(1)
    previews = [rng.integers(0, 255, shape, dtype=np.uint8) for _ in range(4)]
    controller._listen(RunStarted(1, ("gen",)))

    def worker() -> None:
        for step in range(1, steps + 1):
            sent[step] = time.perf_counter()
            controller._listen(NodeProgress(1, "gen", step, steps, preview=previews[step % 4]))
            time.sleep(0.08)  # a real step takes longer than this

    thread = threading.Thread(target=worker)
    thread.start()
    while thread.is_alive() or len(seen) < steps:
        QApplication.processEvents()
        if not thread.is_alive() and time.perf_counter() - sent.get(steps, time.perf_counter()) > 2:
            break
    thread.join()
    viewer.painted.disconnect(painted)
    return {"p50_ms": pct(seen, 50), "p99_ms": pct(seen, 99), "max_ms": max(seen), "steps": len(seen)}


def bench_playback(docks: TimelineDocks, seconds: float) -> dict[str, float]:
    model, playback, viewer = docks.model, docks.playback, docks.viewer.viewer
    painted: list[int] = []
    late: list[float] = []

    def record(index: int) -> None:
        painted.append(index)
        if playback.playing:  # how late the frame reached the screen against the clock
            late.append((viewer.painted_at - t0_perf - (index - 1000) / FPS) * 1000)

    viewer.painted.connect(record)
    model.set_playhead(1000)
    wait_painted(docks, 1000)
    time.sleep(0.5)  # let the prefetcher catch up, as it would while the person looks
    painted.clear()
    playback.dropped = 0
    playback.loop = False
    t0 = time.monotonic()
    t0_perf = time.perf_counter()
    playback.play()
    while time.monotonic() - t0 < seconds:
        QApplication.processEvents()
    playback.pause()
    elapsed = time.monotonic() - t0
    viewer.painted.disconnect(record)
    distinct = sorted(set(painted) - {1000})  # 1000 was on screen before play (a refine may repaint it)
    shown = set(distinct)
    missing = [f for f in range(1001, distinct[-1] + 1) if f not in shown] if distinct else []
    return {
        "seconds": elapsed,
        "frames_due": round(elapsed * FPS),
        "frames_painted": len(distinct),
        "dropped_by_clock": playback.dropped,
        "missing_in_paints": len(missing),
        "late_p50_ms": pct(late, 50),
        "late_max_ms": max(late),
    }


def main() -> None:
    quick = "--quick" in sys.argv
    app = QApplication.instance() or QApplication([])
    cv2.setNumThreads(2)
    for size in ((960, 540), (480, 270)):
        win, docks = window(size)
        mean_jpeg = fill(docks, 12 if quick else 48)
        arrived = time.perf_counter()
        docks.model.clip_changed.emit()
        v = docks.viewer.viewer
        print(
            f"clip: {COUNT} frames {W}x{H}, mean JPEG {mean_jpeg / 1024:.0f} kB; viewer {v.width()}x{v.height()}"
        )
        store = docks.model.store
        seeks = 100 if quick else 400
        scrub = bench_scrub(docks, seeks)
        print(
            f"  scrub right after the clip arrived (random seeks, mouse on ruler -> painted): p50 {scrub['p50_ms']:.1f} ms, "
            f"p99 {scrub['p99_ms']:.1f} ms, max {scrub['max_ms']:.1f} ms over {scrub['seeks']} seeks "
            f"(drafts: {scrub['kinds']}; refined at rest)"
        )
        while not store.proxies_done() and time.perf_counter() - arrived < 120:
            QApplication.processEvents()
            time.sleep(0.02)
        made = sum(store.has_proxy(i) for i in range(COUNT))
        print(
            f"  proxies made in the background as the clip arrived: {made}, all {time.perf_counter() - arrived:.1f} s after"
        )
        scrub = bench_scrub(docks, seeks)
        print(
            f"  scrub with proxies: p50 {scrub['p50_ms']:.1f} ms, p99 {scrub['p99_ms']:.1f} ms, "
            f"max {scrub['max_ms']:.1f} ms over {scrub['seeks']} seeks (drafts: {scrub['kinds']}; refined at rest)"
        )
        clicks = bench_scrub(docks, 20 if quick else 60, rest=0.3)
        print(
            f"  click to a random frame, painted at full size (no draft): p50 {clicks['p50_ms']:.1f} ms, "
            f"p99 {clicks['p99_ms']:.1f} ms, max {clicks['max_ms']:.1f} ms over {clicks['seeks']} clicks"
        )
        print(
            f"  store memory {store.memory_bytes() / 2**20:.0f} MiB of {store.settings.budget_bytes / 2**20:.0f}"
            f" MiB budget, spilled {store.spilled}"
        )
        play = bench_playback(docks, 4.0 if quick else 10.0)
        print(
            f"  playback 24 fps for {play['seconds']:.1f} s: {play['frames_painted']} frames painted of "
            f"{play['frames_due']} due; dropped by the clock {play['dropped_by_clock']}, missing in paints "
            f"{play['missing_in_paints']}; frames on screen after their time: p50 {play['late_p50_ms']:.1f} ms, "
            f"max {play['late_max_ms']:.1f} ms"
        )
        win.close()
        docks.model.close()
    win, docks = window((960, 540))
    for shape in ((81, 60, 104, 3), (81, 720 // 8, 1280 // 8, 3)):
        docks.model.set_playhead(0)
        step = bench_step_to_screen(docks, 20 if quick else 40, shape)
        print(
            f"step-to-screen, previews {list(shape)}: p50 {step['p50_ms']:.1f} ms, p99 {step['p99_ms']:.1f} ms, "
            f"max {step['max_ms']:.1f} ms over {step['steps']} steps"
        )
    win.close()
    app.processEvents()


if __name__ == "__main__":
    main()
