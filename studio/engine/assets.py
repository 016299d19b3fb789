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
    for nid in graph.nodes if node_ids is None else node_ids:
        node = graph.nodes[nid]
        spec = registry.get(node.type)
        if spec is None or node.bypassed:
            continue
        for pspec in spec.params:
            if pspec.kind == "path" and pspec.output_file == written:
                yield nid, pspec, node.params.get(pspec.name, pspec.default)


def missing_files(graph: Graph, registry: NodeRegistry, base_dir: Path | None) -> list[Problem]:
    """A problem for each file a node reads that is not there (or is a folder); relative names resolve against
    ``base_dir`` (the graph's folder), as the engine resolves them."""
    problems = []
    for nid, pspec, value in file_params(graph, registry):
        if not isinstance(value, str) or not value.strip():
            continue
        path = resolve_input(value, base_dir)
        try:
            there = path.is_file()
        except OSError:
            there = False
        if not there:
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            problems.append(Problem(nid, pspec.name, f"the file {path} {what}: choose another", "missing_file"))
    return problems
