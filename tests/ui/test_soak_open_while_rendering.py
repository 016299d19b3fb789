"""Found on a real display: File > Open while a render ran stopped it (at step 139 of 150, a minute's work) and
every render waiting behind it, without a word. Now the editor asks first, and Cancel keeps them running."""

from __future__ import annotations

from studio.graph import dumps
from studio.ui.shell import files
from tests.ui.test_canvas import add
from tests.ui.test_render import build


def answering(reply: bool, asked: list[tuple[int, str]]):
    """A stand-in for the stop-renders question: notes (count, doing) in ``asked`` and answers ``reply``."""
    def ask(_parent, count, _name, doing):
        asked.append((count, doing))
        return reply
    return ask


def test_opening_another_graph_asks_before_it_stops_the_renders(window, qtbot, monkeypatch, tmp_path):
    other = tmp_path / "other.studio.json"
    n = add(window, "test.Number", (0, 0))
    other.write_text(dumps(window.session.graph, window.registry), encoding="utf-8")
    window.session.edit("remove", lambda g: g.remove_node(n))
    build(window, 400)  # four seconds of steps
    asked: list[tuple[int, str]] = []

    def answer(reply: bool):
        return answering(reply, asked)

    window.renderer.submit()
    window.renderer.submit()  # one running, one waiting
    qtbot.waitUntil(lambda: window.renderer.running, timeout=10_000)
    monkeypatch.setattr(files, "ask_stop_renders", answer(False))
    assert not window.open_path(other)
    assert not window.files.confirm_discard("starting a new graph")
    assert asked == [(2, "opening another graph"), (2, "starting a new graph")]
    assert window.renderer.running and window.renderer.queue.waiting() == 1  # kept
    assert len(window.session.graph.nodes) == 3  # still the graph that renders

    monkeypatch.setattr(files, "ask_stop_renders", answer(True))
    assert window.open_path(other)
    assert len(window.session.graph.nodes) == 1
    qtbot.waitUntil(lambda: not window.renderer.running, timeout=5_000)
    assert window.renderer.queue.entries[1].state == "cancelled"


def test_nothing_is_asked_when_nothing_renders(window, monkeypatch, tmp_path):
    other = tmp_path / "other.studio.json"
    other.write_text(dumps(window.session.graph, window.registry), encoding="utf-8")
    monkeypatch.setattr(files, "ask_stop_renders", lambda *a: (_ for _ in ()).throw(AssertionError("asked")))
    assert window.open_path(other)


def test_the_stopped_render_does_not_stay_running_in_the_queue(window, qtbot, tmp_path):
    other = tmp_path / "other.studio.json"
    other.write_text(dumps(window.session.graph, window.registry), encoding="utf-8")
    build(window, 400)
    window.renderer.submit()
    qtbot.waitUntil(lambda: window.renderer.running, timeout=10_000)
    assert window.open_path(other)  # the fixture answers "stop them"
    qtbot.waitUntil(lambda: not window.renderer.running, timeout=5_000)
    qtbot.waitUntil(lambda: window.renderer.queue.entries[0].state == "cancelled", timeout=2_000)
