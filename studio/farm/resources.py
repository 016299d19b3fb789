"""What a farm job needs of a worker (GPU memory), reckoned before it is submitted, and refusing a job that no
worker of the farm can hold, with the figures.

The estimate is deliberately simple, an upper bound rather than a measurement:

    need = weights as loaded + clip pixels x BYTES_PER_PIXEL_FRAME + FIXED_BYTES

* weights as loaded: every tensor of the model folder's safetensors files, counted from their headers (no
  weights are read) at the precision they load in: a GPU loads floating-point weights at 2 bytes (bfloat16 or
  float16, ``dtype: auto``) or at the Load Model node's dtype; a VAE that its family keeps in float32 (Wan's)
  at 4; integer (quantized) tensors as stored. With ``offload: model`` only the largest component is on the
  GPU at once; with ``sequential`` only the largest tensor.
* clip pixels (frames x width x height, at the Generate node's size or the model's recommended one) times 64
  bytes: the transformer's activations (a token covers 4 frames x 16 x 16 pixels; its hidden state and the
  attention and feed-forward buffers of one block hold about 48 kB in half precision for the 1.3B-14B
  video transformers, so ~48 bytes per pixel) plus the decoded clip in float32 (12 bytes per pixel).
* FIXED_BYTES: the CUDA context, cuBLAS/cuDNN workspaces and the allocator's slack (1.5 GiB).

A job whose models all run on the CPU (``device: cpu``) needs no GPU; on a farm of CPU workers every job takes
one CPU and no check applies.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from studio.engine.jobs import Job
from studio.errors import StudioError
from studio.graph import Graph, NodeRegistry

GIB = 1 << 30
FIXED_BYTES = 3 * GIB // 2
BYTES_PER_PIXEL_FRAME = 64
HALF = 2
_MAX_HEADER = 100 << 20  # a safetensors header is kilobytes to a few MB; a bigger one is not a real file
_STORED = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
           "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
_FLOATS = {"F64", "F32", "F16", "BF16"}
_LOADED = {"float32": 4, "float16": 2, "bfloat16": 2, "auto": HALF}


def vram_estimate(weights: int, width: int, height: int, frames: int) -> int:
    """Bytes of GPU memory a render of ``frames`` x ``width`` x ``height`` needs with ``weights`` bytes of model
    on the GPU (see the module's docstring for where each term comes from)."""
    return int(weights) + int(frames) * int(width) * int(height) * BYTES_PER_PIXEL_FRAME + FIXED_BYTES


def _tensors(path: Path) -> Iterator[tuple[str, int]]:
    """(dtype, element count) of each tensor of a safetensors file, from its header alone."""
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        if not 0 < size <= _MAX_HEADER:
            raise StudioError(f"'{path}' is not a safetensors file (its header says {size} bytes)")
        try:
            header = json.loads(fh.read(size))
        except ValueError as exc:
            raise StudioError(f"'{path}' is not a safetensors file: {exc}") from None
    for name, info in header.items():
        if name != "__metadata__" and isinstance(info, dict):
            yield str(info.get("dtype", "")), math.prod(int(d) for d in info.get("shape", ()))


def component_bytes(folder: Path, dtype: str = "auto", keep_float32: Sequence[str] = ()) -> dict[str, int]:
    """Bytes each component of a model folder takes on a GPU at ``dtype`` (components in ``keep_float32``
    stay float32); files at the top of the folder count as one component named ''. Also returns, under
    '*largest tensor*', the largest single tensor (what sequential offload holds at once)."""
    found: dict[str, int] = {}
    largest = 0
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(folder).parts[0] if len(path.relative_to(folder).parts) > 1 else ""
        if path.suffix == ".gguf":
            found[name] = found.get(name, 0) + path.stat().st_size  # quantized: loaded as stored
            continue
        if path.suffix != ".safetensors":
            continue
        each = 4 if name in keep_float32 else _LOADED.get(dtype, HALF)
        for kind, count in _tensors(path):
            size = count * (each if kind in _FLOATS else _STORED.get(kind, 4))
            found[name] = found.get(name, 0) + size
            largest = max(largest, size)
    found["*largest tensor*"] = largest
    return found


@functools.lru_cache(maxsize=32)
def _component_bytes(folder: Path, dtype: str, keep_float32: tuple[str, ...]) -> dict[str, int]:
    """component_bytes once per model of a batch (its jobs mostly share one)."""
    return component_bytes(folder, dtype, keep_float32)


def weights_on_gpu(parts: dict[str, int], offload: str = "none") -> int:
    """What of the weights sits on the GPU at once: all, the largest component (``model`` offload), the
    largest tensor (``sequential``), or for ``group`` offload about two groups (the one computing and the one
    streamed in beside it), reckoned as twice the largest tensor: a lower bound, as a group is a block.
    ``auto`` lets the worker pick what fits its free memory, so it needs no more than ``sequential``."""
    components = {k: v for k, v in parts.items() if k != "*largest tensor*"}
    if offload in ("sequential", "auto"):
        return parts.get("*largest tensor*", 0)
    if offload == "group":
        return 2 * parts.get("*largest tensor*", 0)
    if offload == "model":
        return max(components.values(), default=0)
    return sum(components.values())


@dataclass(frozen=True)
class Need:
    """What one job needs of a worker: ``vram`` bytes of GPU memory (0: no GPU), and how that was reckoned."""

    vram: int = 0
    what: str = "no model on a GPU"


def job_need(job: Job, registry: NodeRegistry) -> Need:
    """The GPU memory ``job`` needs (see the module docstring). A model that cannot be found here is a
    StudioError naming its node: the workers look in the same places."""
    graph, _ = job.build(registry)
    base = Path(job.base_dir) if job.base_dir else None
    weights, size, said = 0, None, []
    for nid in sorted(_nodes(graph, registry, "model_loader")):
        params = graph.nodes[nid].params
        if str(params.get("device", "auto")) in ("cpu", "mps"):
            continue
        folder, defaults, keep32 = _model(nid, str(params.get("source", "embedded")), base)
        dtype = str(params.get("dtype", "auto"))
        on_gpu = weights_on_gpu(_component_bytes(folder, dtype, keep32), str(params.get("offload", "none")))
        weights += on_gpu
        said.append(f"model '{params.get('source', 'embedded')}' {_gb(on_gpu)}")
        size = size or _clip_size(graph, registry, defaults)
    if not said or size is None:
        return Need()
    frames, width, height = size
    need = vram_estimate(weights, width, height, frames)
    return Need(need, f"{' + '.join(said)} + {frames}x{width}x{height} frames")


def check_fits(jobs: Sequence[Job], needs: Sequence[Need], largest: int, largest_name: str) -> None:
    """Refuse the batch when a job needs more GPU memory than the largest worker has, naming each such job
    with both figures. ``largest`` 0: the farm has no GPU, nothing to check."""
    if not largest:
        return
    too_big = [(job, need) for job, need in zip(jobs, needs, strict=True) if need.vram > largest]
    if not too_big:
        return
    lines = [f"job {job.index} ({job.describe()}) needs about {_gb(need.vram)} of GPU memory ({need.what})"
             for job, need in too_big]
    raise StudioError(f"{len(too_big)} job(s) need more GPU memory than the largest worker has "
                      f"({_gb(largest)}, {largest_name}):\n  " + "\n  ".join(lines),
                      hint="render smaller (width, height, frames), set the Load Model node's offload to 'model', "
                      "or add a worker with a bigger GPU")


def _nodes(graph: Graph, registry: NodeRegistry, role: str) -> list[str]:
    types = registry.types_with_role(role)
    return [nid for nid, node in graph.nodes.items() if node.type in types and not node.bypassed]


@functools.lru_cache(maxsize=32)  # a batch's jobs share their models: look each up once (an HF id scans a cache)
def _model(node_id: str, source: str, base: Path | None) -> tuple[Path, dict, tuple[str, ...]]:
    """The model's folder, its recommended settings, and the components it keeps in float32."""
    from studio.runtime import families
    from studio.runtime.loading import _studio_settings, resolve_source
    from studio.runtime.model_files import pipeline_class_name, read_model_index

    try:
        folder = resolve_source(source, base)
        spec = families.family_for_class(pipeline_class_name(read_model_index(folder)))
    except StudioError as exc:
        raise StudioError(exc.message, node_id=node_id, path=exc.path, hint=exc.hint) from None
    defaults = dict(spec.defaults) if spec is not None else {}
    defaults.update(_studio_settings(folder).get("defaults") or {})
    return folder, defaults, ("vae",) if spec is not None and spec.vae_in_float32 else ()


def _clip_size(graph: Graph, registry: NodeRegistry, defaults: dict) -> tuple[int, int, int] | None:
    """(frames, width, height) of the largest clip a generator of the graph renders at once: its own size
    where set, else the model's recommended one (a sequence renders one window of frames at a time)."""
    best = None
    for node in graph.nodes.values():
        spec = registry.get(node.type)
        if spec is None or node.bypassed or spec.param("width") is None or spec.param("height") is None:
            continue

        def value(name: str, node=node) -> int:
            return int(node.params.get(name) or defaults.get(name) or 0)

        size = (value("num_frames"), value("width"), value("height"))
        if all(size) and (best is None or math.prod(size) > math.prod(best)):
            best = size
    return best


def _gb(count: int) -> str:
    return f"{count / GIB:.1f} GiB" if count >= GIB / 10 else f"{count / (1 << 20):.0f} MiB"
