"""Node type declarations: typed ports, parameters with defaults, ranges and help."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.graph.outputs import output_name_problem


@dataclass(frozen=True)
class PortType:
    """A type of value carried by links: its name, what it is, its colour on the canvas, and its value class.

    ``value`` is the class of what travels (a class, or its dotted name "package.module.Class", so that the
    graph room need not import the values it describes); None when any object may.
    """

    name: str
    help: str
    colour: str = "#c0c0c0"
    value: type | str | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", self.name):
            raise ValueError(f"port type {self.name!r}: names are upper case, like VIDEO or DEPTH_MAP")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.colour):
            raise ValueError(f"port type {self.name}: colour {self.colour!r} is not like #ff8800")

    def value_class(self) -> type | None:
        """The class of the values this type carries (a dotted name is imported now)."""
        if not isinstance(self.value, str):
            return self.value
        import importlib

        module, _, name = self.value.rpartition(".")
        return getattr(importlib.import_module(module), name)


# The port types links carry, by name. Built-in ones are below; a node pack adds its own with
# ``register_port_type`` before declaring nodes that use them. It only grows, and a name keeps one meaning,
# so it is a vocabulary rather than state: two registries of nodes share it safely.
PORT_TYPES: dict[str, PortType] = {}
UNKNOWN_COLOUR = "#c0c0c0"


def register_port_type(port_type: PortType) -> PortType:
    """Add a port type (a pack's, or the built-ins). The same declaration twice is fine; another one under a
    name already taken is refused, since graphs and nodes already rely on what that name means."""
    known = PORT_TYPES.get(port_type.name)
    if known is not None and known != port_type:
        raise ValueError(f"port type '{port_type.name}' is already registered as something else: {known.help}")
    PORT_TYPES[port_type.name] = port_type
    return port_type


def port_colour(name: str) -> str:
    """The canvas colour of a port type ("#rrggbb"); a type no pack declares gets a neutral grey."""
    known = PORT_TYPES.get(name)
    return known.colour if known is not None else UNKNOWN_COLOUR


for _builtin in (
    PortType("MODEL", "a loaded video model", "#b07cff", "studio.runtime.loading.LoadedModel"),
    PortType("PROMPT", "prompt text, negative prompt and prompt schedule", "#f2c14e", "studio.values.Prompt"),
    PortType("IMAGE", "one picture, uint8 [H, W, 3]", "#4fb3ff", "studio.values.Picture"),
    PortType("VIDEO", "a clip: frames uint8 [T, H, W, 3] and its frame rate", "#ff7a59", "studio.values.Video"),
    PortType("AUDIO", "sound: samples and sample rate", "#5ad17a", "studio.values.Sound"),
    PortType("SIGNAL", "one number per frame, 0 to 1", "#e86fb4", "studio.values.Signal"),
    PortType("CAMERA", "a camera path: one transform per frame", "#41d6c3", "studio.directing.camera.CameraPath"),
    PortType("CAMERA_GUIDE", "a camera move for Generate Video to follow: the path, the picture it looks at, "
             "how to steer", "#2fa59a", "studio.values.CameraGuide"),
    PortType("FLOAT", "a number", "#a8b3c4", float),
    PortType("ANY", "anything", "#e0e0e0"),
):
    register_port_type(_builtin)

# A link is allowed when the output's type equals the input's, or the input accepts ANY, or the pair is in
# CONVERSIONS (the engine converts the value).
CONVERSIONS: set[tuple[str, str]] = {("FLOAT", "SIGNAL")}

# "json" holds structured data (a list of keyframes, a prompt schedule): lists, dicts, numbers, text.
PARAM_KINDS = ("int", "float", "bool", "string", "text", "enum", "path", "seed", "color", "json")

# The most characters one text value may hold (a prompt, a model source, each text inside a json value).
# No real prompt comes near it: Wan's text encoder reads 512 tokens (about 2,500 characters), LTX and
# CogVideoX fewer. A graph carrying megabytes of text is refused before any work, and the texts that reach
# a clip's C2PA manifest stay far inside c2pa's limit on the manifest JSON (1 MiB, measured with c2pa-python
# 0.38.1, where a non-ASCII character costs 6 to 12 bytes; see tests/security/test_hostile_graphs.py).
MAX_TEXT_CHARS = 4_000
MAX_PATH_CHARS = 4_096  # PATH_MAX on Linux; no file system takes a longer path


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
    shows such a list as a table, one row per record. ``kind``: float, int, text, enum (with choices), or path:
    a file the node reads (a LoRA), which the engine checks and stamps into the cache key as it does a "path"
    parameter's file."""

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
    choices: tuple[str, ...] = ()  # "enum": the values allowed; "string": suggestions (any text is allowed)
    file_filter: str = ""  # for kind "path": e.g. "Images (*.png *.jpg *.jpeg *.webp)"
    label: str = ""
    soft_maximum: float | None = None  # slider end in the inspector; typing may go up to maximum
    output_file: bool = False  # kind "path": a file the node writes (need not exist) rather than reads
    # A number parameter can be driven by a link (a SIGNAL, or a FLOAT output). With animatable=True the node
    # takes the whole per-frame Signal; otherwise it gets one number, the signal's mean over the clip.
    animatable: bool = False
    # kind "json" holding a list of records: their fields, for the inspector's table (empty: JSON text only)
    columns: tuple[Column, ...] = ()
    # The most characters the value may hold: for text kinds the value itself (default MAX_TEXT_CHARS, paths
    # MAX_PATH_CHARS); for "json" all text inside it together (default: no total; each text MAX_TEXT_CHARS).
    max_length: int | None = None

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
            text_problem = self._text_problem(value)
            if text_problem:
                return [text_problem]
            if kind == "color" and not _is_color(value):
                return [f"expects a colour like #ff8800, got {value!r}"]
            if kind == "path" and self.output_file:
                problem = output_name_problem(value)
                if problem:
                    return [problem]
        elif kind == "json":
            if not isinstance(value, list | dict) or not _is_json_data(value):
                return [f"expects a list or object of plain data, got {_show(value)}"]
            text_problem = self._json_text_problem(value)
            if text_problem:
                return [text_problem]
        elif kind == "enum":
            if value not in self.choices:
                return [f"must be one of {', '.join(self.choices)}, got {_show(value)}"]
        if kind in ("int", "float", "seed"):
            if self.minimum is not None and value < self.minimum:
                return [f"{value} is below the minimum {_num(self.minimum)}"]
            if self.maximum is not None and value > self.maximum:
                return [f"{value} is above the maximum {_num(self.maximum)}"]
        return []

    def _text_problem(self, value: str) -> str | None:
        limit = self.max_length or (MAX_PATH_CHARS if self.kind == "path" else MAX_TEXT_CHARS)
        if len(value) > limit:
            return f"holds {len(value):,} characters; at most {limit:,} are allowed, shorten it"
        # Prose may break lines; a name, a path or a colour is one line.
        index = control_character(value, allow_lines=self.kind == "text")
        if index is not None:
            where = f"at character {index + 1}"
            return f"has a control character ({_code_point(value[index])}) {where}; remove it"
        return None

    def _json_text_problem(self, value: Any) -> str | None:
        """Every text inside a json value (names and values) checked like a text parameter, plus the total."""
        total = 0
        for path, text, is_name in _json_texts(value, ()):
            where = _json_where(path)
            what = f"the name of {where}" if is_name else where
            if len(text) > MAX_TEXT_CHARS:
                return f"{what} holds {len(text):,} characters; a text may hold at most {MAX_TEXT_CHARS:,}"
            index = control_character(text, allow_lines=not is_name)
            if index is not None:
                return f"{what} has a control character ({_code_point(text[index])}) at character {index + 1}"
            total += 0 if is_name else len(text)
            if self.max_length is not None and total > self.max_length:
                return (
                    f"holds more than {self.max_length:,} characters of text in all (at {where}); "
                    "shorten or remove entries"
                )
        return None

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


# Characters that act on a terminal or reorder what it shows rather than being shown: C0 and C1 controls
# (ESC starts the sequences that clear a screen or retitle a window), DEL, the line and paragraph separators,
# and the bidirectional embeddings, overrides and isolates ("Trojan Source").
_OTHER_CONTROLS = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f{_OTHER_CONTROLS}]")
_CONTROL_BUT_LINES = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_OTHER_CONTROLS}]")  # tab, LF and CR pass


def control_character(text: str, *, allow_lines: bool = False) -> int | None:
    """Where the first control character of ``text`` is (None when it has none). ``allow_lines`` lets
    tab, line feed and carriage return through, for prose such as a prompt."""
    found = (_CONTROL_BUT_LINES if allow_lines else _CONTROL).search(text)
    return None if found is None else found.start()


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: every control character written as an escape (``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def _json_texts(value: Any, path: tuple) -> Any:
    """(path, text, is_name) for every key and text value inside json data, in document order."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path + (key,), key, True
            yield from _json_texts(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_texts(item, path + (index,))


def _json_where(path: tuple) -> str:
    if not path:
        return "the value"
    parts = []
    for depth, step in enumerate(path):
        if isinstance(step, int):
            parts.append(f"{'entry' if depth == 0 else 'item'} {step + 1}")
        else:
            name = step if len(step) <= 40 else step[:37] + "..."
            parts.append(f"'{printable(name)}'")
    return " ".join(parts)


# A node implementation: called with a context and one keyword argument per input and parameter;
# returns a dict of output name -> value (or the value alone when there is one output).
NodeFunction = Callable[..., Any]


@dataclass(frozen=True)
class Exporter:
    """The exporter role: the node writes the final file, and these are its parameters for where and what range
    (the editor's in and out points and Export dialog, and ``studio render -o``, set them)."""

    path: str = "path"
    in_frame: str = "in_frame"
    out_frame: str = "out_frame"
    format: str | None = "format"  # None: it writes one format only


@dataclass(frozen=True)
class Roles:
    """What a node type is to the rest of the app, so that no one asks for a type id by name."""

    exporter: Exporter | None = None
    camera_source: str | None = None  # the parameter holding camera keyframes that the timeline shows and edits
    # (parameter, its draft parameter) pairs: a draft render runs each at the smaller of the two values
    draft: tuple[tuple[str, str], ...] = ()
    clip_rate: str | None = None  # the parameter that sets the clip's frame rate, known before its frames
    preview: bool = False  # shows a clip in the editor; ``studio render -o`` exports what a lone one shows
    model_loader: bool = False  # loads a model; ``studio render --device`` sets its ``device``
    model_source: str | None = None  # the parameter naming the model; the inspector offers the models found
    shot_list: str | None = None  # the parameter holding a sequence's shots; a shot's flag on the timeline selects it


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
    roles: Roles = Roles()

    def __post_init__(self) -> None:
        names = [p.name for p in self.inputs] + [p.name for p in self.params]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"node type {self.type_id}: inputs and parameters share names {sorted(dupes)}")
        missing = [name for name in self._role_params() if self.param(name) is None]
        if missing:
            raise ValueError(f"node type {self.type_id}: its roles name parameters it lacks {sorted(missing)}")

    def _role_params(self) -> list[str]:
        roles = self.roles
        names = [name for pair in roles.draft for name in pair]
        names += [n for n in (roles.camera_source, roles.clip_rate) if n is not None]
        if roles.exporter is not None:
            export = roles.exporter
            names += [n for n in (export.path, export.in_frame, export.out_frame, export.format) if n is not None]
        return names

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
    roles: Roles = Roles(),
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
            help=help or _reflowed(fn.__doc__ or ""),
            version=version,
            is_output=is_output,
            run=fn,
            upgrade=upgrade,
            roles=roles,
        )

    return wrap


def _reflowed(docstring: str) -> str:
    """A node function's docstring as help text: without its indentation, and each paragraph one line (its
    line breaks are the source file's width, not the inspector's, which wraps the text itself)."""
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)
