"""Found on a real display (1400x900 under Xvfb): after a camera-guided render the Metrics summary line
("Render #1: 5.8 s, ... camera path: 0.57 px/frame off, direction agreement ... prompt: colour red ✓, ...") was
one unbreakable label, and the window grew to 1511 px, past the screen: Inspector and Viewer went off its edge."""

from __future__ import annotations

LONG = ("Render #1: 5.8 s, 54.2 s per 10 s of clip · peak RAM 782 MB · frame change mean 2.5, held frames 75% · "
        "camera path: 0.57 px/frame off, direction agreement -0.00 · prompt: colour red ✓, shape circle ✓, "
        "motion left ✓")


def test_a_long_summary_does_not_widen_the_panel(qtbot):
    from studio.ui.panels.metrics_panel import MetricsPanel

    panel = MetricsPanel()
    qtbot.addWidget(panel)
    before = panel.minimumSizeHint().width()
    panel.summary.setText(LONG)
    assert panel.minimumSizeHint().width() <= max(before, 700)
