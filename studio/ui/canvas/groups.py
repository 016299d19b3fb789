"""Group frames' own edits: the colour choice from the group's context menu."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QColorDialog, QMenu, QWidget

from studio.graph import Graph, Group
from studio.ui.shell.session import EditSession

# Muted colours that keep white titles readable on the dark canvas (the frame fill is translucent).
PALETTE = [
    ("Slate", "#3a4660"),
    ("Blue", "#2f5f9e"),
    ("Teal", "#2f7d75"),
    ("Green", "#3f7a3a"),
    ("Olive", "#75702f"),
    ("Orange", "#9a5b24"),
    ("Red", "#8f3434"),
    ("Purple", "#65418f"),
]


def set_group_color(session: EditSession, group_id: str, colour: str) -> None:
    """Recolour one group frame as one undo step."""

    def mutate(graph: Graph) -> None:
        graph.set_groups(
            [Group(g.id, g.title, g.rect, colour) if g.id == group_id else g for g in graph.groups]
        )

    session.edit("Group colour", mutate)


def swatch(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def add_color_menu(
    menu: QMenu,
    session: EditSession,
    group_id: str,
    parent: QWidget,
    ask: Callable[[QColor, QWidget], QColor] | None = None,
) -> QMenu:
    """A "Colour" submenu: the palette, with the group's current colour checked, and "Other…"."""
    group = next((g for g in session.graph.groups if g.id == group_id), None)
    current = group.color.lower() if group is not None else ""
    sub = menu.addMenu("Colour")
    for name, colour in PALETTE:
        action = sub.addAction(swatch(colour), name)
        action.setCheckable(True)
        action.setChecked(colour == current)
        action.setData(colour)
        action.triggered.connect(lambda _on=False, c=colour: set_group_color(session, group_id, c))
    sub.addSeparator()

    def other() -> None:
        chooser = ask or (lambda start, owner: QColorDialog.getColor(start, owner, "Group colour"))
        chosen = chooser(QColor(current or PALETTE[0][1]), parent)
        if chosen.isValid():
            set_group_color(session, group_id, chosen.name())

    sub.addAction("Other…", other)
    return sub
