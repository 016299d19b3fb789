"""Driving a number parameter from a link: the inspector's "Drive with" menu and the note under a driven one."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMenu, QToolButton, QWidget

from studio.graph import Link, ParamSpec
from studio.graph.validate import check_link
from studio.ui.shell.session import EditSession

DRIVER_TYPES = ("SIGNAL", "FLOAT")


def drivers(session: EditSession, node_id: str, param: str) -> list[tuple[str, str, str]]:
    """Outputs that may drive ``param`` of ``node_id``: (node id, port, label), never one that would loop."""
    graph, registry = session.graph, session.registry
    found = []
    for nid, node in graph.nodes.items():
        spec = registry.get(node.type)
        if spec is None or nid == node_id:
            continue
        for port in spec.outputs:
            if port.type not in DRIVER_TYPES:
                continue
            if check_link(graph, registry, Link(nid, port.name, node_id, param)) is None:
                found.append((nid, port.name, f"{node.title or spec.title} ({nid}) · {port.name}"))
    return found


def driver_of(session: EditSession, node_id: str, param: str) -> Link | None:
    return session.graph.link_into(node_id, param)


def drive(session: EditSession, node_id: str, param: str, src: str, port: str) -> None:
    session.edit(f"Drive {param}", lambda g: g.connect(src, port, node_id, param))


def stop_driving(session: EditSession, node_id: str, param: str) -> None:
    link = driver_of(session, node_id, param)
    if link is not None:
        session.edit(f"Stop driving {param}", lambda g: g.disconnect(link))


def drive_button(session: EditSession, node_id: str, pspec: ParamSpec, parent: QWidget | None = None) -> QToolButton:
    """A small "~" button whose menu lists the signals and numbers in the graph that can drive the parameter."""
    button = QToolButton(parent)
    button.setObjectName("DriveButton")
    button.setText("~")
    how = "frame by frame" if pspec.animatable else "with its mean over the clip"
    button.setToolTip(f"Drive '{pspec.title}' with a signal or a number from another node ({how})")
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)

    def fill() -> None:
        menu.clear()
        current = driver_of(session, node_id, pspec.name)
        if current is not None:
            menu.addAction(f"Stop driving (now {current.src} · {current.src_port})",
                           lambda: stop_driving(session, node_id, pspec.name))
            menu.addSeparator()
        options = drivers(session, node_id, pspec.name)
        if not options:
            none = menu.addAction("No signal in the graph: add an Audio or Signal Math node")
            none.setEnabled(False)
        for src, port, label in options:
            action = menu.addAction(label, lambda s=src, p=port: drive(session, node_id, pspec.name, s, p))
            action.setCheckable(True)
            action.setChecked(current is not None and (current.src, current.src_port) == (src, port))

    menu.aboutToShow.connect(fill)
    button.setMenu(menu)
    return button


def driven_note(session: EditSession, node_id: str, pspec: ParamSpec) -> QLabel | None:
    link = driver_of(session, node_id, pspec.name)
    if link is None:
        return None
    src = session.graph.nodes.get(link.src)
    name = (src.title if src and src.title else link.src) if src else link.src
    how = "frame by frame" if pspec.animatable else "its mean over the clip"
    label = QLabel(f"Driven by {name} · {link.src_port} ({how}); the value above is not used.")
    label.setObjectName("DrivenNote")
    label.setWordWrap(True)
    return label
