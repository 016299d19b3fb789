"""Save a PNG of the editor with an example graph loaded:
``xvfb-run python -m tests.ui.screenshot OUT.png [--render] [--size=1280x800]``."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication


def shoot(out: Path, with_states: bool = True, render: bool = False, size: tuple[int, int] = (1500, 900)) -> Path:
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-shot-"))
    from studio.engine import NodeFinished, NodeProgress, NodeStarted, RunStarted
    from studio.ui.shell.app import application, load_registry
    from studio.ui.shell.files import examples
    from studio.ui.shell.window import MainWindow

    app = application()
    registry, _ = load_registry()
    window = MainWindow(registry)
    window.resize(*size)
    window.show()
    found = sorted(examples(), key=lambda p: not p.name.startswith("first-clip"))  # the simplest first
    if found:
        window.open_path(found[0], confirmed=True, as_copy=True)
    app.processEvents()
    ids = list(window.session.graph.nodes)
    if render:
        # a real render with the embedded model; grab the window halfway through the steps
        import time

        from studio.engine import NodeProgress as Progress

        halfway: list[bool] = []
        window.renderer.event.connect(
            lambda ev: halfway.append(True) if isinstance(ev, Progress) and ev.step * 2 >= ev.total else None)
        window.render()
        deadline = time.monotonic() + 300
        while not halfway and window.renderer.running and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        with_states = False
    if with_states and len(ids) >= 3:
        # what a render in progress looks like: one node done, one running, the rest queued
        scene = window.scene
        scene.apply_run_event(RunStarted(1, tuple(ids)))
        scene.apply_run_event(NodeStarted(1, ids[0], "first run"))
        scene.apply_run_event(NodeFinished(1, ids[0], 1.42))
        scene.apply_run_event(NodeStarted(1, ids[2], "first run"))
        scene.apply_run_event(NodeProgress(1, ids[2], 12, 20))
    if len(ids) >= 3:
        window.scene.select_nodes([ids[2]])
    window.view.frame_all()
    window.view.centerOn(window.view.mapToScene(window.view.viewport().rect().center()) + QPointF(0, 0))
    import time as _time

    deadline = _time.monotonic() + 2.0
    while (window.view.moving or _time.monotonic() < deadline - 1.7) and _time.monotonic() < deadline:
        app.processEvents()  # let the view rest: links are drawn smooth once it stops moving
        _time.sleep(0.01)
    app.processEvents()
    window.grab().save(str(out))
    if window.renderer.running:
        window.renderer.cancel()
        window.renderer.wait(30)
    window.session.undo.setClean()
    window.close()
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    target = Path(args[0] if args else "editor.png")
    size = next((tuple(int(v) for v in a.split("=", 1)[1].split("x")) for a in sys.argv if a.startswith("--size=")),
                (1500, 900))
    print(shoot(target, render="--render" in sys.argv, size=size))
    QApplication.instance().quit()
