"""Lighter transformers: weight-only int8/fp8 quantization through torchao, and GGUF transformer files (the
community's low-VRAM Wan and LTX checkpoints) through diffusers' GGUF loader. Also what the weights weigh,
counted through quantized tensors' inner storage (their outer dtype says float32 whatever they hold)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

from studio.errors import ModelError

QUANTIZE_CHOICES = ("none", "int8", "fp8")


def check_quantize(quantize: str, device: str) -> None:
    """Refuse what cannot work here, before anything loads (what no install can mend first)."""
    if quantize not in QUANTIZE_CHOICES:
        raise ModelError(f"unknown quantize '{quantize}'", port="quantize", hint="use none, int8 or fp8")
    if quantize == "none":
        return
    if quantize == "fp8" and not device.startswith("cuda"):
        raise ModelError(f"fp8 weights compute on a CUDA GPU only (this model is on {device})", port="quantize",
                         hint="use quantize 'int8' or 'none' here")
    if importlib.util.find_spec("torchao") is None:
        raise ModelError(f"quantize '{quantize}' needs the 'torchao' package, which is not installed",
                         port="quantize", hint='pip install -e ".[quantize]" (or pip install torchao)')


def torchao_config(quantize: str):
    """diffusers' TorchAoConfig for weight-only ``quantize`` (int8 or fp8); activations stay as they are."""
    from diffusers import TorchAoConfig
    from torchao.quantization import Float8WeightOnlyConfig, Int8WeightOnlyConfig

    return TorchAoConfig(Int8WeightOnlyConfig() if quantize == "int8" else Float8WeightOnlyConfig())


def check_gguf_file(text: str, base_dir: Path | None) -> Path:
    """The GGUF transformer file a Load Model names: a .gguf file that is there; anything else is refused."""
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.suffix.lower() != ".gguf":
        raise ModelError("a transformer file is read from a .gguf file only (a safetensors transformer goes in "
                         "the model folder's transformer/; pickled files can run code)", port="transformer_file",
                         path=path, hint="pick the .gguf file, or empty 'transformer_file'")
    if not path.is_file():
        raise ModelError("there is no transformer file here", port="transformer_file", path=path,
                         hint="check Load Model's 'transformer_file'")
    if importlib.util.find_spec("gguf") is None:
        raise ModelError("reading a GGUF file needs the 'gguf' package, which is not installed",
                         port="transformer_file", path=path, hint="pip install gguf")
    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ModelError("this file is not a GGUF file (its first bytes are not 'GGUF')",
                             port="transformer_file", path=path)
    return path


def load_gguf_transformer(cls: type, path: Path, folder: Path, subfolder: str, dtype: torch.dtype):
    """The transformer from a GGUF file, its config from the model folder (nothing fetched, no code run:
    diffusers reads GGUF tensors as numpy arrays and computes in ``dtype``)."""
    if not hasattr(cls, "from_single_file"):
        raise ModelError(f"{cls.__name__} cannot be read from a single file by the installed diffusers",
                         port="transformer_file", path=path, hint="empty 'transformer_file'")
    from diffusers import GGUFQuantizationConfig

    try:
        return cls.from_single_file(str(path), quantization_config=GGUFQuantizationConfig(compute_dtype=dtype),
                                    config=str(folder), subfolder=subfolder, torch_dtype=dtype,
                                    local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - a file for another model shows as any of many errors
        raise ModelError(f"this GGUF file does not fit the model's {cls.__name__}: {exc}",
                         port="transformer_file", path=path,
                         hint="use a GGUF transformer of this same model (its size and version)") from exc


def tensor_bytes(tensor: Any) -> int:
    """Bytes a tensor holds: a quantized tensor subclass (torchao, GGUF) by its inner tensors."""
    flatten = getattr(tensor, "__tensor_flatten__", None)
    if flatten is not None and type(tensor) not in (torch.Tensor, torch.nn.Parameter):
        names, _ = flatten()
        return sum(tensor_bytes(getattr(tensor, name)) for name in names)
    # a plain tensor, or diffusers' GGUFParameter, whose own storage is the packed blocks (uint8)
    return int(tensor.numel() * tensor.element_size())


def module_bytes(module: torch.nn.Module) -> int:
    return sum(tensor_bytes(t) for t in module.parameters()) + sum(tensor_bytes(t) for t in module.buffers())


def file_id(path: Path) -> str:
    """A cheap identity of a weights file (name, size, first and last MiB), as the folder's weights id is."""
    import hashlib

    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(path.name.encode() + size.to_bytes(8, "little"))
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        if size > 1 << 20:
            handle.seek(max(1 << 20, size - (1 << 20)))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]


def size_text(nbytes: float) -> str:
    """Bytes as a person reads them in the log (kB for the tiny test models, GB for real ones)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{int(nbytes)} B"
