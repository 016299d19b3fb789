"""LoRA adapters on a loaded pipeline: diffusers-format .safetensors files, several at once, each at a strength.

A file is read here with safetensors (never a pickle, never a download) and handed to the pipeline's own
``load_lora_weights`` under a name derived from its hash, once per loaded base model; strengths are adapter
weights (``set_adapters``), never fused into the base weights. So a strength or an enabled box changes in
microseconds without reloading anything, and strength 0 renders exactly the base model.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import ModelError
from studio.fileio import file_sha256

ENABLED = ("yes", "no")  # the table's enabled column (a json table has no bool column)


@dataclass(frozen=True)
class LoraSpec:
    """One row of Load Model's LoRA table: the file as the graph names it, its strength, whether it applies."""

    file: str
    strength: float = 1.0
    enabled: bool = True


@dataclass(frozen=True)
class AppliedLora:
    """A LoRA as applied: where it is, its hash, its adapter name in the pipeline, its strength."""

    path: Path
    digest: str
    adapter: str
    strength: float

    @property
    def record(self) -> str:
        """'file sha256:... @strength': what the clip's Generation and credentials carry."""
        return f"{self.path.name} {self.digest} @{self.strength:g}"


def parse_loras(rows: Any, node_id: str | None = None) -> tuple[LoraSpec, ...]:
    """The table's rows as LoraSpecs (rows without a file are skipped: a fresh row is empty); each problem
    names the row. ``enabled`` takes yes/no (the table) or true/false (a hand-written file)."""
    if rows in (None, ""):
        return ()
    if not isinstance(rows, list):
        raise ModelError("the LoRA table must be a list of rows {file, strength, enabled}", node_id=node_id,
                         port="loras")
    specs = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ModelError(f"LoRA row {number} is not a record", node_id=node_id, port="loras")
        file = row.get("file") or ""
        if not isinstance(file, str):
            raise ModelError(f"LoRA row {number}: 'file' must be text", node_id=node_id, port="loras")
        if not file.strip():
            continue
        strength = row.get("strength", 1.0)
        if isinstance(strength, bool) or not isinstance(strength, int | float) or not math.isfinite(strength):
            raise ModelError(f"LoRA row {number}: 'strength' must be a number, got {strength!r}",
                             node_id=node_id, port="loras")
        enabled = row.get("enabled", "yes")
        if enabled in (True, "yes", "", None):
            on = True
        elif enabled in (False, "no"):
            on = False
        else:
            raise ModelError(f"LoRA row {number}: 'enabled' is yes or no, got {enabled!r}", node_id=node_id,
                             port="loras")
        specs.append(LoraSpec(file.strip(), float(strength), on))
    return tuple(specs)


def resolve_lora_path(text: str, base_dir: Path | None, node_id: str | None = None) -> Path:
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.suffix.lower() != ".safetensors":
        raise ModelError("a LoRA is loaded from a .safetensors file only (pickled .bin/.pt/.ckpt files can run "
                         "code)", node_id=node_id, port="loras", path=path,
                         hint="convert the LoRA to safetensors, or pick its .safetensors file")
    if not path.is_file():
        raise ModelError("there is no LoRA file here", node_id=node_id, port="loras", path=path,
                         hint="check the file in Load Model's LoRA table")
    return path


def file_digest(path: Path) -> str:
    return "sha256:" + file_sha256(path)


def file_stamp(path: Path) -> tuple:
    """What says a file is still the one hashed: a replaced file (same name) has another inode or ctime."""
    st = os.stat(path)
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def adapter_name(digest: str) -> str:
    # by content: the same file listed under two names, or loaded again, is one adapter
    return "lora_" + digest.split(":", 1)[-1][:16]


def load_adapter(pipe, path: Path, digest: str, label: str, node_id: str | None = None) -> str:
    """Load the LoRA file into ``pipe`` as an adapter (inactive until activated); returns its adapter name.
    A file whose layers this family does not have is refused, and leaves nothing behind in the pipeline."""
    where = {"node_id": node_id, "port": "loras", "path": path}
    if not hasattr(pipe, "load_lora_weights"):
        raise ModelError(f"{label} pipelines take no LoRA in Studio", **where, hint="empty the LoRA table")
    try:
        import peft  # noqa: F401 - diffusers' LoRA loading needs it; say so plainly rather than deep inside
    except ImportError as exc:
        raise ModelError("loading a LoRA needs the 'peft' package, which is not installed", **where,
                         hint="pip install peft") from exc
    from safetensors.torch import load_file

    name = adapter_name(digest)
    try:
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
        raise ModelError(f"this LoRA file cannot be read: {exc}", **where) from exc
    hint = f"use a LoRA made for {label} models, in diffusers' format"
    try:
        pipe.load_lora_weights(state, adapter_name=name)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        _forget(pipe, name)
        raise ModelError(f"this LoRA does not fit the {label} model: {exc}", **where, hint=hint) from exc
    if name not in _loaded_names(pipe):
        # diffusers only warns when no key of the file names a layer of this model
        raise ModelError(f"no layer of this LoRA matches the {label} model", **where, hint=hint)
    return name


def activate(pipe, applied: tuple[AppliedLora, ...]) -> None:
    """Make exactly ``applied`` active at their strengths (none: the base model, adapters kept loaded)."""
    if not _loaded_names(pipe):
        return
    if not applied:
        pipe.disable_lora()
        return
    pipe.enable_lora()
    pipe.set_adapters([a.adapter for a in applied], [a.strength for a in applied])


def _loaded_names(pipe) -> set[str]:
    if not hasattr(pipe, "get_list_adapters"):
        return set()
    return {name for names in pipe.get_list_adapters().values() for name in names}


def _forget(pipe, name: str) -> None:
    """Take out what a failed load may have injected, so the next render is the base model's."""
    try:
        if name in _loaded_names(pipe):
            pipe.delete_adapters(name)
    except Exception:  # noqa: BLE001 - cleaning up after a refusal must not hide the refusal
        pass
