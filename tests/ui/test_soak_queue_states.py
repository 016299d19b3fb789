"""Found in a soak under Xvfb: every ended render's bar was full and the same blue, so forty failed renders
looked like forty finished ones. A failed bar is red and a cancelled one amber, the canvas's colours."""

from __future__ import annotations

from PySide6.QtGui import QColor

from studio.engine.jobs import parse_seeds, variations
from studio.ui.panels.queue_panel import STATE
from studio.ui.shell import theme
from tests.ui.test_queue import all_ended
from tests.ui.test_render import build


def bar_color(panel, row: int) -> QColor:
    bar = panel.table.cellWidget(row, STATE)
    image = bar.grab().toImage()
    return image.pixelColor(image.width() // 6, image.height() // 2)  # left of the centred text


def near(color: QColor, hex_color: str) -> bool:
    want = QColor(hex_color)
    return max(abs(color.red() - want.red()), abs(color.green() - want.green()),
               abs(color.blue() - want.blue())) < 40


def test_failed_and_cancelled_renders_do_not_look_done(window, qtbot):
    build(window, 30)
    made = window.renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds("1-3")))
    window.renderer.cancel_entry(made[2].number)  # waiting: cancelled before it ran
    qtbot.waitUntil(lambda: all_ended(window), timeout=20_000)
    window.renderer.queue.update(made[1], state="failed", message="as if a node failed")
    panel = window.queue_panel
    done, failed, cancelled = (bar_color(panel, row) for row in range(3))
    assert near(failed, theme.STATE_COLORS["failed"])
    assert near(cancelled, theme.STATE_COLORS["cancelled"])
    assert not near(done, theme.STATE_COLORS["failed"]) and not near(done, theme.STATE_COLORS["cancelled"])
    window.renderer.queue.update(made[1], state="done")  # a state that changes back takes the plain colour again
    assert near(bar_color(panel, 1), done.name())
