"""PNGs of the viewer and timeline during and after a real render: ``xvfb-run python -m tests.timeline.screenshot DIR``.

Renders the example graph (the embedded model) through the editor's RenderController, with a
synthetic sound, camera keyframes and markers so that every lane has something to show.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMainWindow


def shoot(folder: Path, frames: int = 49, steps: int = 10) -> list[Path]:
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-shot-"))
    from studio.engine import NodeProgress, RunFinished
    from studio.graph import ParamSpec, PortSpec, node
    from studio.ui.app import application, load_registry
    from studio.ui.files import examples
    from studio.ui.render import RenderController
    from studio.ui.session import EditSession
    from studio.ui.timeline import TimelineDocks
    from studio.values import Sound
    from tests.timeline.conftest import KEYS

    app = application()
    registry, _ = load_registry()

    @node("shot.Camera", title="Camera (screenshot)", category="Inputs", outputs=[PortSpec("camera", "FLOAT")],
          params=[ParamSpec("keyframes", "json", [])])
    def camera(ctx, keyframes):
        return 0.0

    if registry.get("shot.Camera") is None:
        registry.register(camera)
    window = QMainWindow()
    session = EditSession(registry, window)
    session.load(examples()[0], as_copy=True)
    session.graph.set_param("generate", "num_frames", frames)
    session.graph.set_param("generate", "steps", steps)
    keys = copy.deepcopy(KEYS)
    keys[-1]["frame"] = frames - 1
    session.graph.add_node(registry.get("shot.Camera"), "camera", params={"keyframes": keys})
    docks = TimelineDocks(window, session)
    window.setCentralWidget(QMainWindow())  # stands in for the canvas
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, docks.viewer_dock)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, docks.timeline_dock)
    window.resize(1500, 900)
    window.show()
    window.resizeDocks([docks.viewer_dock], [760], Qt.Orientation.Horizontal)
    window.resizeDocks([docks.timeline_dock], [330], Qt.Orientation.Vertical)
    fps = float(session.graph.nodes["generate"].params.get("fps", 16.0))
    seconds = frames / fps
    t = np.arange(int(seconds * 48000)) / 48000
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
    tone = 0.5 * np.sin(2 * np.pi * 220 * t) * (0.3 + 0.7 * np.abs(np.sin(np.pi * t / seconds)))
    docks.set_sound(Sound(np.stack([tone + 0.4 * beat, tone], 1).astype(np.float32), 48000))
    docks.set_markers([(0, "sunrise"), (frames // 2, "the city")], beats=list(range(0, frames, max(1, round(fps / 2)))))
    renderer = RenderController(session, parent=window)
    finished: list[bool] = []
    half: list[bool] = []

    def on_event(event: object) -> None:
        docks.handle_event(event, renderer.handle)
        if isinstance(event, NodeProgress) and event.preview is not None and event.step * 2 >= event.total:
            half.append(True)
        if isinstance(event, RunFinished):
            finished.append(True)

    renderer.event.connect(on_event)
    docks.model.set_playhead(frames // 3)
    renderer.start()
    out: list[Path] = []
    deadline = time.monotonic() + 600
    while not half and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    for _ in range(10):
        app.processEvents()
    out.append(folder / "timeline-rendering.png")
    window.grab().save(str(out[-1]))
    while not finished and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        app.processEvents()
    docks.model.set_in(4)
    docks.model.set_out(frames - 6)
    docks.model.set_playhead(frames // 2 + 3)
    docks.viewer.compare_box.setCurrentText("off")
    for _ in range(10):
        app.processEvents()
    out.append(folder / "timeline-done.png")
    window.grab().save(str(out[-1]))
    renderer.wait(30)
    window.close()
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    target.mkdir(parents=True, exist_ok=True)
    for path in shoot(target):
        print(path)
    QApplication.instance().quit()
