"""A training run's folder and what every stage shares: its log, device, VAE checkpoint, learning rates."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import time
from pathlib import Path

import torch

from studio.embedded import components as C
from studio.embedded.checkpoint import load_checkpoint, save_checkpoint


def log(out: Path, message: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {message}"
    print(line, flush=True)
    with open(out / "train.log", "a") as handle:
        handle.write(line + "\n")


def atomic_save(obj: dict, path: Path) -> None:
    # A run killed mid-write must leave the previous checkpoint intact (save_checkpoint writes atomically).
    save_checkpoint(obj, path)


def device_for(args: argparse.Namespace) -> torch.device:
    if args.device:
        return torch.device(args.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device):  # type: ignore[no-untyped-def]
    """bfloat16 on CUDA (no loss scaling needed); full precision on a CPU, where bfloat16 convs are slower."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


def clipped_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params) -> None:  # noqa: ANN001
    """One optimiser step on ``loss``, the gradients of ``params`` clipped to norm 1, as every stage trains."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()


def warmup_lr(optimizer: torch.optim.Optimizer, step: int, peak: float, warmup: int) -> None:
    for group in optimizer.param_groups:
        group["lr"] = peak * min(1.0, (step + 1) / warmup)


def load_vae(out: Path, sizes: C.ModelSizes, device: torch.device, name: str = "vae.json"):  # type: ignore[no-untyped-def]
    vae = C.build_vae(sizes).to(device)
    state = load_checkpoint(out / name, device)
    vae.load_state_dict(state["model"])
    return vae, state


def keep_stage_result(out: Path, stage: str) -> None:
    shutil.copyfile(out / "vae.safetensors", out / f"{stage}-final.safetensors")
    record = json.loads((out / "vae.json").read_text())
    record["tensors"] = f"{stage}-final.safetensors"
    (out / f"{stage}-final.json").write_text(json.dumps(record))


def cosine_factor(progress: float, floor: float = 0.1) -> float:
    """Cosine decay from 1 to ``floor`` as ``progress`` goes from 0 to 1 (held at ``floor`` after)."""
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * cosine_factor((step - warmup) / max(1, total - warmup))


def open_run(out: Path, resume: bool) -> Path:
    """The run folder, created; a folder that already holds a run only with ``resume`` (never mixed into)."""
    if out.exists() and any(out.iterdir()) and not resume:
        raise SystemExit(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out
