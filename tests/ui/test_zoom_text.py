"""Node text stays readable zoomed out: at 50% titles and port names are drawn larger in the scene."""

from __future__ import annotations

from PySide6.QtGui import QFontMetricsF

from studio.ui.canvas.items import text_boost
from studio.ui.shell import theme


def test_at_half_zoom_titles_and_port_names_are_about_eight_pixels_tall_on_screen(qapp):
    lod = 0.5
    title = QFontMetricsF(theme.font(9.0 * text_boost(lod, 1.6), True)).capHeight() * lod
    port = QFontMetricsF(theme.font(8.0 * text_boost(lod))).height() * lod
    plain = QFontMetricsF(theme.font(8.0)).height() * lod
    assert port >= 8.0 > plain  # without the boost a port name would be under 8 px
    assert title >= 4.5  # cap height: the capitals of a title are as tall as 9-point text at 100%
    assert text_boost(1.0) == 1.0 and text_boost(0.9) == 1.0  # at full size nothing changes


def test_a_zoomed_out_canvas_paints_with_long_port_names_elided_inside_the_node(window, registry):
    window.session.edit("Add", lambda g: g.add_node(registry.get("test.Add"), "a"))
    window.view.resetTransform()
    window.view.scale(0.5, 0.5)
    image = window.view.grab().toImage()
    assert not image.isNull() and image.width() > 100


def test_a_long_title_zoomed_out_is_shown_whole_at_a_smaller_boost_rather_than_cut(qapp):
    from studio.ui.canvas.items import WIDTH, title_size

    room = WIDTH - 20
    for lod in (0.5, 0.63, 0.8):
        size = title_size("Generate Sequence", room, lod)
        shown = QFontMetricsF(theme.font(size, True)).horizontalAdvance("Generate Sequence")
        assert shown <= room  # whole: nothing elided
        assert size >= 9.0  # never smaller than at 100%
    # a short title keeps the full boost
    assert title_size("Text", room, 0.5) == 9.0 * text_boost(0.5, 1.6)
