"""Undo and redo figures: edits of a 200-node graph with its canvas scene attached (ms a step)."""

# Run on demand: QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 python -m tests.benchmarks.bench_undo

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.graph import Graph, Link  # noqa: E402
from studio.ui.canvas import collapse, reroutes  # noqa: E402
from studio.ui.canvas.scene import GraphScene  # noqa: E402
from studio.ui.shell.session import EditSession  # noqa: E402
from tests import toy_nodes  # noqa: E402

NODES = 200
ROWS = 20


def build(session: EditSession) -> list[Link]:
    """20 rows by 10 columns, each node fed from the column before, a reroute on every tenth link."""
    reg = session.registry
    cols = NODES // ROWS
    ids = [[f"c{c}r{r}" for r in range(ROWS)] for c in range(cols)]

    def mutate(g: Graph) -> None:
        for c in range(cols):
            for r in range(ROWS):
                spec = reg.get("test.Number" if c == 0 else "test.Add")
                g.add_node(spec, ids[c][r], position=(c * 300.0, r * 160.0))
        for c in range(1, cols):
            for r in range(ROWS):
                g.connect(ids[c - 1][r], "value" if c == 1 else "sum", ids[c][r], "a")
                g.connect(ids[c - 1][(r + 1) % ROWS], "value" if c == 1 else "sum", ids[c][r], "b")
        for i, link in enumerate(list(g.links)):
            if i % 10 == 0:
                reroutes.set_points(g, link, [(link_x(g, link), 40.0 + i)])
        collapse.set_collapsed(g, [ids[0][0], ids[3][3]], True)

    session.edit("build", mutate)
    return list(session.graph.links)


def link_x(g: Graph, link: Link) -> float:
    return (g.nodes[link.src].position[0] + g.nodes[link.dst].position[0]) / 2


def edits(session: EditSession, links: list[Link]) -> dict[str, Callable[[], None]]:
    middle = "c5r10"
    all_ids = list(session.graph.nodes)
    return {
        "delete a node (5 links)": lambda: session.edit("Delete", lambda g: g.remove_node(middle)),
        "add a reroute point": lambda: session.edit(
            "Add reroute point", lambda g: reroutes.set_points(g, links[7], [(1.0, 2.0)])),
        "set a parameter": lambda: session.set_param("c0r5", "value", 9.0),
        "move all 200 nodes": lambda: session.edit("Move", lambda g: [
            g.update_node(nid, position=(g.nodes[nid].position[0] + 20, g.nodes[nid].position[1]))
            for nid in all_ids]),
        "collapse a node": lambda: session.edit(
            "Collapse", lambda g: collapse.set_collapsed(g, ["c2r2"], True)),
    }


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    QApplication.processEvents()
    return (time.perf_counter() - start) * 1000


def measure(with_canvas: bool, repeats: int) -> None:
    session = EditSession(toy_nodes.registry())
    scene = GraphScene(session) if with_canvas else None
    links = build(session)
    print(f"\n{'with the canvas scene' if with_canvas else 'document and undo stack only'}: "
          f"{len(session.graph.nodes)} nodes, {len(session.graph.links)} links, "
          f"{len(session.graph.meta.get('reroutes', {}))} rerouted links")
    print(f"{'edit':28} {'undo ms':>9} {'redo ms':>9}  (median of {repeats})")
    for name, do in edits(session, links).items():
        do()
        undos, redos = [], []
        for _ in range(repeats):
            undos.append(timed(session.undo.undo))
            redos.append(timed(session.undo.redo))
        session.undo.undo()
        print(f"{name:28} {statistics.median(undos):9.2f} {statistics.median(redos):9.2f}")
    if scene is not None:
        assert len(scene.nodes) == len(session.graph.nodes)


def main(repeats: int = 30) -> None:
    app = QApplication.instance() or QApplication([])
    measure(True, repeats)
    measure(False, repeats)
    del app


if __name__ == "__main__":
    main()
