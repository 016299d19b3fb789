"""Generate Video's Measure… button: the settings are measured off the main thread, each row appears as it
finishes, and the result is kept for the model, so that 'balanced' picks from it in the next render."""

from __future__ import annotations

import pytest

from studio.graph import NodeRegistry
from tests.benchmarks.bench_step_cache import deeper_tiny
from tests.graphs import text_to_video


@pytest.fixture(scope="module")
def deep_wan(tmp_path_factory):
    return deeper_tiny("wan", tmp_path_factory.mktemp("speed-ui") / "deep-wan", layers=3)


def test_measure_fills_the_table_and_balanced_then_picks_from_it(qtbot, deep_wan, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QToolButton

    from studio.runtime import fidelity, load_model, speed
    from studio.ui.dialogs.speed_dialog import SpeedDialog
    from studio.ui.inspector.inspector import Inspector
    from studio.ui.shell.session import EditSession

    every = speed.candidates()
    monkeypatch.setattr(speed, "candidates", lambda: every[:2])  # two settings keep the test short
    registry = NodeRegistry.default()
    session = EditSession(registry)
    built = text_to_video(registry, deep_wan, steps=4, preview=False)
    for nid, node in built.nodes.items():
        session.graph.add_node(registry.get(node.type), nid, params=dict(node.params))
    for link in built.links:
        session.graph.connect(link.src, link.src_port, link.dst, link.dst_port)
    inspector = Inspector(session)
    qtbot.addWidget(inspector)
    inspector.show_node("generate")
    button = next(b for b in inspector.findChildren(QToolButton) if b.text() == "Measure…")
    button.click()
    dialog = inspector.speed_dialog
    assert isinstance(dialog, SpeedDialog) and dialog.job is not None  # running, the click returned at once
    qtbot.waitUntil(lambda: dialog.job is None, timeout=120_000)
    assert dialog.table.rowCount() == len(dialog.results) > 0, dialog.note.text()
    assert "'balanced' now means" in dialog.note.text()
    remembered = fidelity.SpeedMemory().results(load_model(str(deep_wan)))
    assert {m.setting for m in remembered} == {m.setting for m in dialog.results}
    # and the canvas's graph was not touched by the measuring (it ran on a copy)
    assert session.graph.nodes["generate"].params.get("speed", "off") == "off"
