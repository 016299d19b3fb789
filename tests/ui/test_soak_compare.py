"""Found on a real display: History's "Compare with the Clip on Screen" did nothing visible (the viewer's
Compare stayed "off") and, once a mode was picked, the history render was labelled "previous render"."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engine.jobs import parse_seeds, variations
from studio.graph import ParamSpec, PortSpec, node
from studio.values import Generation, Video
from tests.ui.conftest import ui_registry

FRAMES = 5


@node("soakcmp.Clip", title="Clip", category="Test", outputs=[PortSpec("video", "VIDEO")], is_output=True,
      params=[ParamSpec("seed", "seed", 1)])
def clip_node(ctx, seed):
    frames = np.full((FRAMES, 32, 48, 3), min(250, seed * 40), np.uint8)
    return Video(frames, 12.0, Generation(model="toy", seed=seed))


@pytest.fixture
def registry():
    reg = ui_registry()
    reg.register(clip_node)
    return reg


def two_renders(window, qtbot, seeds: str):  # type: ignore[no-untyped-def]
    """The timeline docks and the History panel once the clip node has rendered ``seeds`` (two of them)."""
    docks = window.attach_timeline()
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("soakcmp.Clip"), "clip"))
    window.renderer.submit(variations=variations(window.session.graph, window.registry, parse_seeds(seeds)))
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.list.count() == 2, timeout=20_000)
    return docks, panel


def test_compare_from_history_shows_side_by_side_and_names_the_render(window, qtbot):
    docks, panel = two_renders(window, qtbot, "2-3")
    viewer = docks.viewer
    assert viewer.compare_box.currentText() == "off"
    assert panel.compare(1)
    record = panel.record(1)
    assert viewer.compare_box.currentText() == "side by side"  # asked to compare: it compares
    assert viewer.viewer.compare == "side by side"
    assert viewer.viewer.compare_label == record.describe()  # not "previous render"
    chosen = "difference"  # a mode the person picked stays when they compare another
    viewer.compare_box.setCurrentText(chosen)
    assert panel.compare(2)
    assert viewer.compare_box.currentText() == chosen
    assert viewer.viewer.compare_label == panel.record(2).describe()
    # the next render's own previous clip is called that again
    window.session.set_param("clip", "seed", 9)
    window.renderer.submit()
    qtbot.waitUntil(lambda: panel.list.count() == 3, timeout=20_000)
    qtbot.waitUntil(lambda: viewer.viewer.compare_label == "previous render", timeout=5000)


def test_the_compared_clip_is_named_on_a_dark_box_even_over_a_white_render(window, qtbot):
    """Light text alone vanished on a light render: the name gets a dark box, as the frame counter has."""
    docks, panel = two_renders(window, qtbot, "7-8")
    assert panel.compare(1)
    viewer = docks.viewer.viewer
    viewer.resize(600, 300)
    image = viewer.grab().toImage()
    middle = viewer.width() * 3 // 4
    top = next(y for y in range(viewer.height()) if image.pixelColor(middle, y).lightness() > 200)  # the picture
    band = [image.pixelColor(x, y).lightness() for x in range(viewer.width() // 2, viewer.width())
            for y in range(top, top + 30)]
    assert sum(1 for v in band if v > 200) > 1000  # mostly the white render
    assert sum(1 for v in band if v < 140) > 200  # and a dark box holds its name
