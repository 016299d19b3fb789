"""The ``.studio.json`` file format: versioned, migrated on load, asset paths relative to the file."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from studio.errors import GraphFileError
from studio.fileio import write_text_atomic
from studio.graph.document import Graph, Group, Link, Node
from studio.graph.fileformat_migrations import MIGRATIONS
from studio.graph.registry import NodeRegistry
from studio.graph.spec import _show as _short
from studio.graph.spec import control_character, printable

FORMAT_NAME = "studio.graph"
FORMAT_VERSION = 2  # 2: camera instructions travel through CAMERA_GUIDE ports
SUFFIX = ".studio.json"
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_NODES = 20_000
MAX_LINKS = 100_000


def graph_to_dict(graph: Graph, registry: NodeRegistry, base_dir: Path | None = None) -> dict[str, Any]:
    """The document as plain JSON data; path parameters relative to ``base_dir`` when given."""
    nodes = []
    for node in graph.nodes.values():
        if node.unknown is not None:
            saved = dict(node.unknown)
            saved.update(position=list(node.position), params=node.params)
            nodes.append(saved)
            continue
        spec = registry.get(node.type)
        params = dict(node.params)
        if spec is not None and base_dir is not None:
            for pspec in spec.params:
                # A file the node writes is a name inside the output folder, stored as it is.
                if pspec.kind == "path" and not pspec.output_file and isinstance(params.get(pspec.name), str):
                    params[pspec.name] = _relative(params[pspec.name], base_dir)
                elif pspec.columns and isinstance(params.get(pspec.name), list):
                    params[pspec.name] = _table_paths(pspec, params[pspec.name], lambda v: _relative(v, base_dir))
        entry: dict[str, Any] = {
            "id": node.id,
            "type": node.type,
            "version": node.version,
            "position": [round(float(node.position[0]), 2), round(float(node.position[1]), 2)],
            "params": params,
        }
        if node.title:
            # A title typed in the editor may hold a pasted tab, newline or escape, which loading refuses:
            # saved escaped (visible as \t, \x1b), so the editor never writes a file it cannot open again.
            entry["title"] = printable(node.title)
        if node.bypassed:
            entry["bypassed"] = True
        nodes.append(entry)
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "meta": graph.meta,
        "nodes": nodes,
        "links": [{"from": [lk.src, lk.src_port], "to": [lk.dst, lk.dst_port]} for lk in graph.links],
        "groups": [
            {"id": g.id, "title": printable(g.title), "rect": list(g.rect), "color": g.color}
            for g in graph.groups
        ],
    }


def dumps(graph: Graph, registry: NodeRegistry, base_dir: Path | None = None) -> str:
    return json.dumps(graph_to_dict(graph, registry, base_dir), indent=2, ensure_ascii=False) + "\n"


def save_graph(graph: Graph, path: str | Path, registry: NodeRegistry) -> None:
    """Write atomically: a crash mid-save never leaves a broken file behind."""
    path = Path(path)
    write_text_atomic(path, dumps(graph, registry, path.parent.resolve()))


def load_graph(path: str | Path, registry: NodeRegistry) -> Graph:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise GraphFileError("no such graph file", path=path, hint="check the path") from None
    except OSError as exc:
        raise GraphFileError(f"cannot read the graph file: {exc.strerror}", path=path) from None
    if size > MAX_FILE_BYTES:
        raise GraphFileError(f"the file is {size // 1_000_000} MB, too large for a graph", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise GraphFileError("the file is not UTF-8 text; is it a graph file?", path=path) from None
    except OSError as exc:
        raise GraphFileError(f"cannot read the graph file: {exc.strerror}", path=path) from None
    try:
        return loads(text, registry, path.parent.resolve())
    except GraphFileError as exc:
        exc.path = str(path)
        exc.args = (exc.describe(),)
        raise


def loads(text: str, registry: NodeRegistry, base_dir: Path | None = None) -> Graph:
    """Parse a document. Only GraphFileError escapes, whatever the text holds."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except GraphFileError:
        raise
    except json.JSONDecodeError as exc:
        raise GraphFileError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="was the file truncated or edited by hand?",
        ) from None
    except (ValueError, RecursionError) as exc:
        raise GraphFileError(f"not a readable graph: {exc}") from None
    try:
        return graph_from_dict(data, registry, base_dir)
    except GraphFileError:
        raise
    except RecursionError:
        raise GraphFileError("the document is nested too deeply") from None


def _refuse_constant(name: str) -> Any:
    raise GraphFileError(f"the file contains {name}, which is not a number a graph can use")


def graph_from_dict(data: Any, registry: NodeRegistry, base_dir: Path | None = None) -> Graph:
    if not isinstance(data, dict):
        raise GraphFileError("not a Studio graph: the top level must be a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise GraphFileError(
            f"not a Studio graph: 'format' is {_short(data.get('format'))}, expected '{FORMAT_NAME}'"
        )
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise GraphFileError(f"'version' must be a positive whole number, got {_short(version)}")
    if version > FORMAT_VERSION:
        raise GraphFileError(
            f"the file was saved by a newer Studio (format version {version}; this one reads up to "
            f"{FORMAT_VERSION})",
            hint="update Studio to open it",
        )
    while version < FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        version += 1

    nodes = _list(data, "nodes", MAX_NODES)
    links = _list(data, "links", MAX_LINKS)
    groups = _list(data, "groups", MAX_NODES)
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise GraphFileError("'meta' must be an object")

    graph = Graph()
    graph.meta = meta
    for i, raw in enumerate(nodes):
        node = _node_from_dict(raw, i, registry, base_dir)
        if node.id in graph.nodes:
            raise GraphFileError(f"two nodes have the id '{node.id}'")
        graph.nodes[node.id] = node
    for i, raw in enumerate(links):
        graph.add_link(_link_from_dict(raw, i, graph))
    for i, raw in enumerate(groups):
        graph.groups.append(_group_from_dict(raw, i))
    return graph


def _node_from_dict(raw: Any, index: int, registry: NodeRegistry, base_dir: Path | None) -> Node:
    where = f"node #{index + 1}"
    if not isinstance(raw, dict):
        raise GraphFileError(f"{where} must be an object")
    nid, ntype = raw.get("id"), raw.get("type")
    if not isinstance(nid, str) or not nid or len(nid) > 200:
        raise GraphFileError(f"{where} needs a text 'id'")
    _refuse_controls(nid, "its 'id'", where)
    where = f"node '{nid}'"
    if not isinstance(ntype, str) or not ntype:
        raise GraphFileError(f"{where} needs a text 'type'")
    _refuse_controls(ntype, "its 'type'", where)
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise GraphFileError(f"{where}: 'params' must be an object")
    for name in params:
        _refuse_controls(name, "the parameter name", where)
    position = raw.get("position", [0, 0])
    if (
        not isinstance(position, list)
        or len(position) != 2
        or not all(_finite(v) for v in position)
    ):
        raise GraphFileError(f"{where}: 'position' must be two numbers")
    version = raw.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise GraphFileError(f"{where}: 'version' must be a positive whole number")
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise GraphFileError(f"{where}: 'title' must be text")
    _refuse_controls(title, "its 'title'", where)
    node = Node(
        id=nid,
        type=ntype,
        params=dict(params),
        position=(float(position[0]), float(position[1])),
        title=title,
        bypassed=raw.get("bypassed", False) is True,
        version=version,
    )
    spec = registry.get(ntype)
    if spec is None:
        node.unknown = dict(raw)  # kept and saved back unchanged: a missing plugin is not data loss
        return node
    if version < spec.version and spec.upgrade is not None:
        node.params = spec.upgrade(dict(node.params), version)
        node.version = spec.version
    elif version > spec.version:
        raise GraphFileError(
            f"{where}: saved by a newer version of node type '{ntype}' ({version} > {spec.version})",
            hint="update Studio or the node pack",
        )
    for pspec in spec.params:
        value = node.params.get(pspec.name)
        if pspec.kind == "path" and not pspec.output_file and isinstance(value, str) and value and base_dir:
            node.params[pspec.name] = _absolute(value, base_dir)
        elif pspec.columns and isinstance(value, list) and base_dir:
            node.params[pspec.name] = _table_paths(pspec, value, lambda v: _absolute(v, base_dir))
    return node


def _table_paths(pspec, rows: list, change) -> list:  # noqa: ANN001 - a ParamSpec and a str -> str function
    """A table parameter's rows with each filled "path" cell changed (made relative on save, absolute on
    load, as a path parameter's file is); the rows themselves are copies, anything else is kept as it is."""
    names = [c.name for c in pspec.columns if c.kind == "path"]
    if not names:
        return rows
    changed = []
    for record in rows:
        if isinstance(record, dict):
            record = dict(record)
            for name in names:
                if isinstance(record.get(name), str) and record[name]:
                    record[name] = change(record[name])
        changed.append(record)
    return changed


def _link_from_dict(raw: Any, index: int, graph: Graph) -> Link:
    where = f"link #{index + 1}"
    if not isinstance(raw, dict):
        raise GraphFileError(f"{where} must be an object")
    ends = []
    for key in ("from", "to"):
        end = raw.get(key)
        if not (isinstance(end, list) and len(end) == 2 and all(isinstance(x, str) for x in end)):
            raise GraphFileError(f"{where}: '{key}' must be [node id, port name]")
        _refuse_controls(end[0], f"the node id in '{key}'", where)
        _refuse_controls(end[1], f"the port name in '{key}'", where)
        if end[0] not in graph.nodes:
            raise GraphFileError(f"{where}: '{key}' names node '{_clip(end[0])}', which is not in the graph")
        ends.append(end)
    link = Link(ends[0][0], ends[0][1], ends[1][0], ends[1][1])
    if graph.link_into(link.dst, link.dst_port) is not None:
        raise GraphFileError(f"{where}: input '{link.dst_port}' of node '{link.dst}' is linked twice")
    return link


def _group_from_dict(raw: Any, index: int) -> Group:
    where = f"group #{index + 1}"
    if not isinstance(raw, dict):
        raise GraphFileError(f"{where} must be an object")
    rect = raw.get("rect")
    if not (isinstance(rect, list) and len(rect) == 4 and all(_finite(v) for v in rect)):
        raise GraphFileError(f"{where}: 'rect' must be four numbers")
    gid, title, color = raw.get("id"), raw.get("title", ""), raw.get("color", "#3a4660")
    if not isinstance(gid, str) or not isinstance(title, str) or not isinstance(color, str):
        raise GraphFileError(f"{where}: 'id', 'title' and 'color' must be text")
    for what, text in (("'id'", gid), ("'title'", title), ("'color'", color)):
        _refuse_controls(text, f"its {what}", where)
    return Group(gid, title, (float(rect[0]), float(rect[1]), float(rect[2]), float(rect[3])), color)


def _list(data: dict, key: str, limit: int) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise GraphFileError(f"'{key}' must be a list")
    if len(value) > limit:
        raise GraphFileError(f"'{key}' has {len(value)} entries; at most {limit} are allowed")
    return value


def _refuse_controls(text: str, what: str, where: str) -> None:
    """Refuse a name holding a control character: ids, types, titles and port names reach terminals and
    logs, where an escape sequence would act (clear the screen, retitle the window) instead of showing."""
    index = control_character(text)
    if index is not None:
        raise GraphFileError(
            f"{where}: {what} '{printable(_clip(text))}' has a control character "
            f"(U+{ord(text[index]):04X}) at character {index + 1}",
            hint="names in a graph must be printable text; was the file made by hand or by another program?",
        )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _relative(value: str, base_dir: Path) -> str:
    if not value or not os.path.isabs(value):
        return value
    try:
        return Path(os.path.relpath(value, base_dir)).as_posix()
    except ValueError:  # another drive on Windows
        return value


def _absolute(value: str, base_dir: Path) -> str:
    # Not resolved through links: the name the graph gave is the name a signed clip records for its ingredient.
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else base_dir / path)
