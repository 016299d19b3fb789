"""Training checkpoints as safetensors plus JSON: no pickle, so a run folder is data, never code.

A checkpoint is any nest of dicts and lists whose leaves are tensors or JSON values (model and optimizer
state dicts, step counters, sizes). Tensors go to ``NAME.safetensors`` under their path in the nest; the rest,
with a marker where each tensor was, goes to ``NAME.json``. Both are written atomically, the JSON last, so a
run killed mid-save keeps the previous checkpoint whole: the JSON names the tensor file it belongs to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

_TENSOR = "__tensor__"


def _split(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = prefix or "."
        tensors[key] = obj.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        return {_TENSOR: key}
    if isinstance(obj, dict):
        # JSON keys are strings; optimizer state uses int keys, so record which were ints.
        out = {}
        for key, value in obj.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out[str(key) if isinstance(key, str) else f"#int:{key}"] = _split(value, name, tensors)
        return out
    if isinstance(obj, (list, tuple)):
        return [_split(value, f"{prefix}.{i}", tensors) for i, value in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint value at {prefix!r} is a {type(obj).__name__}, not a tensor or JSON value")


def _join(obj: Any, tensors: dict[str, torch.Tensor], device: torch.device | str) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR}:
            return tensors[obj[_TENSOR]].to(device)
        return {
            (int(key[5:]) if key.startswith("#int:") else key): _join(value, tensors, device)
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [_join(value, tensors, device) for value in obj]
    return obj


def save_checkpoint(obj: dict, path: Path) -> None:
    """Write ``path`` (a .json) and its tensor file beside it, atomically."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(obj, "", tensors)
    tensor_file = path.with_suffix(".safetensors")
    tmp = tensor_file.with_suffix(".safetensors.tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, tensor_file)
    text = json.dumps({"tensors": tensor_file.name, "data": skeleton})
    tmp_json = path.with_suffix(".json.tmp")
    tmp_json.write_text(text)
    os.replace(tmp_json, path)


def load_checkpoint(path: Path, device: torch.device | str = "cpu", keys: tuple[str, ...] | None = None) -> dict:
    """The checkpoint at ``path``; with ``keys``, only those top-level entries (and only their tensors are
    read, which matters for a latent cache of tens of thousands of clips)."""
    path = Path(path)
    record = json.loads(path.read_text())
    data = record["data"]
    tensor_file = str(path.parent / record["tensors"])
    if keys is None:
        return _join(data, load_file(tensor_file), device)
    data = {key: data[key] for key in keys}
    wanted: dict[str, torch.Tensor] = {}
    with safe_open(tensor_file, framework="pt") as handle:
        for name in handle.keys():
            if name.split(".", 1)[0] in keys:
                wanted[name] = handle.get_tensor(name)
    return _join(data, wanted, device)


def exists(path: Path) -> bool:
    path = Path(path)
    return path.exists() and path.with_suffix(".safetensors").exists()


def load_latent_parts(folder: Path) -> tuple[torch.Tensor, list[str]]:
    """The latent cache's parts in ``folder`` (each {"latents", "captions"}, written as encoding went), joined in
    order: (latents, captions)."""
    chunks = [load_checkpoint(p) for p in sorted(Path(folder).glob("*.json"))]
    return torch.cat([c["latents"] for c in chunks]), [t for c in chunks for t in c["captions"]]
