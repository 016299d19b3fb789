"""The fidelity guard of the speed settings: measure what a setting costs on a model, remember it, choose by it.

``measure`` renders one request without and with each candidate setting (same seed) and compares the clips
(PSNR, SSIM) and the sampling times. ``SpeedMemory`` keeps the results per model, keyed by the model's identity
(its weights hash, and the LoRAs applied), in a small JSON file in the user's data folder. ``resolve`` turns a
Generate node's speed (``off``, ``balanced``, ``fast`` or a concrete ``method@value``) into the setting a render
uses and a sentence saying why, for the run's log and the clip's record.

The command line runs it as ``studio bench-speed GRAPH``; the editor can run ``measure`` + ``SpeedMemory.record``
from a button the same way (a background job: it renders the clip 1 + len(settings) times).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from studio import fileio, locks, paths
from studio.errors import Cancelled, ModelError
from studio.runtime import speed
from studio.runtime.loading import LoadedModel
from studio.runtime.sampling import PromptEmbeds, VideoRequest, decode, sample

PASS_DB = 25.0  # a setting that keeps the clip at or above this PSNR against the full render passes
MEMORY_FILE = "speed-fidelity.json"
_FORMAT = 1
# 'fast' before anything was measured: a first-block cache that skips most steps of a video DiT (diffusers'
# docs use 0.2 on Wan); where the transformer has one block there is nothing to skip and it renders in full.
FAST_UNMEASURED = speed.Setting("first_block", 0.2)
NOT_MEASURED = "no setting measured for this model yet: run studio bench-speed"


@dataclass(frozen=True)
class Measurement:
    """One setting against the full render of the same request."""

    setting: str
    speedup: float  # full sampling time / sampling time with the setting (best of the repeats)
    psnr: float  # dB against the full render's frames; inf when identical
    ssim: float
    seconds: float
    full_seconds: float
    error: str = ""  # why the model refused the setting (nothing else is filled in then)

    @property
    def passed(self) -> bool:
        return not self.error and self.psnr >= PASS_DB

    def line(self) -> str:
        if self.error:
            return f"{self.setting:<18} refused: {self.error}"
        verdict = "keeps" if self.passed else "below"
        shown = "identical" if math.isinf(self.psnr) else f"{self.psnr:5.1f} dB"
        return (f"{self.setting:<18} {self.speedup:5.2f}x  PSNR {shown}  SSIM {self.ssim:.3f}  "
                f"({verdict} {PASS_DB:g} dB)")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _box(x: np.ndarray, size: int) -> np.ndarray:
    """Mean over size x size windows of [T, H, W] (valid windows only), through summed-area tables."""
    table = np.pad(x, ((0, 0), (1, 0), (1, 0))).cumsum(1).cumsum(2)
    s = table[:, size:, size:] - table[:, :-size, size:] - table[:, size:, :-size] + table[:, :-size, :-size]
    return s / (size * size)


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Mean structural similarity of two uint8 clips [T, H, W, 3] on their luma, over 7x7 windows."""
    weights = np.array([0.299, 0.587, 0.114])
    x, y = (clip.astype(np.float64) @ weights for clip in (a, b))
    window = max(1, min(window, x.shape[1], x.shape[2]))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _box(x, window), _box(y, window)
    vx, vy = _box(x * x, window) - mx * mx, _box(y * y, window) - my * my
    cov = _box(x * y, window) - mx * my
    value = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(value.mean())


def _timed(model: LoadedModel, embeds: PromptEmbeds, request: VideoRequest, reps: int,
           is_cancelled: Callable[[], bool]) -> tuple[np.ndarray, float]:
    best, latents = math.inf, None
    for _ in range(max(1, reps)):
        started = time.perf_counter()
        latents = sample(model, embeds, request, is_cancelled=is_cancelled)
        best = min(best, time.perf_counter() - started)
    return decode(model, latents), best


def measure(model: LoadedModel, embeds: PromptEmbeds, request: VideoRequest, settings: Iterable[str], *,
            reps: int = 1, on_result: Callable[[Measurement], None] | None = None,
            is_cancelled: Callable[[], bool] = lambda: False) -> list[Measurement]:
    """Render ``request`` in full, then with each setting (same seed), and compare. A setting the model cannot
    take (a one-block transformer and first_block) is reported with the reason, not raised."""
    concrete = [str(s) for s in (speed.parse(t) for t in settings) if s is not None]
    if not concrete:
        raise ModelError("no speed setting to measure", hint=f"give one or more of {speed.choices_text()}")
    base_request = replace(request, speed="off", preview=False)
    full, full_time = _timed(model, embeds, base_request, reps, is_cancelled)

    def render(text: str) -> tuple[np.ndarray, float]:
        if is_cancelled():
            raise Cancelled()
        return _timed(model, embeds, replace(base_request, speed=text), reps, is_cancelled)

    return _against_full(concrete, render, full, full_time, on_result, refused=lambda _exc: True)


def _against_full(settings: Iterable[str], render: Callable[[str], tuple[np.ndarray, float]], full: np.ndarray,
                  full_time: float, on_result: Callable[[Measurement], None] | None,
                  refused: Callable[[ModelError], bool]) -> list[Measurement]:
    """Each setting rendered and compared with the full render; a ModelError ``refused`` accepts is the
    setting's refusal (recorded, not raised)."""
    results = []
    for text in settings:
        try:
            frames, seconds = render(text)
        except ModelError as exc:
            if not refused(exc):
                raise
            result = Measurement(text, 0.0, 0.0, 0.0, 0.0, full_time, error=exc.message)
        else:
            result = Measurement(text, full_time / seconds, psnr(full, frames), ssim(full, frames), seconds,
                                 full_time)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def model_key(model: LoadedModel) -> str:
    """A model's identity for the memory: its weights, and the LoRAs on them (they change every step)."""
    if not model.adapters:
        return model.weights_id
    return model.weights_id + "+" + hashlib.sha256("\n".join(model.adapters).encode()).hexdigest()[:12]


class SpeedMemory:
    """What bench-speed measured, per model: a JSON file written atomically, under a lock for read-modify-write."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.data_dir() / MEMORY_FILE

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": _FORMAT, "models": {}}
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the speed measurements: {exc}", path=str(self.path),
                             hint="delete the file; run studio bench-speed again") from exc
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ModelError("the speed measurements file is not Studio's", path=str(self.path),
                             hint="delete the file; run studio bench-speed again")
        return data

    def results(self, model: LoadedModel) -> list[Measurement]:
        entry = self._read()["models"].get(model_key(model), {})
        found = []
        for text, row in (entry.get("settings") or {}).items():
            try:
                found.append(Measurement(setting=text, **{k: row[k] for k in (
                    "speedup", "psnr", "ssim", "seconds", "full_seconds")}, error=str(row.get("error", ""))))
            except (KeyError, TypeError):
                continue  # a row of another version: measured again by the next bench-speed
        return found

    def record(self, model: LoadedModel, results: Iterable[Measurement], context: dict | None = None) -> None:
        """Merge ``results`` into the model's entry (a setting measured again replaces its old row)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locks.hold(self.path.with_name(self.path.name + ".lock"), record=True, wait=10.0):
            data = self._read()
            entry = data["models"].setdefault(model_key(model), {})
            entry.update(model=model.name, folder=str(model.source), weights_id=model.weights_id,
                         adapters=list(model.adapters))
            rows = entry.setdefault("settings", {})
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            for result in results:
                row = {k: v for k, v in asdict(result).items() if k != "setting"}
                row["psnr"] = min(row["psnr"], 999.0)  # JSON has no infinity: identical clips read as 999 dB
                rows[result.setting] = row | {"measured": stamp, **(context or {})}
            fileio.write_text_atomic(self.path, json.dumps(data, indent=2, sort_keys=True))


@dataclass(frozen=True)
class Resolved:
    """The concrete setting a render uses ('off' or 'method@value') and why, in a sentence."""

    setting: str
    why: str

    @property
    def record(self) -> str | None:
        """For the clip's Generation record: None when every step was computed."""
        return None if self.setting == speed.OFF else f"{self.setting} ({self.why})"


def _supported(model: LoadedModel, setting: speed.Setting) -> bool:
    transformer = getattr(model.pipe, "transformer", None)
    blocks = getattr(transformer, "transformer_blocks", None) or getattr(transformer, "blocks", None)
    return setting.method != "first_block" or blocks is None or len(blocks) > 1


def resolve(text: str, model: LoadedModel, memory: SpeedMemory | None = None) -> Resolved:
    """What a Generate node's speed means for ``model``: presets pick from what bench-speed measured on it."""
    raw = (text or speed.OFF).strip().lower()
    if raw not in speed.PRESETS:
        setting = speed.parse(raw)
        if setting is None:
            return Resolved(speed.OFF, "every step computed")
        return Resolved(str(setting), "as set")
    measured = [m for m in (memory or SpeedMemory()).results(model) if not m.error and m.speedup > 1.0]
    if raw == "balanced":
        if not measured:
            return Resolved(speed.OFF, f"balanced: {NOT_MEASURED}")
        passed = [m for m in measured if m.passed]
        if not passed:
            return Resolved(speed.OFF, f"balanced: none of the {len(measured)} settings measured on this model "
                                       f"keeps {PASS_DB:g} dB")
        best = max(passed, key=lambda m: m.speedup)
        return Resolved(best.setting, f"balanced: the fastest setting measured on this model that keeps "
                                      f"{PASS_DB:g} dB, {best.speedup:.2f}x at {_db(best.psnr)}")
    if measured:
        best = max(measured, key=lambda m: m.speedup)
        return Resolved(best.setting, f"fast: the fastest setting measured on this model, {best.speedup:.2f}x at "
                                      f"{_db(best.psnr)}, fidelity not guarded")
    if not _supported(model, FAST_UNMEASURED):
        return Resolved(speed.OFF, "fast: this model's transformer has one block, nothing to skip")
    return Resolved(str(FAST_UNMEASURED), f"fast: not measured on this model, fidelity not guarded ({NOT_MEASURED})")


def _db(value: float) -> str:
    return "identical frames" if value >= 999.0 or math.isinf(value) else f"{value:.1f} dB"


# --- a graph's Generate node, through the engine ----------------------------------------------------------

# The warm-up render (kernels, the prompt encode, the preview map, a camera keyframe) runs at a setting the
# timed renders do not use, so each timed render is the first of its own cache key and all of them find the
# same things already warm.
_WARM_UP = ("pab@20", "pab@19")


def speed_nodes(graph, registry) -> list[str]:
    """The nodes of ``graph`` that take a speed setting and a seed (Generate Video and its kind)."""
    found = []
    for nid, node in graph.nodes.items():
        spec = registry.get(node.type)
        if spec is not None and spec.param("speed") is not None and spec.param("seed") is not None:
            found.append(nid)
    return found


@dataclass
class GraphBench:
    """What bench_graph measured: the model it ran and one Measurement per setting."""

    model: LoadedModel
    node_id: str
    seed: int
    results: list[Measurement]
    context: dict


def bench_graph(graph, registry, settings: Iterable[str] | None = None, *, node_id: str | None = None,
                seed: int | None = None, base_dir: Path | None = None, memory: SpeedMemory | None = None,
                on_result: Callable[[Measurement], None] | None = None, listener=None,
                is_cancelled: Callable[[], bool] = lambda: False) -> GraphBench:
    """Render the graph's Generate node at its seed in full and with each setting (default: every candidate),
    through the engine (so images, guide clips, camera moves and prompt schedules take part as in a render),
    compare the clips, and remember the results for the node's model (``memory``: None uses the user's).

    Times are the Generate node's own compute time (sampling and decoding, the prompt encode already done):
    what a person waits for. Nothing is written beside the graph: only what feeds the node runs."""
    from studio.engine import Engine

    nodes = speed_nodes(graph, registry)
    if node_id is None:
        if len(nodes) != 1:
            raise ModelError("the graph has " + (f"{len(nodes)} generate nodes ({', '.join(nodes)})" if nodes
                             else "no node with a speed setting"), hint="name one with --node")
        node_id = nodes[0]
    elif node_id not in nodes:
        raise ModelError(f"node '{node_id}' has no speed setting", hint=f"choose one of {', '.join(nodes)}")
    texts = [str(s) for s in speed.candidates()] if settings is None else list(settings)
    concrete = [str(s) for s in (speed.parse(t) for t in texts) if s is not None]
    if not concrete:
        raise ModelError("no speed setting to measure", hint=f"give one or more of {speed.choices_text()}")
    graph = graph.copy()
    if seed is not None:
        graph.set_param(node_id, "seed", int(seed))
    engine = Engine(registry)

    def render(setting: str) -> tuple[np.ndarray, float]:
        if is_cancelled():
            raise Cancelled()
        graph.set_param(node_id, "speed", setting)
        result = engine.run(graph, [node_id], listener=listener, base_dir=base_dir)
        if result.status == "cancelled":
            raise Cancelled()
        if not result.ok:
            message = result.failed.get(node_id) or "; ".join(f"{k}: {v}" for k, v in result.failed.items())
            raise ModelError(message, node_id=node_id)
        return result.outputs[node_id]["video"].frames, result.timings[node_id]

    warm = next(w for w in _WARM_UP if w not in concrete)
    render(warm)
    model = _model_of(engine, graph, registry, node_id, base_dir)
    full, full_time = render(speed.OFF)
    results = _against_full(concrete, render, full, full_time, on_result,
                            refused=lambda exc: "speed setting" in exc.message)
    params = registry.get(graph.nodes[node_id].type).default_params() | graph.nodes[node_id].params
    context = {"seed": int(params["seed"]), "steps": int(params.get("steps", 0)),
               "clip": f"{full.shape[2]}x{full.shape[1]}x{full.shape[0]}"}
    (memory or SpeedMemory()).record(model, results, context)
    return GraphBench(model, node_id, int(params["seed"]), results, context)


def _model_of(engine, graph, registry, node_id: str, base_dir: Path | None) -> LoadedModel:
    """The loaded model feeding the node (already in the engine's cache: this run costs nothing)."""
    link = next((lk for lk in graph.links if lk.dst == node_id and lk.dst_port == "model"), None)
    if link is None:
        raise ModelError(f"node '{node_id}' has no model connected", node_id=node_id)
    result = engine.run(graph, [link.src], base_dir=base_dir)
    model = result.outputs.get(link.src, {}).get(link.src_port) if result.ok else None
    if not isinstance(model, LoadedModel):
        raise ModelError(f"node '{node_id}' gets no loaded model from '{link.src}'", node_id=node_id)
    return model
