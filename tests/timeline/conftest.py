"""Fixtures for timeline tests: a window with the viewer and timeline docks, and clips to show."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from studio.graph import NodeRegistry, ParamSpec, PortSpec, node
from tests import toy_nodes

KEYS = [
    {"frame": 0, "pan_x": 0.0, "pan_y": 0.0, "zoom": 1.0, "roll": 0.0, "interp": "ease"},
    {"frame": 20, "pan_x": 0.4, "pan_y": -0.2, "zoom": 1.4, "roll": 8.0, "interp": "linear"},
    {"frame": 40, "pan_x": -0.2, "pan_y": 0.3, "zoom": 0.9, "roll": -6.0, "interp": "smooth"},
]


@node(
    "tltest.Camera",
    title="Camera (test)",
    category="Inputs",
    outputs=[PortSpec("camera", "FLOAT")],
    params=[ParamSpec("keyframes", "json", [])],
)
def camera(ctx, keyframes):
    return 0.0


def registry() -> NodeRegistry:
    # the real Camera Path: the timeline finds it by its camera-source role
    from nodes.camera import camera_path

    reg = toy_nodes.registry()
    reg.register(camera)
    reg.register(camera_path)
    return reg


def settle(rounds: int = 3) -> None:
    for _ in range(rounds):
        QApplication.processEvents()


def clip(count: int = 48, h: int = 18, w: int = 32, seed: int = 0) -> np.ndarray:
    """Frames whose colour says which frame they are: red = frame index * 5."""
    frames = np.random.default_rng(seed).integers(0, 60, (count, h, w, 3), dtype=np.uint8)
    frames[..., 0] = (np.arange(count, dtype=np.uint8) * 5)[:, None, None]
    return frames


@pytest.fixture
def docks(qtbot):
    from studio.ui.shell.session import EditSession
    from studio.ui.timeline import TimelineDocks

    win = QMainWindow()
    win.setCentralWidget(QLabel("canvas"))
    session = EditSession(registry(), win)
    d = TimelineDocks(win, session)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d.viewer_dock)
    win.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, d.timeline_dock)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.resizeDocks([d.timeline_dock], [330], Qt.Orientation.Vertical)
    win.show()
    qtbot.waitExposed(win)
    yield d
    d.playback.pause()
    d.model.close()
    if d.live.previous is not None:
        d.live.previous.close()
