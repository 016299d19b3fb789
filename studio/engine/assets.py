"""Files a graph reads, checked before a render: a missing input file is a problem the editor lists at once,
not a failure twenty seconds into a render."""

from __future__ import annotations

from pathlib import Path

from studio.graph import Graph, NodeRegistry, Problem


def missing_files(graph: Graph, registry: NodeRegistry, base_dir: Path | None) -> list[Problem]:
    """A problem for each file parameter of a node that reads (not one that writes: outputs) whose file is not
    there; relative names resolve against ``base_dir`` (the graph's folder), as the engine resolves them."""
    problems = []
    for nid, node in graph.nodes.items():
        spec = registry.get(node.type)
        if spec is None or spec.is_output or node.bypassed:
            continue
        for pspec in spec.params:
            value = node.params.get(pspec.name)
            if pspec.kind != "path" or not isinstance(value, str) or not value.strip():
                continue
            path = Path(value).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            try:
                there = path.is_file()
            except OSError:
                there = False
            if not there:
                what = "is a folder, not a file" if path.is_dir() else "does not exist"
                problems.append(Problem(nid, pspec.name, f"the file {path} {what}: choose another", "missing_file"))
    return problems
