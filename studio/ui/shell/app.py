"""The editor's entry point: ``studio`` and ``studio FILE.studio.json`` call ``main``."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from studio import warmup
from studio.graph import NodeRegistry

log = logging.getLogger(__name__)


def application() -> QApplication:
    """The QApplication, made once, with the dark theme."""
    from studio.ui.shell import theme

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Studio")
        app.setOrganizationName("Studio")
    if not app.property("studio_themed"):  # also when someone else (a test runner) made the app
        theme.apply(app)
        app.setProperty("studio_themed", True)
    return app  # type: ignore[return-value]


def load_registry() -> tuple[NodeRegistry, str]:
    """The node library; an empty one (and the reason) if it cannot load, so the editor still opens."""
    try:
        return NodeRegistry.default(), ""
    except Exception as exc:  # a broken install must still let people open and fix their files
        log.exception("the node library failed to load")
        return NodeRegistry(), f"the node library failed to load: {exc}"


# What the first render and the first export import: torch, diffusers and transformers for the model
# (the embedded one's classes), PyAV and c2pa for the export.
WARM_UP = (
    "studio.runtime",
    "diffusers:WanPipeline,AutoencoderKLWan,WanTransformer3DModel,UniPCMultistepScheduler",
    "transformers:UMT5EncoderModel,PreTrainedTokenizerFast",
    "studio.media.export",
)


def warm_up(modules: tuple[str, ...] = WARM_UP) -> threading.Thread:
    """Import the model and export stack on a thread while the person looks at the graph.

    Done at the first render instead, these imports took about 8 of its 12 seconds (2 cores); here they
    cost a few short hitches while the editor is idle. A render started meanwhile waits for it
    (:func:`studio.warmup.settle`): the lazy model packages cannot be imported from two threads at once.

    At normal CPU priority: the first render waits for this thread, and a lowered thread cannot be raised
    again without privileges. Lowered, it starved whenever anything else kept the cores busy: with two busy
    processes on 2 cores the imports took 89 s instead of 10 (the first render sat at "running" with nothing
    on screen for over a minute, seen under Xvfb). The editor's fluidity during it comes from the paused
    collector and the short switch interval (studio.warmup.start), not from the nice value.
    """
    return warmup.start(modules, lower_priority=False)


def main(path: str | None = None, registry: NodeRegistry | None = None) -> int:
    """Open the editor (on ``path`` when given) and run until the last window closes."""
    app = application()
    from studio.ui.shell.window import MainWindow

    problem = ""
    if registry is None:
        registry, problem = load_registry()
    window = MainWindow(registry, timeline=False)
    for message in ([problem] if problem else []) + registry.load_errors:
        window.logs.append(message, logging.WARNING)
    window.show()
    if path:
        window.open_path(Path(path), confirmed=True)
    QTimer.singleShot(0, window.attach_timeline)  # after the first paint: the canvas is usable first
    QTimer.singleShot(0, window.offer_recovery)
    QTimer.singleShot(1000, warm_up)  # once the window is up and settled
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
