"""The graph document: node types, nodes, links, validation and the file format (no Qt, no torch)."""

from studio.graph.document import ChangeKind, Graph, GraphChange, Group, Link, Node
from studio.graph.fileformat import (
    FORMAT_VERSION,
    SUFFIX,
    dumps,
    graph_from_dict,
    graph_to_dict,
    load_graph,
    loads,
    save_graph,
)
from studio.graph.registry import ENTRY_POINT_GROUP, NodeRegistry
from studio.graph.spec import PORT_TYPES, Column, NodeSpec, ParamSpec, PortSpec, compatible, node
from studio.graph.validate import Problem, check_link, driven_links, find_cycle, validate

__all__ = [
    "ChangeKind",
    "ENTRY_POINT_GROUP",
    "FORMAT_VERSION",
    "PORT_TYPES",
    "SUFFIX",
    "Graph",
    "GraphChange",
    "Group",
    "Link",
    "Node",
    "NodeRegistry",
    "NodeSpec",
    "Column",
    "ParamSpec",
    "PortSpec",
    "Problem",
    "check_link",
    "driven_links",
    "compatible",
    "dumps",
    "find_cycle",
    "graph_from_dict",
    "graph_to_dict",
    "load_graph",
    "loads",
    "node",
    "save_graph",
    "validate",
]
