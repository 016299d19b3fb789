"""Found in the soak on a real display: closing the window during a render stopped it without a word. Now the
editor asks, as File > Open does, and Cancel keeps the window and the render."""

from __future__ import annotations

from studio.ui.shell import files
from tests.ui.test_render import build
from tests.ui.test_soak_open_while_rendering import answering


def test_closing_the_window_asks_before_it_stops_a_render(window, qtbot, monkeypatch):
    build(window, 400)  # four seconds of steps
    asked: list[tuple[int, str]] = []
    window.renderer.submit()
    qtbot.waitUntil(lambda: window.renderer.running, timeout=10_000)
    monkeypatch.setattr(files, "ask_stop_renders", answering(False, asked))
    assert not window.close()
    assert asked == [(1, "closing the window")]
    assert window.isVisible() and window.renderer.running  # kept

    monkeypatch.setattr(files, "ask_stop_renders", answering(True, asked))
    assert window.close()
    qtbot.waitUntil(lambda: not window.renderer.running, timeout=5_000)
    qtbot.waitUntil(lambda: window.renderer.queue.entries[0].state == "cancelled", timeout=2_000)


def test_closing_an_idle_window_asks_nothing(window, monkeypatch):
    monkeypatch.setattr(files, "ask_stop_renders", lambda *a: (_ for _ in ()).throw(AssertionError("asked")))
    assert window.close()
