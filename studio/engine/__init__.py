"""Evaluation of graphs: order, cache, cancellation and events (no Qt, no torch)."""

from studio.engine.cache import OutputCache, measure
from studio.engine.engine import CancelToken, Engine, NodeContext, RunHandle, RunResult
from studio.engine.events import (
    Event,
    Listener,
    NodeCached,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    NodeWarning,
    RunFinished,
    RunStarted,
)

__all__ = [
    "CancelToken",
    "Engine",
    "Event",
    "Listener",
    "NodeCached",
    "NodeContext",
    "NodeFailed",
    "NodeFinished",
    "NodeProgress",
    "NodeStarted",
    "NodeWarning",
    "OutputCache",
    "RunFinished",
    "RunHandle",
    "RunResult",
    "RunStarted",
    "measure",
]
