"""A render that came entirely from the cache is not kept in the History a second time ("#2 render · 0.0 s" of the
same clip, seen in the shot-list soak); a render in which something ran is."""

from __future__ import annotations

from studio.engine import RunFinished
from tests.ui.conftest import settle
from tests.ui.test_history import registry  # noqa: F401 (the fixture: the toy registry with a clip node)


def render_once(window, qtbot) -> RunFinished:
    ends: list = []
    window.renderer.event.connect(lambda ev: ends.append(ev) if isinstance(ev, RunFinished) else None)
    window.render()
    qtbot.waitUntil(lambda: bool(ends) and not window.renderer.running, timeout=20_000)
    window.renderer.flush()
    return ends[0]


def test_a_render_from_the_cache_is_not_kept_twice(window, qtbot):
    panel = window.history_panel
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("histtest.Clip"), "clip"))
    render_once(window, qtbot)
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=20_000)
    again = render_once(window, qtbot)
    assert again.cached == ("clip",) and not again.timings
    assert window.renderer.last.current.number == 2  # it is still the window's last render (timeline, Export)
    qtbot.wait(300)  # a history write would have started by now
    with qtbot.waitSignal(panel.listed, timeout=5000):
        panel.refresh()
    settle()
    assert panel.list.count() == 1 and panel.records[0].number == 1
    assert "every node came from the cache" in window.logs.log.toPlainText()
    window.session.set_param("clip", "seed", 5)  # something runs: a new render, kept
    render_once(window, qtbot)
    qtbot.waitUntil(lambda: panel.list.count() == 2, timeout=20_000)
