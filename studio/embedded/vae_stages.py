"""The VAE's training stages: per-frame (vae1), temporal (vae2) and the whole-frame fine-tune (vae3)."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from studio.embedded import components as C
from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint
from studio.embedded.evaluate import vae_reconstruction_report
from studio.embedded.runs import (
    atomic_save,
    clipped_step,
    cosine_lr,
    device_for,
    keep_stage_result,
    load_vae,
    log,
    warmup_lr,
)


def train_vae_stage(args: argparse.Namespace, out: Path, sizes: C.ModelSizes, stage: str) -> None:
    device = device_for(args)
    ckpt = out / "vae.json"
    vae = C.build_vae(sizes).to(device)
    peak = args.vae_lr if stage == "vae1" else args.vae_lr / 2
    optimizer = torch.optim.AdamW(vae.parameters(), lr=peak, weight_decay=0.0)
    step = 0
    if exists(ckpt):
        state = load_checkpoint(ckpt, device)
        vae.load_state_dict(state["model"])
        if state["stage"] == stage:
            optimizer.load_state_dict(state["optimizer"])
            step = state["step"]
        elif stage == "vae2":
            V.init_temporal_layers(vae)
            log(out, "vae2: temporal layers set to repeat the per-frame VAE")
            atomic_save(
                {
                    "model": vae.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": 0,
                    "stage": stage,
                    "sizes": sizes.to_dict(),
                },
                ckpt,
            )
    total = args.vae1_steps if stage == "vae1" else args.vae2_steps
    if step >= total:
        return
    log(out, f"{stage}: from step {step} to {total}, vae {C.parameter_count(vae)} parameters")
    vae.train()
    started, seen, running = time.time(), 0, 0.0
    while step < total:
        if stage == "vae1" and step < total - args.vae1_full_steps:
            x, cover = V.frame_batch(step, args.vae1_batch, args.seed, args.vae1_crop)
        elif stage == "vae1":
            # Whole frames at the end: crops centred on the object leave far background (dark colours,
            # gradient ends) badly drawn, which whole frames fix in a few hundred steps.
            x, cover = V.frame_batch(step, args.vae1_full_batch, args.seed, 0)
        else:
            frames = args.vae2_frames if args.vae2_crop or step % 2 else 9
            x, cover = V.clip_batch(step, args.vae2_batch, frames, args.seed, args.vae2_crop)
        x, cover = x.to(device), cover.to(device)
        warmup_lr(optimizer, step, peak, 100)
        loss, parts = V.vae_loss(vae, x, cover)
        clipped_step(optimizer, loss, vae.parameters())
        step += 1
        seen += 1
        running += parts["mse"]
        if step % 25 == 0 or step == total:
            rate = (time.time() - started) / seen
            log(out, f"{stage} step {step} mse {running / 25:.4f} kl {parts['kl']:.2f} {rate:.2f} s/step")
            running = 0.0
        if step % args.save_every == 0 or step == total:
            atomic_save(
                {
                    "model": vae.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": step,
                    "stage": stage,
                    "sizes": sizes.to_dict(),
                },
                ckpt,
            )
    # Keep each stage's result: a later stage that goes wrong must not cost the earlier one.
    keep_stage_result(out, stage)
    if stage == "vae2" or args.check_vae:
        vae.eval()
        report = vae_reconstruction_report(vae, count=args.check_clips)
        log(out, f"{stage} reconstruction check: {json.dumps(report)}")


def finetune_vae_frames(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    """Stage vae3: whole-frame fine-tune of the per-frame VAE (sharper first frames for image-to-video).

    Single frames only touch the last temporal tap of each causal conv, so the VAE stays exactly per-frame
    (the latent cache's shortcut still holds). The result is kept only if held-out reconstructions improve
    (lower mean abs error, colour and motion no worse); else the stage-2 weights stay."""
    device = device_for(args)
    if exists(out / "vae3-final.json") or args.vae3_steps <= 0:
        return
    vae, state = load_vae(out, sizes, device)
    before = vae_reconstruction_report(vae.eval().cpu(), count=args.check_clips)
    vae.to(device).train()
    log(out, f"vae3: before {json.dumps(before)}")
    optimizer = torch.optim.AdamW(vae.parameters(), lr=args.vae3_lr, weight_decay=0.0)
    started, step, running = time.time(), 0, 0.0
    budget = args.vae3_minutes * 60.0
    batches = V.frame_batches(args.vae3_batch, args.seed, workers=args.workers, first_step=200_000)
    total = args.vae3_steps
    for step in range(total):
        if time.time() - started > budget:
            log(out, f"vae3: time budget spent at step {step}")
            break
        x, cover = next(batches)
        x, cover = x.to(device, non_blocking=True), cover.to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, total, args.vae3_lr, 50)
        loss, parts = V.vae_loss(vae, x, cover)
        clipped_step(optimizer, loss, vae.parameters())
        running += parts["mse"]
        if (step + 1) % 50 == 0:
            log(
                out,
                f"vae3 step {step + 1} mse {running / 50:.4f} {(time.time() - started) / (step + 1):.3f} s/step",
            )
            running = 0.0
    vae.eval().cpu()
    after = vae_reconstruction_report(vae, count=args.check_clips)
    log(out, f"vae3: after {json.dumps(after)}")
    better = (
        after["mean_abs_error"] < before["mean_abs_error"]
        and after["colour_adherence"] >= before["colour_adherence"]
        and after["motion_adherence"] >= before["motion_adherence"]
        and V.is_per_frame(vae)
    )
    if better:
        shutil.copyfile(out / "vae.safetensors", out / "vae2-kept.safetensors")
        atomic_save({**state, "model": vae.state_dict(), "stage": "vae3", "step": step + 1}, out / "vae.json")
        log(out, "vae3: kept (reconstructions improved)")
    else:
        log(out, "vae3: dropped (reconstructions did not improve); the stage-2 VAE stays")
    keep_stage_result(out, "vae3")
