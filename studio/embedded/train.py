"""Trains the embedded model in resumable stages: VAE on frames, VAE on clips, latent cache, transformer."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import torch

from studio.embedded import components as C
from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint, save_checkpoint

STAGES = ("vae1", "vae2", "vae3", "latents", "dit", "export")


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


def warmup_lr(optimizer: torch.optim.Optimizer, step: int, peak: float, warmup: int) -> None:
    for group in optimizer.param_groups:
        group["lr"] = peak * min(1.0, (step + 1) / warmup)


def load_vae(out: Path, sizes: C.ModelSizes, device: torch.device, name: str = "vae.json"):  # type: ignore[no-untyped-def]
    vae = C.build_vae(sizes).to(device)
    state = load_checkpoint(out / name, device)
    vae.load_state_dict(state["model"])
    return vae, state


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
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
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
        from studio.embedded.evaluate import vae_reconstruction_report

        vae.eval()
        report = vae_reconstruction_report(vae, count=args.check_clips)
        log(out, f"{stage} reconstruction check: {json.dumps(report)}")


def keep_stage_result(out: Path, stage: str) -> None:
    shutil.copyfile(out / "vae.safetensors", out / f"{stage}-final.safetensors")
    record = json.loads((out / "vae.json").read_text())
    record["tensors"] = f"{stage}-final.safetensors"
    (out / f"{stage}-final.json").write_text(json.dumps(record))


def cosine_factor(progress: float, floor: float = 0.1) -> float:
    """Cosine decay from 1 to ``floor`` as ``progress`` goes from 0 to 1 (held at ``floor`` after)."""
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def _cosine(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * cosine_factor((step - warmup) / max(1, total - warmup))


def finetune_vae_frames(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    """Stage vae3: whole-frame fine-tune of the per-frame VAE (sharper first frames for image-to-video).

    Single frames only touch the last temporal tap of each causal conv, so the VAE stays exactly per-frame
    (the latent cache's shortcut still holds). The result is kept only if held-out reconstructions improve
    (lower mean abs error, colour and motion no worse); else the stage-2 weights stay."""
    from studio.embedded.evaluate import vae_reconstruction_report

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
            group["lr"] = _cosine(step, total, args.vae3_lr, 50)
        loss, parts = V.vae_loss(vae, x, cover)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="")
    parser.add_argument("--vae-lr", type=float, default=1e-3)
    parser.add_argument("--vae1-steps", type=int, default=1450, help="single-frame steps in all")
    parser.add_argument("--vae1-full-steps", type=int, default=400, help="of which the last on whole frames")
    parser.add_argument("--vae1-full-batch", type=int, default=8)
    parser.add_argument("--vae1-batch", type=int, default=32)
    parser.add_argument("--vae1-crop", type=int, default=32, help="0 trains on whole frames")
    parser.add_argument(
        "--vae2-steps",
        type=int,
        default=0,
        help="clip steps after the temporal init (0: the init alone, as shipped)",
    )
    parser.add_argument("--vae2-batch", type=int, default=4)
    parser.add_argument("--vae2-frames", type=int, default=9, help="clip length (with a crop; else 9 and 17)")
    parser.add_argument("--vae2-crop", type=int, default=32, help="0 trains on whole frames")
    parser.add_argument("--vae3-steps", type=int, default=0, help="whole-frame fine-tune steps (0: none)")
    parser.add_argument("--vae3-batch", type=int, default=64)
    parser.add_argument("--vae3-lr", type=float, default=2e-4)
    parser.add_argument("--vae3-minutes", type=float, default=60.0)
    parser.add_argument(
        "--workers", type=int, default=0, help="processes drawing world clips (0: in-process)"
    )
    parser.add_argument("--latent-clips", type=int, default=3000)
    parser.add_argument("--latent-minutes", type=float, default=10.0, help="time budget for encoding clips")
    parser.add_argument("--dit-steps", type=int, default=4000)
    parser.add_argument("--dit-batch", type=int, default=32)
    parser.add_argument("--dit-lr", type=float, default=5e-4)
    parser.add_argument(
        "--dit-minutes", type=float, default=0.0, help="stop the transformer after this (0: no limit)"
    )
    parser.add_argument("--dit-schedule", choices=("constant", "cosine"), default="constant")
    parser.add_argument(
        "--sizes",
        default="",
        help="JSON of ModelSizes fields for a new run (e.g. '{\"dit_layers\": 8}'); a run keeps its sizes.json",
    )
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--check-vae", action="store_true", help="reconstruction check after stage 1 too")
    parser.add_argument("--check-clips", type=int, default=32)
    parser.add_argument("--export", type=Path, default=None, help="also write the pipeline folder here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out: Path = args.out
    if out.exists() and any(out.iterdir()) and not args.resume:
        raise SystemExit(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    sizes_file = out / "sizes.json"
    if sizes_file.exists():
        sizes = C.ModelSizes(**json.loads(sizes_file.read_text()))
    else:
        sizes = C.ModelSizes(**(json.loads(args.sizes) if args.sizes else {}))
        sizes_file.write_text(json.dumps(sizes.to_dict(), indent=2) + "\n")
    V.enable_fast_single_frames()
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    for stage in STAGES:
        if stage not in wanted:
            continue
        started = time.time()
        if stage in ("vae1", "vae2"):
            train_vae_stage(args, out, sizes, stage)
        elif stage == "vae3":
            finetune_vae_frames(args, out, sizes)
        else:
            from studio.embedded import dit_training as D

            D.run_stage(stage, args, out, sizes)
        log(out, f"{stage} finished in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
