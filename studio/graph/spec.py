"""Node type declarations: typed ports, parameters with defaults, ranges and help."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Port types carried by links. A link is allowed when the output's type equals the input's,
# or the input accepts ANY, or the pair is in CONVERSIONS (the engine converts the value).
PORT_TYPES = {
    "MODEL": "a loaded video model",
    "PROMPT": "prompt text, negative prompt and prompt schedule",
    "IMAGE": "one picture, uint8 [H, W, 3]",
    "VIDEO": "a clip: frames uint8 [T, H, W, 3] and its frame rate",
    "AUDIO": "sound: samples and sample rate",
    "SIGNAL": "one number per frame, 0 to 1",
    "CAMERA": "a camera path: one transform per frame",
    "FLOAT": "a number",
    "ANY": "anything",
}
CONVERSIONS: set[tuple[str, str]] = {("FLOAT", "SIGNAL")}

# "json" holds structured data (a list of keyframes, a prompt schedule): lists, dicts, numbers, text.
PARAM_KINDS = ("int", "float", "bool", "string", "text", "enum", "path", "seed", "color", "json")


def compatible(out_type: str, in_type: str) -> bool:
    return out_type == in_type or in_type == "ANY" or (out_type, in_type) in CONVERSIONS


@dataclass(frozen=True)
class PortSpec:
    name: str
    type: str
    help: str = ""
    optional: bool = False

    def __post_init__(self) -> None:
        if self.type not in PORT_TYPES:
            raise ValueError(f"port '{self.name}': unknown port type {self.type!r}")


@dataclass(frozen=True)
class Column:
    """One field of the records a "json" list parameter holds (keyframes, schedule entries): the inspector
    shows such a list as a table, one row per record. ``kind``: float, int, text or enum (with choices)."""

    name: str
    kind: str = "float"
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """A parameter shown in the inspector and stored in the graph file."""

    name: str
    kind: str
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    file_filter: str = ""  # for kind "path": e.g. "Images (*.png *.jpg *.jpeg *.webp)"
    label: str = ""
    soft_maximum: float | None = None  # slider end in the inspector; typing may go up to maximum
    output_file: bool = False  # kind "path": a file the node writes (need not exist) rather than reads
    # A number parameter can be driven by a link (a SIGNAL, or a FLOAT output). With animatable=True the node
    # takes the whole per-frame Signal; otherwise it gets one number, the signal's mean over the clip.
    animatable: bool = False
    # kind "json" holding a list of records: their fields, for the inspector's table (empty: JSON text only)
    columns: tuple[Column, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter '{self.name}': unknown kind {self.kind!r}")
        if self.kind == "enum" and self.default not in self.choices:
            raise ValueError(f"parameter '{self.name}': default {self.default!r} not among choices")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def drivable(self) -> bool:
        """Whether a link may drive this parameter (int and float kinds; not seeds, which pick, not measure)."""
        return self.kind in ("int", "float")

    def problems(self, value: Any) -> list[str]:
        """Why ``value`` is not acceptable for this parameter (empty when it is)."""
        kind = self.kind
        if kind in ("int", "seed"):
            if isinstance(value, bool) or not isinstance(value, int):
                return [f"expects a whole number, got {_show(value)}"]
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return [f"expects a number, got {_show(value)}"]
            if not math.isfinite(value):
                return [f"expects a finite number, got {value}"]
        elif kind == "bool":
            if not isinstance(value, bool):
                return [f"expects true or false, got {_show(value)}"]
        elif kind in ("string", "text", "path", "color"):
            if not isinstance(value, str):
                return [f"expects text, got {_show(value)}"]
            if kind == "color" and not _is_color(value):
                return [f"expects a colour like #ff8800, got {value!r}"]
        elif kind == "json":
            if not isinstance(value, list | dict) or not _is_json_data(value):
                return [f"expects a list or object of plain data, got {_show(value)}"]
        elif kind == "enum":
            if value not in self.choices:
                return [f"must be one of {', '.join(self.choices)}, got {_show(value)}"]
        if kind in ("int", "float", "seed"):
            if self.minimum is not None and value < self.minimum:
                return [f"{value} is below the minimum {_num(self.minimum)}"]
            if self.maximum is not None and value > self.maximum:
                return [f"{value} is above the maximum {_num(self.maximum)}"]
        return []

    def parse(self, text: str) -> Any:
        """Turn a command-line string into a value of this parameter's kind (ValueError if it cannot)."""
        kind = self.kind
        if kind in ("int", "seed"):
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"expected true or false, got {text!r}")
        if kind == "json":
            import json

            return json.loads(text)
        return text


def _is_json_data(value: Any, depth: int = 0) -> bool:
    if depth > 20:
        return False
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json_data(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_data(v, depth + 1) for k, v in value.items())
    return False


def _is_color(value: str) -> bool:
    return len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in value[1:])


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# A node implementation: called with a context and one keyword argument per input and parameter;
# returns a dict of output name -> value (or the value alone when there is one output).
NodeFunction = Callable[..., Any]


@dataclass(frozen=True)
class NodeSpec:
    """What a node type declares: ports, parameters, help; ``run`` does the work."""

    type_id: str
    title: str
    category: str
    inputs: tuple[PortSpec, ...] = ()
    outputs: tuple[PortSpec, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    help: str = ""
    version: int = 1
    is_output: bool = False  # a sink: evaluated when a run asks for "all outputs"
    run: NodeFunction | None = field(default=None, compare=False, repr=False)
    # upgrade(params, saved_version) -> params, for graph files saved with an older node version
    upgrade: Callable[[dict, int], dict] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = [p.name for p in self.inputs] + [p.name for p in self.params]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"node type {self.type_id}: inputs and parameters share names {sorted(dupes)}")

    def input(self, name: str) -> PortSpec | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> PortSpec | None:
        return next((p for p in self.outputs if p.name == name), None)

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def driven_port(self, name: str) -> PortSpec | None:
        """The socket of a number parameter that a link drives (None for an input or another kind)."""
        pspec = self.param(name)
        if pspec is None or not pspec.drivable:
            return None
        how = "per frame" if pspec.animatable else "its mean over the clip"
        return PortSpec(name, "SIGNAL", f"drives '{pspec.title}' ({how})", optional=True)

    def link_target(self, name: str) -> PortSpec | None:
        """What a link into ``name`` feeds: an input port, or a driven number parameter."""
        return self.input(name) or self.driven_port(name)

    def default_params(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def node(
    type_id: str,
    *,
    title: str,
    category: str,
    inputs: tuple[PortSpec, ...] | list[PortSpec] = (),
    outputs: tuple[PortSpec, ...] | list[PortSpec] = (),
    params: tuple[ParamSpec, ...] | list[ParamSpec] = (),
    help: str = "",
    version: int = 1,
    is_output: bool = False,
    upgrade: Callable[[dict, int], dict] | None = None,
) -> Callable[[NodeFunction], NodeSpec]:
    """Decorator that turns an implementation function into a NodeSpec."""

    def wrap(fn: NodeFunction) -> NodeSpec:
        return NodeSpec(
            type_id=type_id,
            title=title,
            category=category,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            params=tuple(params),
            help=help or (fn.__doc__ or "").strip(),
            version=version,
            is_output=is_output,
            run=fn,
            upgrade=upgrade,
        )

    return wrap
