"""PNGs of the viewer and timeline during and after a real render: ``xvfb-run python -m tests.timeline.screenshot DIR``.

Renders the beat-zoom example (embedded model, Audio node, Camera Path pulsing on the beats)
through the editor's RenderController, with a synthetic song written next to a copy of the graph.
With ``--window`` it shoots the whole editor window (once the docks are in it).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


def song(path: Path, seconds: float, bpm: float = 120.0, rate: int = 48000) -> Path:
    """A drum-like click on every beat over a low chord: something with beats to find."""
    t = np.arange(int(seconds * rate)) / rate
    chord = 0.15 * (np.sin(2 * np.pi * 110 * t) + np.sin(2 * np.pi * 165 * t))
    clicks = np.zeros_like(t)
    for start in np.arange(0.0, seconds, 60.0 / bpm):
        n = int(start * rate)
        k = np.arange(min(4000, len(t) - n))
        clicks[n : n + len(k)] = 0.8 * np.exp(-k / 600.0) * np.sin(2 * np.pi * 60 * k / rate)
    soundfile.write(str(path), np.stack([chord + clicks, chord + 0.8 * clicks], 1).astype(np.float32), rate)
    return path


def shoot(folder: Path, frames: int = 49, steps: int = 10, whole_window: bool = False) -> list[Path]:
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-shot-"))
    from studio.engine import NodeProgress, RunFinished
    from studio.ui.shell.app import application, load_registry
    from studio.ui.shell.files import examples

    app = application()
    registry, _ = load_registry()
    work = Path(tempfile.mkdtemp(prefix="studio-shot-graph-"))
    source = next(p for p in examples() if p.name.startswith("beat-zoom"))
    graph_path = work / source.name
    graph_path.write_text(source.read_text())
    if whole_window:
        from studio.ui.shell.window import MainWindow

        window = MainWindow(registry)
        window.open_path(graph_path, confirmed=True)
        docks = window.timeline
        renderer = window.renderer
        session = window.session
    else:
        from studio.ui.shell.render import RenderController
        from studio.ui.shell.session import EditSession
        from studio.ui.timeline import TimelineDocks

        window = QMainWindow()
        session = EditSession(registry, window)
        session.load(graph_path)
        docks = TimelineDocks(window, session)
        window.setCentralWidget(QLabel("(the node canvas)", alignment=Qt.AlignmentFlag.AlignCenter))
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, docks.viewer_dock)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, docks.timeline_dock)
        renderer = RenderController(session, parent=window)
        renderer.event.connect(docks.handle_event)
        renderer.last.rendered.connect(docks.show_render)
    graph = session.graph
    fps = float(graph.nodes["generate"].params.get("fps", 16.0))
    song(work / "song.ogg", frames / fps)
    for nid, name, value in (
        ("generate", "num_frames", frames),
        ("generate", "steps", steps),
        ("camera", "preset", "keyframes"),
        ("export", "path", str(work / "out.mp4")),
    ):
        if nid in graph.nodes:
            graph.set_param(nid, name, value)
    window.resize(1500, 900)
    window.show()
    if whole_window:
        app.processEvents()
        window.view.frame_all()
    if not whole_window:
        window.resizeDocks([docks.viewer_dock], [760], Qt.Orientation.Horizontal)
        window.resizeDocks([docks.timeline_dock], [330], Qt.Orientation.Vertical)
    finished: list[bool] = []
    half: list[bool] = []

    def watch(event: object) -> None:
        if isinstance(event, NodeProgress) and event.preview is not None and event.step * 2 >= event.total:
            half.append(True)
        if isinstance(event, RunFinished):
            finished.append(True)

    renderer.event.connect(watch)
    renderer.start()
    out: list[Path] = []
    deadline = time.monotonic() + 600
    while not half and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    docks.model.set_playhead(frames // 3)
    for _ in range(10):
        app.processEvents()
    out.append(folder / "timeline-rendering.png")
    window.grab().save(str(out[-1]))
    while not finished and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        app.processEvents()
    docks.model.set_in(4)
    docks.model.set_out(frames - 6)
    docks.model.set_playhead(frames // 2 + 3)
    for _ in range(10):
        app.processEvents()
    out.append(folder / "timeline-done.png")
    window.grab().save(str(out[-1]))
    renderer.wait(30)
    session.undo.setClean()
    window.close()
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    target = Path(args[0] if args else ".")
    target.mkdir(parents=True, exist_ok=True)
    for path in shoot(target, whole_window="--window" in sys.argv):
        print(path)
    QApplication.instance().quit()
