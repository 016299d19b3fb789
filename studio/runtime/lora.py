"""LoRA adapters on a loaded pipeline: one diffusers-format .safetensors file, at a strength.

The file is read here with safetensors (never a pickle, never a download) and the tensors are handed to the
pipeline's own ``load_lora_weights``; the strength is an adapter weight (``set_adapters``), not fused into the
base weights, so strength 0 renders exactly the base model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from studio.errors import ModelError

ADAPTER_NAME = "studio_lora"


def resolve_lora_path(text: str, base_dir: Path | None) -> Path:
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.suffix.lower() != ".safetensors":
        raise ModelError("a LoRA is loaded from a .safetensors file only (pickled .bin/.pt/.ckpt files can run "
                         "code)", path=path, hint="convert the LoRA to safetensors, or pick its .safetensors file")
    if not path.is_file():
        raise ModelError("there is no LoRA file here", path=path, hint="check the Load Model node's 'lora' path")
    return path


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def apply_lora(pipe, path: Path, scale: float, label: str) -> str:
    """Load the LoRA at ``path`` into ``pipe`` at ``scale``; returns its record: 'name sha256:... @scale'."""
    if not hasattr(pipe, "load_lora_weights"):
        raise ModelError(f"{label} pipelines take no LoRA in Studio", path=path, hint="clear the 'lora' path")
    try:
        import peft  # noqa: F401 - diffusers' LoRA loading needs it; say so plainly rather than deep inside
    except ImportError as exc:
        raise ModelError("loading a LoRA needs the 'peft' package, which is not installed",
                         path=path, hint="pip install peft") from exc
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
        raise ModelError(f"this LoRA file cannot be read: {exc}", path=path) from exc
    try:
        pipe.load_lora_weights(state, adapter_name=ADAPTER_NAME)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise ModelError(f"this LoRA does not fit the {label} model: {exc}", path=path,
                         hint="use a LoRA made for this model family, in diffusers' format") from exc
    loaded = [name for names in pipe.get_list_adapters().values() for name in names]
    if ADAPTER_NAME not in loaded:
        # diffusers only warns when no key of the file names a layer of this model
        raise ModelError(f"no layer of this LoRA matches the {label} model", path=path,
                         hint="use a LoRA made for this model family, in diffusers' format")
    pipe.set_adapters([ADAPTER_NAME], [float(scale)])
    return f"{path.name} {file_digest(path)} @{float(scale):g}"
