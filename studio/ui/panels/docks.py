"""The render panels of a window as docks: Queue, History and Metrics, and what feeds them.

They follow the render controller (its queue, its LastRender) and nothing else; the window only places the
docks and tells them where clips are shown (``show_clip``/``compare_clip``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

from studio.engine import RunStarted
from studio.graph import NodeRegistry, dumps
from studio.media.render_history import HistoryRecord, RenderHistory
from studio.ui.panels.history_panel import HistoryPanel
from studio.ui.panels.queue_panel import QueuePanel
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.last_render import Render
from studio.ui.shell.logdock import LogPanel
from studio.ui.shell.render import RenderController
from studio.ui.shell.session import EditSession

if TYPE_CHECKING:
    from studio.ui.panels.metrics_panel import MetricsPanel

ClipSink = Callable[[np.ndarray, float, str], None]  # frames, fps, what it is


class RenderPanels(QObject):
    """Builds the three docks beside ``beside`` (tabbed with it) in ``window``."""

    def __init__(self, window: QMainWindow, beside: QDockWidget, session: EditSession, registry: NodeRegistry,
                 renderer: RenderController, logs: LogPanel, show_clip: ClipSink, compare_clip: ClipSink) -> None:
        super().__init__(window)
        self.session, self.registry, self.renderer, self.logs = session, registry, renderer, logs
        self.queue_panel = QueuePanel(renderer.queue, renderer.cancel_entry, choose_target=self.choose_target)
        renderer.farm_added.connect(lambda farm: farm.status_changed.connect(self.queue_panel.show_farm_status))
        self.queue_dock = self._dock(window, beside, "Queue", "queue", self.queue_panel)
        self.history_panel = HistoryPanel(session, self.history, show_clip, compare_clip)
        self.history_dock = self._dock(window, beside, "History", "history", self.history_panel)
        self.metrics: MetricsPanel | None = None  # built when first shown: pyqtgraph takes a second to load
        self.metrics_dock = self._dock(window, beside, "Metrics", "metrics", QLabel("Metrics appear here."))
        self.metrics_dock.visibilityChanged.connect(self._metrics_shown)
        renderer.last.rendered.connect(self.keep_render)
        session.path_changed.connect(lambda _p: self.history_panel.refresh())  # another folder, another history

    @staticmethod
    def _dock(window: QMainWindow, beside: QDockWidget, title: str, name: str, widget) -> QDockWidget:  # noqa: ANN001
        dock = QDockWidget(title, window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        window.tabifyDockWidget(beside, dock)
        return dock

    # ---- the farm (studio/ui/shell/farm_queue.py)
    def choose_target(self, address: str) -> None:
        """New renders go to this machine ("") or the farm at ``address``, which starts now, in the background
        (Ray takes seconds): the first render sent there does not wait for it to boot."""
        self.renderer.target = address
        if address:
            farm = self.renderer.farm_for(address)
            farm.start()
            self.queue_panel.show_farm_status(farm.status)

    def queue_on_farm(self) -> None:
        """Render > Queue on Farm…: the graph as it is now, once, on a farm (the last address, else local Ray)."""
        from PySide6.QtWidgets import QInputDialog

        last = next(reversed(self.renderer.farms), "local") if self.renderer.farms else "local"
        address, ok = QInputDialog.getText(self.queue_panel.window(), "Queue on Farm",
                                           "Ray address (local, auto, ray://HOST:10001):", text=last)
        if ok and address.strip():
            self.renderer.submit(where=address.strip())
            self.queue_dock.show()
            self.queue_dock.raise_()

    def docks(self) -> list[QDockWidget]:
        return [self.queue_dock, self.history_dock, self.metrics_dock]

    # ---- render history (studio/media/render_history.py)
    def history(self) -> RenderHistory:
        from studio.ui.shell.output_folder import output_folder

        return RenderHistory(output_folder(self.session.path))

    def keep_render(self, render: Render) -> BackgroundJob | None:
        """Write a finished render into the history (off the main thread), then list it.

        A render in which no node ran (every result came from the cache: the graph is one this window already
        rendered, nothing changed) is not kept again: it made no new clip and wrote no file, and a second entry
        of the same clip read "0.0 s", a time it never took. None then."""
        if render.result.cached and not render.result.timings:
            # after the run's own "render ok" line, which the same delivery of events writes next
            QTimer.singleShot(0, lambda: self.logs.append(
                f"render #{render.number}: every node came from the cache (nothing changed since it rendered): "
                "the History keeps that render, not a copy of it"))
            return None
        history, registry = self.history(), self.registry
        graph = render.extra.get("graph")
        clip = render.clip()

        def write(_ctx: object) -> HistoryRecord:
            base = render.extra.get("base_dir")
            text = dumps(graph, registry, base) if graph is not None else "{}"
            video = clip[1] if clip is not None else None
            record = HistoryRecord(0, render.extra.get("label", ""), time.time(),
                                   float(render.extra.get("seconds") or render.result.seconds), render.draft, text,
                                   render.result.graph_hash, list(render.extra.get("varied", [])),
                                   [str(p) for p in render.written], fps=float(video.fps) if video else 0.0,
                                   timings=dict(render.result.timings))
            return history.add(record, np.asarray(video.frames) if video is not None else None)

        job = BackgroundJob(write, "history", parent=self)
        job.succeeded.connect(lambda _record: self.history_panel.refresh())
        job.failed.connect(lambda why: self.logs.append(f"the render history could not keep this render: {why}", 30))
        job.finished.connect(job.deleteLater)
        return job.start()

    # ---- metrics (studio/ui/panels/metrics_panel.py)
    def _metrics_shown(self, visible: bool) -> MetricsPanel | None:
        """Build the Metrics panel the first time its tab shows, with what is known so far."""
        if not visible or self.metrics is not None:
            return self.metrics
        from studio.ui.panels.metrics_panel import MetricsPanel

        self.metrics = MetricsPanel()
        self.metrics_dock.setWidget(self.metrics)
        self.renderer.event.connect(self.metrics.handle_event)
        self.renderer.last.rendered.connect(self.metrics.show_render)
        self.history_panel.listed.connect(self.metrics.show_history)
        if self.renderer.last.current is not None:
            self.metrics.show_render(self.renderer.last.current)
        if self.renderer.running:  # shown mid-render: measure the rest of it
            self.metrics.handle_event(RunStarted(0, ()))
        self.metrics.show_history(self.history_panel.records)
        return self.metrics
