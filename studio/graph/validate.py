"""Graph validation: every problem at once, each naming its node and port or parameter."""

from __future__ import annotations

from dataclasses import dataclass

from studio.graph.document import Graph, Link
from studio.graph.registry import NodeRegistry
from studio.graph.shotrows import CHARACTER_SLOTS, shot_list_problems
from studio.graph.spec import NodeSpec, ParamSpec, compatible, printable


@dataclass(frozen=True)
class Problem:
    node_id: str | None
    where: str | None  # a port or parameter name
    message: str
    kind: str  # unknown_type, missing_input, type_mismatch, bad_link, cycle, bad_value, bad_row
    row: int | None = None  # a table parameter's row (1-based) the problem is in, so a view can select it
    column: str | None = None  # that row's field the problem is about, so a view can select the cell

    def __str__(self) -> str:
        # Printed on terminals (studio validate, render): names and texts from a file are escaped, never
        # sent raw (a node type made of escape codes would otherwise clear the screen).
        if self.node_id is None:
            return printable(self.message)
        loc = f"node '{self.node_id}'" + (f", {self.where}" if self.where else "")
        return printable(f"{loc}: {self.message}")


def driven_links(graph: Graph, node_id: str, spec: NodeSpec) -> list[tuple[ParamSpec, Link]]:
    """The node's number parameters that a link drives, each with its link."""
    found = []
    for pspec in spec.params:
        link = graph.link_into(node_id, pspec.name) if pspec.drivable else None
        if link is not None:
            found.append((pspec, link))
    return found


def check_link(graph: Graph, registry: NodeRegistry, link: Link) -> str | None:
    """Why ``link`` may not exist (None when it may): the message the canvas shows on refusal."""
    src, dst = graph.nodes.get(link.src), graph.nodes.get(link.dst)
    if src is None or dst is None:
        return f"link {link} names a node that does not exist"
    if link.src == link.dst:
        return "a node cannot feed itself"
    src_spec, dst_spec = registry.get(src.type), registry.get(dst.type)
    if src_spec is None or dst_spec is None:
        return None  # reported once as an unknown node type
    out = src_spec.output(link.src_port)
    if out is None:
        return f"'{src_spec.title}' has no output '{link.src_port}'"
    inp = dst_spec.link_target(link.dst_port)
    if inp is None:
        pspec = dst_spec.param(link.dst_port)
        if pspec is not None:
            return (
                f"parameter '{link.dst_port}' of '{dst_spec.title}' is a {pspec.kind} setting: only number "
                "parameters can be driven by a link"
            )
        return f"'{dst_spec.title}' has no input '{link.dst_port}'"
    if not compatible(out.type, inp.type):
        return (
            f"cannot connect {out.type} output '{link.src_port}' of '{link.src}' "
            f"to {inp.type} input '{link.dst_port}' of '{link.dst}'"
        )
    if not graph.has_link(link) and link.dst in graph.upstream([link.src]):
        return f"linking '{link.src}' to '{link.dst}' would make a cycle"
    return None


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle as a list of node ids, or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    successors: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for link in graph.links:
        if link.src in successors and link.dst in graph.nodes:
            successors[link.src].append(link.dst)
    for root in graph.nodes:
        if root in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            nid, i = stack.pop()
            if i == 0:
                state[nid] = 1
                path.append(nid)
            nexts = successors[nid]
            if i < len(nexts):
                stack.append((nid, i + 1))
                nxt = nexts[i]
                if state.get(nxt) == 1:
                    return path[path.index(nxt):] + [nxt]
                if nxt not in state:
                    stack.append((nxt, 0))
            else:
                state[nid] = 2
                path.pop()
    return None


def validate(graph: Graph, registry: NodeRegistry, node_ids: set[str] | None = None) -> list[Problem]:
    """All problems of the graph (or of the given nodes and their links)."""
    problems: list[Problem] = []
    wanted = set(graph.nodes) if node_ids is None else node_ids
    for nid in sorted(wanted):
        node = graph.nodes[nid]
        spec = registry.get(node.type)
        if spec is None:
            guess = registry.closest(node.type)
            hint = f" (did you mean '{guess}'?)" if guess else " (is its node pack installed?)"
            problems.append(Problem(nid, None, f"unknown node type '{node.type}'{hint}", "unknown_type"))
            continue
        params = _param_problems(nid, spec, node.params)
        problems.extend(params)
        if spec.roles.shot_list and not any(p.where == f"parameter '{spec.roles.shot_list}'" for p in params):
            problems.extend(_shot_problems(graph, nid, spec, node.params))
        problems.extend(_input_problems(graph, nid, spec))
    for link in graph.links:
        if link.dst not in wanted:
            continue
        reason = check_link(graph, registry, link)
        if reason and "cycle" not in reason:
            problems.append(Problem(link.dst, f"input '{link.dst_port}'", reason, "bad_link"))
    cycle = find_cycle(graph)
    if cycle and set(cycle) & wanted:
        problems.append(
            Problem(cycle[0], None, "the graph has a cycle: " + " -> ".join(cycle), "cycle")
        )
    return problems


def _param_problems(nid: str, spec: NodeSpec, params: dict) -> list[Problem]:
    found = []
    for pspec in spec.params:
        if pspec.name not in params:
            continue  # defaults fill the gap
        for message in pspec.problems(params[pspec.name]):
            found.append(Problem(nid, f"parameter '{pspec.name}'", message, "bad_value"))
    for name in params:
        if spec.param(name) is None:
            found.append(
                Problem(nid, f"parameter '{name}'", f"'{spec.title}' has no parameter '{name}'", "bad_value")
            )
    return found


def _shot_problems(graph: Graph, nid: str, spec: NodeSpec, params: dict) -> list[Problem]:
    """A shot list's rows by the rules its node renders by: a bad row shows before Render, not as a failure."""
    name = spec.roles.shot_list
    pspec = spec.param(name)
    rows = params.get(name, pspec.default if pspec is not None else None)
    slots = [slot for slot in CHARACTER_SLOTS if graph.link_into(nid, f"character_{slot}") is not None]
    found = []
    for problem in shot_list_problems(rows, slots):
        error = problem.error
        message = error.message + (f" ({error.hint})" if error.hint else "")
        found.append(Problem(nid, f"parameter '{name}'", message, "bad_row", problem.row, problem.field))
    return found


def _input_problems(graph: Graph, nid: str, spec: NodeSpec) -> list[Problem]:
    found = []
    for port in spec.inputs:
        if not port.optional and graph.link_into(nid, port.name) is None:
            found.append(
                Problem(
                    nid,
                    f"input '{port.name}'",
                    f"required {port.type} input is not connected",
                    "missing_input",
                )
            )
    return found
