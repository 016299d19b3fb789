"""Builders of tiny random-weight diffusers video pipelines, for tests, examples and the placeholder model."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from studio.runtime import families
from studio.runtime.families.tiny_text import build_tokenizer

__all__ = ["build_tiny_pipeline", "build_tiny_pipeline_once", "build_tokenizer", "tiny_families"]

_TINY_DEFAULTS = {"num_frames": 9, "height": 32, "width": 32, "fps": 8, "steps": 4, "guidance": 3.0}


def tiny_families() -> tuple[str, ...]:
    """The registered families that can build tiny components."""
    return tuple(name for name, spec in families.FAMILIES.items() if spec.tiny_components is not None)


def build_tiny_pipeline(family: str, folder: Path, task: str = "t2v", seed: int = 0) -> Path:
    """Build a tiny random-weight pipeline of ``family`` for ``task`` and save it (safetensors) into ``folder``.

    ``task`` is one of the family's ``tiny_tasks``: "t2v" (text-to-video, also video-to-video), "i2v" (a
    dedicated image-to-video model) or, for Wan, "ti2v" (one model doing both, Wan 2.2 5B style). Returns the
    folder.
    """
    spec = families.FAMILIES.get(family)
    if spec is None or spec.tiny_components is None:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(tiny_families())}")
    if task not in spec.tiny_tasks:
        raise ValueError(f"unknown task {task!r} for {family}; choose {', '.join(spec.tiny_tasks)}")
    folder = Path(folder)
    # Weights depend only on the seed; keep the caller's global RNG state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        pipeline_class, components, config = spec.tiny_components(task)
        pipe = pipeline_class(**components, **config)
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    # Recommended settings for Studio, read by load_model: the tiny model's natural size, not the family's.
    (folder / "studio.json").write_text(json.dumps({"defaults": _TINY_DEFAULTS, "tiny": True}, indent=2))
    return folder


def build_tiny_pipeline_once(family: str, folder: Path, task: str = "t2v", seed: int = 0) -> Path:
    """Build into ``folder`` unless a finished build is already there; safe against a half-written folder."""
    folder = Path(folder)
    if (folder / "model_index.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build_tiny_pipeline(family, staging, task=task, seed=seed)
        try:
            os.replace(staging, folder)
        except OSError:
            # Another process finished first (the folder now exists and is not empty): keep theirs.
            if not (folder / "model_index.json").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.runtime.tiny", description=__doc__)
    parser.add_argument("family", choices=tiny_families())
    parser.add_argument("folder", type=Path)
    tasks = sorted({task for name in tiny_families() for task in families.FAMILIES[name].tiny_tasks})
    parser.add_argument("--task", default="t2v", choices=tasks)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = build_tiny_pipeline(args.family, args.folder, task=args.task, seed=args.seed)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
