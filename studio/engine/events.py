"""Events an evaluation publishes to plain-Python listeners (the editor, the CLI, tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    node_ids: tuple[str, ...]  # the nodes this run needs, in evaluation order


@dataclass(frozen=True)
class NodeCached:
    """A node whose outputs were served from the cache: nothing it depends on changed."""

    run_id: int
    node_id: str


@dataclass(frozen=True)
class NodeStarted:
    run_id: int
    node_id: str
    reason: str  # why it runs: "first run", "parameter 'seed' changed", ...


@dataclass(frozen=True)
class NodeProgress:
    """Step ``step`` of ``total``; ``preview`` is the whole clip so far, uint8 [T, h, w, 3], or None."""

    run_id: int
    node_id: str
    step: int
    total: int
    preview: Any = None
    message: str = ""


@dataclass(frozen=True)
class NodeWarning:
    """Something the person should know that does not stop the node (a placeholder model, a clipped value)."""

    run_id: int
    node_id: str
    message: str


@dataclass(frozen=True)
class NodeFinished:
    run_id: int
    node_id: str
    seconds: float
    written: tuple[str, ...] = ()  # the files a file-writing node wrote (the version it took, when numbered)


@dataclass(frozen=True)
class NodeFailed:
    run_id: int
    node_id: str
    message: str  # a sentence a person can act on; no traceback


@dataclass(frozen=True)
class RunFinished:
    """The end of every run. ``status`` is "ok", "failed" or "cancelled"."""

    run_id: int
    status: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # node id -> seconds, nodes that ran
    cached: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    message: str = ""


Event = (RunStarted | NodeCached | NodeStarted | NodeProgress | NodeWarning | NodeFinished | NodeFailed
         | RunFinished)
Listener = Callable[[Event], None]
