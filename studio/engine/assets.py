"""Files a graph reads and writes, by its path parameters: which they are, where a name resolves, and which of
the files read are not there (a problem the editor lists at once, and the engine refuses to start on)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from studio.graph import Graph, NodeRegistry, ParamSpec, Problem


def resolve_input(value: str, base_dir: Path | None) -> Path:
    """Where a file name in the graph points: ``~`` expanded, a relative name against the graph's folder."""
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def file_params(graph: Graph, registry: NodeRegistry, node_ids: Iterable[str] | None = None, *,
                written: bool = False) -> Iterator[tuple[str, ParamSpec, Any]]:
    """(node id, parameter, value) of each file parameter of the nodes (all, or ``node_ids``) that are not
    bypassed: the files they read, or with ``written`` the files they write."""
    for nid, pspec, value in _params(graph, registry, node_ids):
        if pspec.kind == "path" and pspec.output_file == written:
            yield nid, pspec, value


def _params(graph: Graph, registry: NodeRegistry, node_ids: Iterable[str] | None
            ) -> Iterator[tuple[str, ParamSpec, Any]]:
    """(node id, parameter, value) of every parameter of the nodes (all, or ``node_ids``) not bypassed."""
    for nid in graph.nodes if node_ids is None else node_ids:
        node = graph.nodes[nid]
        spec = registry.get(node.type)
        if spec is None or node.bypassed:
            continue
        for pspec in spec.params:
            yield nid, pspec, node.params.get(pspec.name, pspec.default)


def table_files(spec: ParamSpec, value: Any) -> Iterator[tuple[str, str]]:
    """(label, file name) of each filled "path" cell of a table parameter (a "json" list with columns):
    ``loras row 2 file``, the files a node reads besides its path parameters."""
    names = [c.name for c in spec.columns if c.kind == "path"]
    if not names or not isinstance(value, list):
        return
    for row, record in enumerate(value, start=1):
        if not isinstance(record, dict):
            continue
        for name in names:
            cell = record.get(name)
            if isinstance(cell, str) and cell.strip():
                yield f"{spec.name} row {row} {name}", cell


def read_files(graph: Graph, registry: NodeRegistry, node_ids: Iterable[str] | None = None
               ) -> Iterator[tuple[str, str, str]]:
    """(node id, what, file name) of every file the nodes read: their path parameters (``what`` is the
    parameter's name) and the path cells of their tables."""
    for nid, pspec, value in file_params(graph, registry, node_ids):
        if isinstance(value, str) and value.strip():
            yield nid, pspec.name, value
    for nid, pspec, value in _params(graph, registry, node_ids):
        if pspec.columns:
            for label, name in table_files(pspec, value):
                yield nid, label, name


def missing_files(graph: Graph, registry: NodeRegistry, base_dir: Path | None) -> list[Problem]:
    """A problem for each file a node reads that is not there (or is a folder); relative names resolve against
    ``base_dir`` (the graph's folder), as the engine resolves them."""
    problems = []
    for nid, what, value in read_files(graph, registry):
        path = resolve_input(value, base_dir)
        try:
            there = path.is_file()
        except OSError:
            there = False
        if not there:
            state = "is a folder, not a file" if path.is_dir() else "does not exist"
            param = what.split(" ", 1)[0]
            where = f" ({what})" if what != param else ""
            problems.append(Problem(nid, param, f"the file {path}{where} {state}: choose another", "missing_file"))
    return problems
