"""Render jobs as plain data: a graph snapshot, what this job changes in it (seed, swept values), and how its
outputs are named. The command line's batches, the editor's queue and the farm all hand these around.

A job is data only (JSON round trip, no live objects), so it can wait in a queue, cross to another process or
machine, and be retried there. Seeds (``1-4``, ``1,3,7``) and sweeps (``generate.guidance=3,5,7``) expand into
the cartesian product of jobs.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.engine.outputs import OutputPolicy
from studio.errors import StudioError
from studio.graph import Graph, NodeRegistry, loads

MAX_JOBS = 10_000  # a typo such as --seeds 1-1000000 is refused rather than queued
SEED_PARAM = "seed"
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")


@dataclass(frozen=True)
class Override:
    """One NODE.PARAM=VALUE a job applies to its snapshot; the value as typed, parsed by the parameter."""

    node_id: str
    param: str
    text: str

    @classmethod
    def parse(cls, item: str, what: str = "--set") -> Override:
        target, sep, text = item.partition("=")
        node_id, dot, param = target.partition(".")
        if not sep or not dot or not node_id or not param:
            raise StudioError(f"{what} '{item}' is not NODE.PARAM=VALUE", hint="for example generate.seed=7")
        return cls(node_id, param, text)

    def __str__(self) -> str:
        return f"{self.node_id}.{self.param}={self.text}"


def apply_override(graph: Graph, registry: NodeRegistry, override: Override, what: str = "--set") -> Any:
    """Set one parameter from text, checked as the inspector checks it; a StudioError names what is wrong.
    Returns the parsed value. (File paths typed by a person are resolved by the front end before this.)"""
    node = graph.nodes.get(override.node_id)
    if node is None:
        raise StudioError(f"{what} '{override}': no node '{override.node_id}'",
                          hint="nodes in this graph: " + ", ".join(sorted(graph.nodes)))
    spec = registry.get(node.type)
    pspec = spec.param(override.param) if spec else None
    if pspec is None:
        known = ", ".join(p.name for p in spec.params) if spec else "none"
        raise StudioError(f"{what} '{override}': node '{override.node_id}' has no parameter '{override.param}'",
                          hint=f"its parameters: {known}")
    try:
        value = pspec.parse(override.text)
    except ValueError:
        raise StudioError(f"{what} '{override}': '{override.text}' is not a valid {pspec.kind}",
                          node_id=override.node_id) from None
    problems = pspec.problems(value)
    if problems:
        raise StudioError(f"{what} '{override}': {problems[0]}", node_id=override.node_id)
    graph.set_param(override.node_id, override.param, value)
    return value


# ---- seeds and sweeps
def parse_seeds(text: str) -> list[int]:
    """``1-4`` -> [1, 2, 3, 4]; ``1,3,7``; ``1-3,9``. Order kept, repeats dropped."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(-?\d+)(?:\s*-\s*(-?\d+))?", part)
        if not match:
            raise StudioError(f"--seeds '{text}': '{part}' is not a seed or a range",
                              hint="for example --seeds 1-4 or --seeds 1,3,7")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise StudioError(f"--seeds '{text}': the range {part} runs backwards", hint=f"write {last}-{first}")
        if last - first >= MAX_JOBS:
            raise StudioError(f"--seeds '{text}': {last - first + 1} seeds is more than {MAX_JOBS} jobs")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    return seeds


def parse_sweep(text: str) -> list[Override]:
    """``generate.guidance=3,5,7`` -> one Override per value."""
    head = Override.parse(text, "--sweep")
    values = [v.strip() for v in head.text.split(",")]
    if any(not v for v in values):
        raise StudioError(f"--sweep '{text}': an empty value", hint="for example --sweep generate.guidance=3,5,7")
    return [Override(head.node_id, head.param, v) for v in values]


def seed_nodes(graph: Graph, registry: NodeRegistry) -> list[str]:
    """The nodes a seed range sets: every node (not bypassed) with a parameter named ``seed``."""
    found = []
    for nid, node in graph.nodes.items():
        spec = registry.get(node.type)
        pspec = spec.param(SEED_PARAM) if spec is not None else None
        if pspec is not None and pspec.kind in ("int", "seed") and not node.bypassed:
            found.append(nid)
    return found


def variations(graph: Graph, registry: NodeRegistry, seeds: Sequence[int] = (),
               sweeps: Sequence[Sequence[Override]] = ()) -> list[tuple[Override, ...]]:
    """The cartesian product of the sweeps and the seeds (the seed varies fastest), each a tuple of
    overrides; one empty tuple when there is nothing to vary. Each value is checked here, before any job
    runs, so a bad value in the middle of a sweep fails the whole batch at once."""
    axes: list[list[tuple[Override, ...]]] = [[(o,) for o in sweep] for sweep in sweeps if sweep]
    names = ["--sweep"] * len(axes)
    if seeds:
        targets = seed_nodes(graph, registry)
        if not targets:
            raise StudioError("--seeds: no node in this graph has a seed parameter")
        axes.append([tuple(Override(nid, SEED_PARAM, str(s)) for nid in targets) for s in seeds])
        names.append("--seeds")
    total = 1
    for axis in axes:
        total *= len(axis)
    if total > MAX_JOBS:
        raise StudioError(f"this batch would be {total} jobs, more than {MAX_JOBS}",
                          hint="use fewer seeds or sweep values")
    probe = graph.copy()
    for axis, name in zip(axes, names, strict=True):
        for overrides in axis:
            for o in overrides:
                apply_override(probe, registry, o, name)
    return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*axes)]


def tag_for(overrides: Sequence[Override]) -> str:
    """A short name for a job's outputs from what it varies: ``guidance5-seed3`` (one value per parameter
    name; a seed set on several nodes appears once)."""
    parts: dict[str, str] = {}
    for o in overrides:
        name = o.param if o.param not in parts or parts[o.param] == o.text else f"{o.node_id}.{o.param}"
        parts[name] = o.text
    return "-".join(_TAG_UNSAFE.sub("_", f"{k}{v}").strip("_") for k, v in parts.items())


def tagged(name: str, tag: str) -> str:
    """clip.mp4 + seed3 -> clip_seed3.mp4 (versions, when the name is taken, still follow: clip_seed3_0002)."""
    if not tag:
        return name
    path = Path(name)
    stem = path.name[: len(path.name) - len(path.suffix)]
    return str(path.with_name(f"{stem}_{tag}{path.suffix}"))


# ---- the job
def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Job:
    """One render: ``graph`` (the document's JSON as it was when queued, with the person's ``--set`` already
    in it, asset paths absolute), ``overrides`` (what this job varies), and how its outputs are named.

    ``chosen``: node id -> a file the person picked (``-o``), before the job's tag is added. ``base_dir``:
    the graph file's folder (its ``renders/`` is the output folder unless ``output_root`` says otherwise)."""

    index: int
    graph: str
    graph_hash: str
    overrides: tuple[Override, ...] = ()
    settings: tuple[str, ...] = ()  # the person's --set, as typed (already in ``graph``), for the record
    tag: str = ""
    base_dir: str | None = None
    output_root: str | None = None
    chosen: Mapping[str, str] = field(default_factory=dict)
    draft: bool = False
    overwrite: bool = False
    shot: str = ""  # a shot of a sequence, when the job renders one
    priority: int = 0  # higher starts first; jobs of one priority start in the order they were queued

    def describe(self) -> str:
        return " ".join(str(o) for o in _unique(self.overrides)) or "(as saved)"

    def build(self, registry: NodeRegistry) -> tuple[Graph, OutputPolicy]:
        """The graph this job renders and where it may write. Raises StudioError for a bad snapshot."""
        graph = loads(self.graph, registry, Path(self.base_dir) if self.base_dir else None)
        for override in self.overrides:
            apply_override(graph, registry, override)
        chosen = {nid: Path(tagged(path, self.tag)) for nid, path in self.chosen.items()}
        if self.tag:
            for nid in writer_nodes(graph, registry):
                if nid not in chosen:
                    graph.set_param(nid, "path", tagged(str(graph.nodes[nid].params.get("path", "")), self.tag))
        policy = OutputPolicy(root=Path(self.output_root) if self.output_root else None, chosen=chosen,
                              overwrite=self.overwrite, draft=self.draft)
        return graph, policy

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "graph": self.graph, "graph_hash": self.graph_hash,
            "overrides": [str(o) for o in self.overrides], "settings": list(self.settings), "tag": self.tag,
            "base_dir": self.base_dir, "output_root": self.output_root, "chosen": dict(self.chosen),
            "draft": self.draft, "overwrite": self.overwrite, "shot": self.shot,
            "priority": self.priority,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        graph = str(data["graph"])
        if content_hash(graph) != data.get("graph_hash"):
            raise StudioError("the job's graph does not match its hash: it was changed or cut short on the way")
        return cls(
            index=int(data["index"]), graph=graph, graph_hash=str(data["graph_hash"]),
            overrides=tuple(Override.parse(o) for o in data.get("overrides", ())),
            settings=tuple(data.get("settings", ())), tag=str(data.get("tag", "")),
            base_dir=data.get("base_dir"), output_root=data.get("output_root"),
            chosen=dict(data.get("chosen", {})), draft=bool(data.get("draft")),
            overwrite=bool(data.get("overwrite")), shot=str(data.get("shot", "")),
            priority=int(data.get("priority", 0)),
        )


def make_jobs(snapshot: str, graph: Graph, registry: NodeRegistry, *, seeds: Sequence[int] = (),
              sweeps: Sequence[Sequence[Override]] = (), base_dir: Path | None = None,
              policy: OutputPolicy | None = None, settings: Sequence[str] = ()) -> list[Job]:
    """The batch for ``graph`` (whose JSON is ``snapshot``): one job per combination of sweep values and
    seeds, each tagged so its outputs get their own names."""
    policy = policy or OutputPolicy()
    combos = variations(graph, registry, seeds, sweeps)
    template = Job(index=0, graph=snapshot, graph_hash=content_hash(snapshot), settings=tuple(settings),
                   base_dir=str(base_dir) if base_dir else None,
                   output_root=str(policy.root) if policy.root else None,
                   chosen={nid: str(p) for nid, p in policy.chosen.items()}, draft=policy.draft,
                   overwrite=policy.overwrite)
    many = len(combos) > 1
    return [replace(template, index=i, overrides=combo, tag=tag_for(combo) if many else "")
            for i, combo in enumerate(combos, 1)]


def writer_nodes(graph: Graph, registry: NodeRegistry) -> list[str]:
    """Nodes that write a file named by their ``path`` parameter (Export, Save Video), not bypassed."""
    found = []
    for nid, node in graph.nodes.items():
        spec = registry.get(node.type)
        if spec is not None and spec.is_output and not node.bypassed:
            pspec = spec.param("path")
            if pspec is not None and pspec.output_file:
                found.append(nid)
    return found


def _unique(overrides: Sequence[Override]) -> list[Override]:
    """A seed set on several nodes is shown once."""
    seen: set[tuple[str, str]] = set()
    shown = []
    for o in overrides:
        if (o.param, o.text) not in seen or o.param != SEED_PARAM:
            shown.append(o)
        seen.add((o.param, o.text))
    return shown


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: ``status`` ok | failed | cancelled, the files it wrote, and (on a farm) where it ran
    and how many tries it took."""

    index: int
    label: str
    status: str
    written: tuple[str, ...] | list[str] = ()
    seconds: float = 0.0
    message: str = ""
    worker: str = ""
    attempts: int = 1
    render_seconds: float = 0.0  # on a farm: the worker's own time on the job (``seconds`` is the head's view)
