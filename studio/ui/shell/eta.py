"""Seconds per step, measured and kept across sessions: a queued render has an ETA before it starts.

A step costs what the model, the size and the length make it cost, so the time of a node that steps (one with a
``steps`` parameter: Generate Video, Generate Sequence) is kept per step under the key (model, node type,
width, height, frames, connected inputs), the model being its Load Model node's source and settings. The node's whole time is
counted (a camera guide's first pass, the decode), so its ETA covers them. The table lives in the user's data
folder; it is read on first use and written atomically, off the main thread (the render controller saves it).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from studio.fileio import write_text_atomic
from studio.graph import Graph

FILE = "step-times.json"
VERSION = 1
MAX_KEYS = 256  # the sizes and models of months of work; the least recently used go first
NEWEST_WEIGHT = 0.5  # a measure moves the kept figure halfway: one slow render (a busy machine) does not rule
# Load Model settings that change how fast a step runs (the LoRA table does not)
MODEL_PARAMS = ("source", "device", "dtype", "offload", "quantize", "transformer_file", "compile", "attention")
SIZE_PARAMS = ("width", "height", "num_frames")
TABLE_LIMIT = 1 << 20


def step_key(graph: Graph, node_id: str) -> str | None:
    """What a step of this node costs depends on: its model, its type, its width, height and length (0 means the
    model's default, the same size each time). None for a node that does not step."""
    node = graph.nodes.get(node_id)
    if node is None or "steps" not in node.params:
        return None
    link = graph.link_into(node_id, "model")
    model = graph.nodes.get(link.src) if link is not None else None
    identity = [model.type, {k: model.params[k] for k in MODEL_PARAMS if k in model.params}] if model else []
    # what is connected changes the work: a camera guide adds a first pass, a guide clip starts part way
    inputs = sorted({link.dst_port for link in graph.inputs_of(node_id)} - {"model"})
    return json.dumps([identity, node.type, [node.params.get(k, 0) for k in SIZE_PARAMS], inputs], sort_keys=True)


def steps_of(graph: Graph, node_id: str) -> int:
    value = graph.nodes[node_id].params.get("steps", 0)
    return int(value) if isinstance(value, int | float) and value > 0 else 0


class StepTimes:
    """The kept table: ``per_step(key)``, ``record(key, steps, seconds)``, ``estimate(graph)``, ``save()``."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._table: dict[str, dict[str, float]] | None = None
        self.version = 0  # bumps with each new measure: cached estimates know they are old
        self._writing = threading.Lock()  # two renders ending close together save one after the other

    @property
    def path(self) -> Path:
        if self._path is None:
            from studio.paths import data_dir

            self._path = data_dir() / FILE
        return self._path

    def _entries(self) -> dict[str, dict[str, float]]:
        if self._table is None:
            self._table = {}
            try:
                if self.path.stat().st_size <= TABLE_LIMIT:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                    if data.get("version") == VERSION:
                        self._table = {k: {"per_step": float(v["per_step"]), "used": float(v.get("used", 0))}
                                       for k, v in data.get("steps", {}).items()
                                       if isinstance(v, dict) and float(v.get("per_step", 0)) > 0}
            except (OSError, ValueError, TypeError, AttributeError, KeyError):
                self._table = {}  # a damaged table costs the ETAs, never the editor
        return self._table

    def per_step(self, key: str) -> float | None:
        entry = self._entries().get(key)
        return entry["per_step"] if entry else None

    def record(self, key: str, steps: int, seconds: float) -> None:
        if steps <= 0 or seconds <= 0:
            return
        table = self._entries()
        measured = seconds / steps
        old = table.get(key)
        per_step = measured if old is None else old["per_step"] + NEWEST_WEIGHT * (measured - old["per_step"])
        table[key] = {"per_step": per_step, "used": time.time()}
        if len(table) > MAX_KEYS:
            for stale in sorted(table, key=lambda k: table[k]["used"])[: len(table) - MAX_KEYS]:
                del table[stale]
        self.version += 1

    def estimate(self, graph: Graph) -> float | None:
        """Seconds the stepping nodes of ``graph`` should take, or None when one of them was never measured
        (or there is none)."""
        total, found = 0.0, False
        for node_id in graph.nodes:
            key = step_key(graph, node_id)
            if key is None:
                continue
            per_step = self.per_step(key)
            if per_step is None:
                return None
            total += per_step * steps_of(graph, node_id)
            found = True
        return total if found else None

    def text(self) -> str:
        """The table as its file holds it (taken on the main thread, written by ``save_text`` off it)."""
        return json.dumps({"version": VERSION, "steps": self._entries()}, sort_keys=True)

    def save_text(self, text: str) -> None:
        with self._writing:
            write_text_atomic(self.path, text)

    def save(self) -> None:
        self.save_text(self.text())
