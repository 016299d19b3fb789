"""The welcome card: on an empty, untitled canvas, the examples and recent files, gone once work begins."""

from __future__ import annotations

from studio.ui.shell import files
from tests.ui.conftest import settle


def test_an_empty_canvas_offers_the_examples_and_opening_one_puts_it_away(window, qtbot):
    settle()
    card = window.welcome
    assert card is not None and card.isVisible()
    found = files.examples()
    assert len(found) >= 3 and len(card.example_buttons) == len(found)
    from PySide6.QtWidgets import QLabel

    assert any("Ctrl+Enter" in label.text() for label in card.findChildren(QLabel))
    texts = " ".join(b.text() for b in card.example_buttons)
    assert "First clip" in texts and "Text-to-video" in texts
    card.example_buttons[0].click()
    settle()
    assert window.session.graph.nodes and window.session.path is None  # an untitled copy of the example
    assert not card.isVisible()


def test_no_card_over_a_graph_and_none_after_the_first_node(window, registry):
    settle()
    assert window.welcome.isVisible()
    window.session.edit("Add", lambda g: g.add_node(registry.get("test.Number"), "n"))
    settle()
    assert not window.welcome.isVisible()
    window.session.undo.undo()  # empty again, but the person has started: the card stays away
    settle()
    assert not window.welcome.isVisible()
