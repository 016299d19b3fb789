"""The Metrics panel (pyqtgraph): how a render runs and what it made, live while it renders, at most 5 times a
second, and across the kept renders.

Plots: seconds per denoising step of the running render; the editor's memory during the render (resident set,
and VRAM when torch has a CUDA device in use); the finished clip's frame-to-frame change (temporal stability:
flicker shows as spikes, held frames as zeros), with, where a camera path steered the render, how far each
frame's motion was from the path's (camera adherence); render time per 10 seconds of clip across the history.
For a clip of the embedded model, the summary also says whether it shows the colour, shape and motion its
prompt asked for, read from its pixels by the model's own world evaluator (studio.embedded.analysis).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from studio.directing.motion import HELD_CHANGE, frame_changes
from studio.engine import NodeProgress, RunFinished, RunStarted
from studio.media.render_history import HistoryRecord
from studio.paths import EMBEDDED_MODEL_NAME
from studio.ui.shell import theme
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.last_render import Render
from studio.values import CameraGuide

REFRESH_MS = 200  # each plot updates at most 5 times a second, however fast the steps come
# One plot is redrawn per slice, the slices this far apart: a pyqtgraph repaint costs the main thread several
# ms of Python, and two or four of them in one event-loop pass were the editor's longest stalls during a batch
# (tests/benchmarks/bench_editor.py --batch). Apart by more than Qt's paint delay, so each paints on its own.
SLICE_MS = 50
SAMPLE_MS = 200
LIVE = ("steps", "memory", "change", "latency")  # the plots, in the order the slices visit them


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (> 0)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= value * (1 - 1e-9):
            return factor * power
    return 10.0 * power


def stepped_range(low: float, high: float) -> tuple[float, float]:
    """An axis range holding [low, high] on a coarse grid: it stays the same while the values wander inside
    it, so pyqtgraph keeps its axis pictures (regenerating them is most of a plot's repaint)."""
    span = max(high - low, abs(high) * 0.01, 1e-6)
    step = nice_ceiling(span / 2)
    lo = math.floor(low / step) * step
    hi = math.ceil(high / step) * step
    return lo, hi if hi > lo else lo + step


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def vram_mb() -> float | None:
    """VRAM allocated by torch in MB, when torch is loaded and a CUDA device was used (never imports torch)."""
    import sys

    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return torch.cuda.memory_allocated() / 2**20
    except Exception:  # noqa: BLE001 - a metric, never an error
        return None
    return None


class MetricsPanel(QWidget):
    """Four plots; ``handle_event`` takes the engine's events, ``show_render`` a finished render,
    ``show_history`` the kept renders."""

    def __init__(self, history: Callable[[], list[HistoryRecord]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background=theme.CANVAS_BG, foreground="#c8cdd6")
        self.steps = self._plot("Seconds per step", "step", "s")
        self.memory = self._plot("Memory during the render", "s", "MB")
        self.change = self._plot("Frame-to-frame change (last render)", "frame", "0-255")
        self.latency = self._plot("Render time per 10 s of clip (kept renders)", "render #", "s")
        self.steps_curve = self.steps.plot(pen=pg.mkPen("#4f8fe6", width=2), symbol="o", symbolSize=4)
        self.ram_curve = self.memory.plot(pen=pg.mkPen("#5ad17a", width=2), name="RAM")
        self.vram_curve = self.memory.plot(pen=pg.mkPen("#d9a441", width=2), name="VRAM")
        self.change.addLegend(offset=(-6, 6))
        self.change_curve = self.change.plot(pen=pg.mkPen("#41d6c3", width=2), name="change")
        self.camera_curve = self.change.plot(pen=pg.mkPen("#e06c75", width=2), name="off the camera path")
        self.latency_curve = self.latency.plot(pen=pg.mkPen("#c678dd", width=2), symbol="o", symbolSize=5)
        self.summary = QLabel("Render to see how it runs.")
        self.summary.setObjectName("ParamHelp")
        self.summary.setWordWrap(True)  # one long line (camera path, prompt checks) widened the window off screen
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(self.summary, 0, 0, 1, 2)
        for i, plot in enumerate((self.steps, self.memory, self.change, self.latency)):
            grid.addWidget(plot, 1 + i // 2, i % 2)
        self.history = history
        self.step_times: list[tuple[int, float]] = []  # (step, seconds it took) of the running generator
        self.memory_samples: list[tuple[float, float, float | None]] = []  # (t, RAM MB, VRAM MB)
        self.peak_ram: float | None = None
        # the last finished render's (asked, seen) colour, shape and motion (the embedded model's world only)
        self.prompt_check: dict[str, tuple[str, str | None]] | None = None
        self._node: str | None = None
        self._pass = 1  # which pass of the running node (a node may count its steps twice)
        self._last_step: tuple[int, float] | None = None
        self._run_start = 0.0
        self._dirty: set[str] = set()
        self.draws = dict.fromkeys(LIVE, 0)  # for tests and benchmarks: how often each plot was redrawn
        self._drawn_at = dict.fromkeys(LIVE, float("-inf"))
        self._next = 0  # where the next slice starts looking (round robin: no plot starves)
        self._ranges: dict[str, tuple[float, ...]] = {}
        self._total = 0  # steps of the running generator: the steps plot's x range
        self._refresh = QTimer(self)
        self._refresh.setInterval(SLICE_MS)
        self._refresh.timeout.connect(self._redraw)
        self._sampler = QTimer(self)
        self._sampler.setInterval(SAMPLE_MS)
        self._sampler.timeout.connect(self._sample)

    def _plot(self, title: str, x: str, y: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(title=title)
        plot.setLabel("bottom", x)
        plot.setLabel("left", y)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMinimumHeight(120)
        plot.setMouseEnabled(x=False, y=False)
        plot.getPlotItem().hideButtons()
        return plot

    @property
    def redraws(self) -> int:
        """How often the most redrawn plot was redrawn (each at most 5 times a second)."""
        return max(self.draws.values())

    def _mark(self, what: str) -> None:
        self._dirty.add(what)
        if not self._refresh.isActive():
            self._refresh.start()

    # ---- live
    def handle_event(self, event: object) -> None:
        now = time.monotonic()
        if isinstance(event, RunStarted):
            self.step_times, self.memory_samples, self.peak_ram = [], [], None
            self._node, self._last_step, self._run_start = None, None, now
            self._sampler.start()
            self._sample()
            self._mark("steps")
            self._mark("memory")
            # The last render's line would read as this one's (the soak saw "Render to see how it runs." here).
            self.summary.setText("Rendering: seconds per step and memory plot as it runs; the clip's frame change "
                                 "and checks follow when it is done.")
        elif isinstance(event, NodeProgress) and event.total > 1:
            if event.node_id != self._node:  # a new node with steps: its pace is what we plot
                self._node, self.step_times, self._last_step, self._pass = event.node_id, [], None, 1
            elif self._last_step is not None and event.step < self._last_step[0]:
                # The same node counts from the start again: a second pass (a camera path's guided pass). Plot
                # it on its own; joined to the first, the line jumped back across the plot.
                self.step_times, self._last_step, self._pass = [], None, self._pass + 1
            self._total = event.total
            if self._last_step is not None and event.step > self._last_step[0]:
                per = (now - self._last_step[1]) / (event.step - self._last_step[0])
                self.step_times.append((event.step, per))
                self._mark("steps")
            self._last_step = (event.step, now)
        elif isinstance(event, RunFinished):
            self._sample()
            self._sampler.stop()

    def _sample(self) -> None:
        ram = resident_mb()
        if ram is None:
            return
        self.peak_ram = max(self.peak_ram or 0.0, ram)
        self.memory_samples.append((time.monotonic() - self._run_start, ram, vram_mb()))
        self._mark("memory")

    # ---- finished renders
    def show_render(self, render: Render) -> BackgroundJob | None:
        """Plot a finished render's frame-to-frame change; measuring a long clip takes a while, so off the
        main thread (the summary line follows when it is done)."""
        clip = render.clip()
        if clip is None:
            self._take_change(render, np.zeros(0))
            return None
        video = clip[1]
        guide = camera_guide(render)
        job = BackgroundJob(lambda _ctx: (frame_changes(video.frames), camera_adherence(video, guide),
                                          prompt_adherence(video)), "frame-changes", parent=self)
        job.succeeded.connect(lambda measured: self._take_change(render, *measured))
        job.finished.connect(job.deleteLater)
        return job.start()

    def _take_change(self, render: Render, changes: np.ndarray, camera=None,  # noqa: ANN001
                     prompt: dict[str, tuple[str, str | None]] | None = None) -> None:
        self._change = changes
        self._camera, judged = camera if camera is not None else (None, None)
        self.prompt_check = prompt
        self._mark("change")
        clip = render.clip()
        if clip is not None:
            video = clip[1]
            seconds = float(render.extra.get("seconds") or render.result.seconds)
            per10 = seconds / max(video.num_frames / float(video.fps), 1e-6) * 10
            held = float((self._change < HELD_CHANGE).mean()) if len(self._change) else 0.0
            ram = f" · peak RAM {self.peak_ram:.0f} MB" if self.peak_ram else ""
            path = ""
            if judged is not None:
                path = (f" · camera path: {judged.mean_error_px:.2f} px/frame off, direction agreement "
                        f"{judged.direction_agreement:+.2f}")
            if prompt:
                said = ", ".join(f"{what} {asked} " + ("✓" if seen == asked else f"✗ ({seen or 'none seen'})")
                                 for what, (asked, seen) in prompt.items())
                path += f" · prompt: {said}"
            self.summary.setText(f"Render #{render.number}: {seconds:.1f} s, {per10:.1f} s per 10 s of clip{ram}"
                                 f" · frame change mean {self._change.mean() if len(self._change) else 0:.1f}, "
                                 f"held frames {held:.0%}{path}")

    def show_history(self, records: list[HistoryRecord]) -> None:
        rows = sorted((r.number, r.seconds / max(r.frames / r.fps, 1e-6) * 10)
                      for r in records if r.frames and r.fps)
        self._latency = rows
        self._mark("latency")

    def _redraw(self) -> None:
        """One slice: redraw at most one plot, the next dirty one whose last redraw is REFRESH_MS old."""
        if not self._dirty:
            self._refresh.stop()
            return
        now = time.monotonic()
        for k in range(len(LIVE)):
            what = LIVE[(self._next + k) % len(LIVE)]
            if what in self._dirty and now - self._drawn_at[what] >= REFRESH_MS / 1000:
                self._next = (self._next + k + 1) % len(LIVE)
                self._dirty.discard(what)
                self._drawn_at[what] = now
                self.draws[what] += 1
                getattr(self, f"_draw_{what}")()
                return

    def _fit(self, plot: pg.PlotWidget, what: str, x: tuple[float, float], y: tuple[float, float]) -> None:
        """Set the plot's range where it changed (a live plot's range moves in coarse steps, not every update)."""
        if self._ranges.get(what) != (*x, *y):
            self._ranges[what] = (*x, *y)
            plot.setRange(xRange=x, yRange=y, padding=0.02)

    def _draw_steps(self) -> None:
        xs = [s for s, _ in self.step_times]
        ys = [t for _, t in self.step_times]
        self.steps_curve.setData(xs, ys)
        if xs:
            self._fit(self.steps, "steps", (0.0, float(max(self._total, xs[-1]))), stepped_range(0.0, max(ys)))
            if self._sampler.isActive():  # a render is running: say where it is (redrawn with the plot)
                ram = f" · RAM {self.memory_samples[-1][1]:.0f} MB" if self.memory_samples else ""
                where = f"{self._node}, pass {self._pass}" if self._pass > 1 else self._node
                self.summary.setText(f"Rendering {where}: step {xs[-1]} of {self._total}, "
                                     f"{float(np.median(ys[-10:])):.2f} s per step{ram}")

    def _draw_memory(self) -> None:
        if not self.memory_samples:
            return
        t = [s[0] for s in self.memory_samples]
        ram = [s[1] for s in self.memory_samples]
        self.ram_curve.setData(t, ram)
        vram = [s[2] for s in self.memory_samples]
        values = ram
        if any(v is not None for v in vram):
            filled = [v or 0.0 for v in vram]
            self.vram_curve.setData(t, filled)
            values = ram + filled
        self._fit(self.memory, "memory", (0.0, max(10.0, nice_ceiling(t[-1]))), stepped_range(min(values), max(values)))

    def _draw_change(self) -> None:
        change = getattr(self, "_change", np.zeros(0))
        self.change_curve.setData(np.arange(1, len(change) + 1), change)
        camera = getattr(self, "_camera", None)
        off = camera.per_step if camera is not None else np.zeros(0)
        self.camera_curve.setData(np.arange(1, len(off) + 1), off)

    def _draw_latency(self) -> None:
        rows = getattr(self, "_latency", [])
        self.latency_curve.setData([r[0] for r in rows], [r[1] for r in rows])


def camera_guide(render: Render) -> CameraGuide | None:
    """The camera guide a render was steered by (a Camera Guide node's output in it), or None."""
    for values in (render.result.outputs or {}).values():
        for value in values.values():
            if isinstance(value, CameraGuide) and value.camera is not None:
                return value
    return None


def camera_adherence(video, guide: CameraGuide | None):  # noqa: ANN001, ANN201 - a Video; Adherence or None
    """How far the clip's motion was from the camera path's: (per frame, judged) Adherence, or None without a
    path or when the clip cannot be measured (a single frame). The curve is frame by frame (phase correlation:
    cheap for any length); the summary's figures are judged as the Camera Adherence node judges them
    (similarity over spans). Phase sees shifts only: a dolly read "direction agreement -0.02" here while the
    node said it followed."""
    if guide is None or video.num_frames < 2:
        return None
    from studio.directing.motion import adherence, judged_adherence

    try:
        track = guide.camera.track(video.num_frames, video.fps)
        return adherence(video.frames, track, method="phase"), judged_adherence(video.frames, track)
    except Exception:  # noqa: BLE001 - a metric, never an error
        return None


EMBEDDED_MODEL = EMBEDDED_MODEL_NAME  # a quantized copy adds a suffix


def prompt_adherence(video) -> dict[str, tuple[str, str | None]] | None:  # noqa: ANN001 - a Video
    """For a clip of the embedded model from one prompt of its world ("a red circle moves left on a black
    background"): (asked, seen) for the colour, shape and motion the prompt names, read from the pixels by the
    world's evaluator. None for any other model (a real model has no such ground truth), a prompt schedule,
    a sequence, or a prompt that names none of them."""
    made = video.generation
    if made is None or not str(made.model).startswith(EMBEDDED_MODEL) or made.sections or made.shots:
        return None
    from studio.embedded.analysis import analyse
    from studio.embedded.world import MOTIONS, OBJECT_COLOURS, SHAPES

    words = [w.strip(".,;:!?") for w in str(made.prompt).lower().split()]
    asked = {"colour": next((w for w in words if w in OBJECT_COLOURS), None),
             "shape": next((w for w in words if w in SHAPES), None),
             "motion": next((w for w in words if w in MOTIONS), None)}
    asked = {k: v for k, v in asked.items() if v is not None}
    if not asked or video.num_frames < 2:
        return None
    try:
        found = analyse(np.asarray(video.frames))
    except Exception:  # noqa: BLE001 - a metric, never an error
        return None
    return {what: (want, getattr(found, what)) for what, want in asked.items()}
