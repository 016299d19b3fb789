"""Trains the VAE decoder's temporal layers so each latent frame decodes to 4 distinct, interpolated frames.

python -m studio.embedded.vae_temporal --model FOLDER --out RUN --seed 0 [--resume] [--steps N] [--device cuda]
       [--install]

The shipped VAE is per-frame: latent frame k is frame 4k encoded alone, and the decoder's temporal upsamplers
repeat it, so a 17-frame clip shows 5 pictures. The encoder (and quant_conv) stay frozen, so the latents, and the
transformer trained on them, stay valid. What trains (``--scope``):

* ``temporal`` (default): each decoder ``time_conv`` (the upsamplers that make 2 frames of 1) and the earlier
  time taps of every causal 3D conv in the decoder. The last tap (what a single frame sees) is held by a
  gradient mask, so the first decoded frame, which sees only zero padding before it, stays exactly what it was:
  image-to-video's first frame is unchanged. A 1-frame time_conv at latent frame 1 sees only zeros ("Rep" in
  diffusers), so the earlier taps of the residual convs are what carry latent frame 0 into frames 1-3.
* ``decoder``: the whole decoder and post_quant_conv (more capacity; the first frame may move).

The loss is the VAE stages' object-weighted MSE on every decoded frame against the world's true frames, plus the
same on frame-to-frame differences, so holding a picture costs what the object's motion is worth. Each step's
clips come from (seed, step) alone and the checkpoint holds the optimizer, so a resumed run ends where an
unbroken one does. Stages: ``train`` (RUN/vae_temporal.json checkpoints), ``export`` (RUN/vae/, a diffusers
folder, and RUN/report.json with held frames and PSNR before and after); ``--install`` writes the new weights
into the model folder, refits its colour-map preview and notes the change in its MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from diffusers.models.autoencoders import autoencoder_kl_wan as wan

from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint, save_checkpoint
from studio.embedded.runs import autocast, clipped_step, cosine_lr, device_for, log
from studio.embedded.world import object_at, render, spec_for_seed, train_seed
from studio.errors import ModelError

STAGES = ("train", "export")
CHECKPOINT = "vae_temporal.json"
# Training clips sit apart from the earlier VAE stages' seeds (frames from 0, clips from 500,000).
SEED_OFFSET = 700_000
# Settings a resumed run must share with the run it continues (else it would not reach the same weights).
RUN_KEYS = ("seed", "scope", "batch", "frames", "crop", "lr", "diff_weight", "steps")


# ---- what trains


def _decoder_convs(vae: AutoencoderKLWan) -> list[wan.WanCausalConv3d]:
    return [m for m in vae.decoder.modules() if isinstance(m, wan.WanCausalConv3d)]


def trainable(vae: AutoencoderKLWan, scope: str) -> list[torch.nn.Parameter]:
    """Freeze the VAE but for the decoder's temporal layers (``scope`` as in the module doc); returns the
    parameters to train. In the temporal scope a hook zeroes the gradient of each causal conv's last tap, so
    Adam (no weight decay) never moves it: a zero gradient gives a zero update."""
    for p in vae.parameters():
        p.requires_grad_(False)
    params: list[torch.nn.Parameter] = []
    if scope == "decoder":
        for p in [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]:
            p.requires_grad_(True)
            params.append(p)
        return params
    if scope != "temporal":
        raise ValueError(f"unknown scope {scope!r}")
    time_convs = {
        id(m.time_conv)
        for m in vae.decoder.modules()
        if isinstance(m, wan.WanResample) and hasattr(m, "time_conv")
    }
    for conv in _decoder_convs(vae):
        if id(conv) in time_convs:
            for p in conv.parameters():
                p.requires_grad_(True)
                params.append(p)
        elif conv.kernel_size[0] > 1:
            mask = torch.ones_like(conv.weight)
            mask[:, :, -1] = 0.0
            conv.weight.requires_grad_(True)
            conv.weight.register_hook(lambda grad, mask=mask: grad * mask.to(grad.device))
            params.append(conv.weight)
    return params


def encoder_state(vae: AutoencoderKLWan) -> dict[str, torch.Tensor]:
    return {k: v for k, v in vae.state_dict().items() if k.startswith(("encoder.", "quant_conv."))}


def encoder_is_per_frame(vae: AutoencoderKLWan) -> bool:
    """True when the encoder is the per-frame one the VAE stages make (earlier taps zero, the temporal
    downsamplers keep the later frame): latent frame k is then frame 4k encoded alone."""
    reference = copy.deepcopy(vae).cpu()
    V.init_temporal_layers(reference)
    mine, theirs = encoder_state(vae), encoder_state(reference)
    return all(torch.equal(mine[k].cpu(), theirs[k]) for k in mine)


@torch.no_grad()
def encode_latents(vae: AutoencoderKLWan, x: torch.Tensor, per_frame: bool) -> torch.Tensor:
    """Posterior means of clips [B, 3, T, H, W]; for a per-frame encoder only frames 0, 4, 8, ... are encoded
    (the same numbers, several times cheaper)."""
    if not per_frame:
        return V.encode_mean(vae, x)[0]
    batch, channels, frames = x.shape[:3]
    keep = list(range(0, frames, 4))
    singles = x[:, :, keep].transpose(1, 2).reshape(batch * len(keep), channels, 1, *x.shape[3:])
    means = V.encode_mean(vae, singles)[0]
    return means.reshape(batch, len(keep), *means.shape[1:]).squeeze(3).transpose(1, 2)


# ---- data


def clip_arrays(job: tuple[int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One step's clips as uint8 [B, T, H, W, 3] and coverage [B, T, H, W], from (step, batch, frames, crop,
    seed) alone. Shorter clips start at frame 0, 4 or 8 (on the latent grid), so every stretch of the world's
    motion is seen; a crop follows the object's mean position over those frames, on the 8-pixel latent grid."""
    step, batch, frames, crop, seed = job
    rng = random.Random(seed * 1_000_033 + step)
    videos, covers = [], []
    for i in range(batch):
        spec = spec_for_seed(train_seed(SEED_OFFSET + step * batch + i, seed))
        video, cover = render(spec, frames=17)
        start = rng.choice(range(0, 17 - frames + 1, 4))
        video, cover = video[start : start + frames], cover[start : start + frames]
        if crop:
            size = video.shape[1]
            centres = [object_at(spec, t) for t in range(start, start + frames)]
            cx = sum(c[0] for c in centres) / frames + rng.randint(-4, 4)
            cy = sum(c[1] for c in centres) / frames + rng.randint(-4, 4)
            x0 = min(max(int(cx - crop / 2) // 8 * 8, 0), size - crop)
            y0 = min(max(int(cy - crop / 2) // 8 * 8, 0), size - crop)
            video, cover = video[:, y0 : y0 + crop, x0 : x0 + crop], cover[:, y0 : y0 + crop, x0 : x0 + crop]
        videos.append(video)
        covers.append(cover)
    return np.stack(videos), np.stack(covers)


def clip_batches(args: argparse.Namespace, first_step: int):  # type: ignore[no-untyped-def]
    """Endless (x [B, 3, T, H, W] in [-1, 1], coverage [B, 1, T, H, W]) from ``first_step`` on; drawn by
    ``args.workers`` processes when > 0, in step order, so a fast GPU is not left waiting on the world."""

    def tensors(arrays: tuple[np.ndarray, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        return V.to_tensor(arrays[0]), torch.from_numpy(arrays[1])[:, None]

    jobs = ((s, args.batch, args.frames, args.crop, args.seed) for s in range(first_step, 1 << 40))
    if args.workers <= 0:
        for job in jobs:
            yield tensors(clip_arrays(job))
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for arrays in pool.imap(clip_arrays, jobs, chunksize=1):
            yield tensors(arrays)


# ---- loss and training


def temporal_loss(
    vae: AutoencoderKLWan, x: torch.Tensor, cover: torch.Tensor, z: torch.Tensor, diff_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """Object-weighted MSE on frames plus ``diff_weight`` times the same on frame-to-frame differences."""
    recon = V.decode_unclamped(vae, z).float()
    weight = 1.0 + (V.OBJECT_WEIGHT - 1.0) * cover
    pixels = (weight * (recon - x).pow(2)).sum() / (weight.sum() * x.shape[1])
    d_recon, d_true = recon.diff(dim=2), x.diff(dim=2)
    d_weight = 1.0 + (V.OBJECT_WEIGHT - 1.0) * torch.maximum(cover[:, :, 1:], cover[:, :, :-1])
    diffs = (d_weight * (d_recon - d_true).pow(2)).sum() / (d_weight.sum() * x.shape[1])
    loss = pixels + diff_weight * diffs
    return loss, {"pixels": float(pixels.detach()), "diffs": float(diffs.detach())}


def load_model_vae(folder: Path, device: torch.device) -> AutoencoderKLWan:
    return AutoencoderKLWan.from_pretrained(Path(folder) / "vae", use_safetensors=True).to(device)


def _run_settings(args: argparse.Namespace) -> dict:
    return {key: getattr(args, key) for key in RUN_KEYS}


def _timed_steps(args: argparse.Namespace, device: torch.device, probes: int = 8) -> float:
    """Seconds per training step on this machine, from a throwaway copy (the run itself is not touched)."""
    vae = load_model_vae(args.model, device)
    per_frame = encoder_is_per_frame(vae)
    params = trainable(vae, args.scope)
    optimizer = torch.optim.AdamW(params, lr=0.0)
    videos, covers = clip_arrays((10**9, args.batch, args.frames, args.crop, args.seed))
    x, cover = V.to_tensor(videos).to(device), torch.from_numpy(covers)[:, None].to(device)
    times = []
    for _ in range(probes):
        started = time.time()
        with autocast(device):
            loss, _ = temporal_loss(vae, x, cover, encode_latents(vae, x, per_frame), args.diff_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.time() - started)
    return float(np.median(times[2:]))


def plan_steps(args: argparse.Namespace, out: Path) -> None:
    """``--auto-minutes``: a new run times a few steps here and fixes ``--steps`` to what fits the budget (the
    data drawing runs beside it in worker processes); the number goes into the checkpoint and the report, so
    the run is reproduced with ``--steps N``. A resumed run keeps its number."""
    ckpt = out / CHECKPOINT
    if exists(ckpt):
        args.steps = int(json.loads(ckpt.read_text())["data"]["settings"]["steps"])
        return
    rate = _timed_steps(args, device_for(args))
    # A fifth in hand: the probe leaves out logging, checkpoints and the slower first steps.
    steps = int(0.8 * args.auto_minutes * 60.0 / rate) // 50 * 50
    args.steps = max(50, min(steps, args.max_steps))
    log(out, f"train: {rate:.3f} s/step measured, so {args.steps} steps fit {args.auto_minutes} min")


def train(args: argparse.Namespace, out: Path) -> dict:
    """The training stage; returns what it did (steps, seconds per step, whether a time budget stopped it)."""
    device = device_for(args)
    if args.auto_minutes > 0:
        plan_steps(args, out)
    vae = load_model_vae(args.model, device)
    per_frame = encoder_is_per_frame(vae)
    params = trainable(vae, args.scope)
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    step, ckpt = 0, out / CHECKPOINT
    if exists(ckpt):
        state = load_checkpoint(ckpt, device)
        if state["settings"] != _run_settings(args):
            raise SystemExit(
                f"{ckpt} was trained with {state['settings']}, not {_run_settings(args)}: continue it with the "
                "same settings, or choose another --out"
            )
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        log(out, f"train: resumed at step {step}")

    def save() -> None:
        save_checkpoint(
            {
                "model": vae.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "settings": _run_settings(args),
            },
            ckpt,
        )

    if step >= args.steps:
        return {"steps": step}
    log(
        out,
        f"train: steps {step}..{args.steps} on {device}, scope {args.scope}, "
        f"{sum(p.numel() for p in params)} parameters train, per-frame encoder {per_frame}",
    )
    vae.train()
    batches = clip_batches(args, step)
    started, first, running, stopped = time.time(), step, 0.0, False
    budget = args.minutes * 60.0 if args.minutes > 0 else float("inf")
    while step < args.steps:
        if args.stop_at and step >= args.stop_at:
            log(out, f"train: stopped at step {step} as asked (--stop-at)")
            stopped = True
            break
        if time.time() - started > budget:
            log(out, f"train: time budget of {args.minutes} min spent at step {step}")
            stopped = True
            break
        x, cover = next(batches)
        x, cover = x.to(device, non_blocking=True), cover.to(device, non_blocking=True)
        z = encode_latents(vae, x, per_frame)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr, warmup=min(50, max(args.steps // 10, 1)))
        with autocast(device):
            loss, parts = temporal_loss(vae, x, cover, z, args.diff_weight)
        clipped_step(optimizer, loss, params)
        step += 1
        running += parts["pixels"]
        if step % args.log_every == 0 or step == args.steps:
            rate = (time.time() - started) / (step - first)
            log(
                out,
                f"train: step {step}/{args.steps} pixels {running / args.log_every:.5f} "
                f"diffs {parts['diffs']:.5f} {rate:.3f} s/step",
            )
            running = 0.0
        if step % args.save_every == 0 or step == args.steps:
            save()
    if stopped:
        save()
    seconds = time.time() - started
    return {
        "steps": step,
        "seconds": seconds,
        "seconds_per_step": seconds / max(step - first, 1),
        "stopped_by_time_budget": stopped,
    }


# ---- export and install


def trained_vae(args: argparse.Namespace, out: Path) -> AutoencoderKLWan:
    vae = load_model_vae(args.model, torch.device("cpu"))
    vae.load_state_dict(load_checkpoint(out / CHECKPOINT)["model"])
    return vae.eval()


def export(args: argparse.Namespace, out: Path, trained: dict) -> dict:
    from studio.embedded.temporal_measure import vae_report

    before = load_model_vae(args.model, torch.device("cpu")).eval()
    after = trained_vae(args, out)
    report = {
        "command": "python -m studio.embedded.vae_temporal "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in _run_settings(args).items()),
        "training": trained,
        "eval_clips": args.eval_clips,
        "before": vae_report(before, args.eval_clips),
        "after": vae_report(after, args.eval_clips),
        "encoder_unchanged": all(
            torch.equal(a, b)
            for a, b in zip(encoder_state(before).values(), encoder_state(after).values(), strict=True)
        ),
    }
    folder = out / "vae"
    shutil.rmtree(folder, ignore_errors=True)
    after.save_pretrained(folder, safe_serialization=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    b, a = report["before"], report["after"]
    log(
        out,
        f"export: held frames {b['held_frames']:.1%} -> {a['held_frames']:.1%}, PSNR {b['psnr']:.2f} -> "
        f"{a['psnr']:.2f} dB (in-between frames {b['psnr_between_frames']:.2f} -> {a['psnr_between_frames']:.2f}, "
        f"key frames {b['psnr_key_frames']:.2f} -> {a['psnr_key_frames']:.2f}), first-frame error "
        f"{b['first_frame_mad']:.2f} -> {a['first_frame_mad']:.2f} on {args.eval_clips} held-out clips",
    )
    return report


def check_studio_model(folder: Path) -> None:
    """Refuse a folder that is not a Studio model folder with a Wan VAE (the only kind this stage trains)."""
    folder = Path(folder)
    hint = "pass --model a Studio model folder such as resources/models/studio-tiny (or a copy of it)"
    for name in (
        "model_index.json",
        "studio_sizes.json",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ):
        if not (folder / name).is_file():
            raise ModelError(f"not a Studio model folder: {name} is missing", path=folder, hint=hint)
    config = json.loads((folder / "vae" / "config.json").read_text())
    if config.get("_class_name") != "AutoencoderKLWan":
        raise ModelError(
            f"its VAE is a {config.get('_class_name')}, not an AutoencoderKLWan", path=folder, hint=hint
        )


FLICKER_MARGIN = 2.0  # 0-255; the quality floor allows generated clips about 0.7 over today's


def not_better(report: dict) -> list[str]:
    """Why the trained VAE should not replace the model's (empty when it is better): fewer held frames, PSNR on
    the true frames no lower, colour and motion no worse, shape and background flicker about as good."""
    b, a = report["before"], report["after"]
    problems = []
    if a["held_frames"] >= b["held_frames"]:
        problems.append(f"held frames {b['held_frames']:.1%} -> {a['held_frames']:.1%}")
    if a["psnr"] < b["psnr"]:
        problems.append(f"PSNR {b['psnr']:.2f} -> {a['psnr']:.2f} dB")
    for key in ("colour_adherence", "motion_adherence"):
        if a[key] < b[key]:
            problems.append(f"{key} {b[key]:.0%} -> {a[key]:.0%}")
    # Small errors PSNR hardly sees: a blurred shape, a background that flickers between made-up frames.
    if a["shape_adherence"] < b["shape_adherence"] - 0.1:
        problems.append(f"shape_adherence {b['shape_adherence']:.0%} -> {a['shape_adherence']:.0%}")
    if a["background_flicker_max"] > b["background_flicker_max"] + FLICKER_MARGIN:
        problems.append(
            f"background flicker {b['background_flicker_max']:.1f} -> {a['background_flicker_max']:.1f}"
        )
    return problems


CARD_MARK = "- VAE decoder time layers (`vae_temporal`):"
PREVIEW_MARK = "**Retrain after the VAE's decoder changed:**"


def _card_with(card: str, report: dict, args: argparse.Namespace) -> str:
    b, a = report["before"], report["after"]
    line = (
        f"{CARD_MARK} trained {report['training']['steps']} steps with the encoder frozen "
        f"(`{report['command']}`), so each latent frame decodes to 4 frames with the motion interpolated. On "
        f"{report['eval_clips']} held-out clips: held frames {b['held_frames']:.0%} to {a['held_frames']:.0%}, PSNR "
        f"{b['psnr']:.1f} to {a['psnr']:.1f} dB (in-between frames {b['psnr_between_frames']:.1f} to "
        f"{a['psnr_between_frames']:.1f}), first-frame error {b['first_frame_mad']:.2f} to {a['first_frame_mad']:.2f}."
    )
    lines = [text for text in card.splitlines() if not text.startswith(CARD_MARK)]
    at = next((i for i, text in enumerate(lines) if text.startswith("- VAE: `AutoencoderKLWan`")), None)
    if at is not None:
        at += 1
        while at < len(lines) and lines[at].startswith("  "):
            at += 1  # past the bullet's continuation lines
        lines.insert(at, line)
    else:
        lines.append(line)
    note = (
        f"{PREVIEW_MARK} the preview decoder was fitted to the earlier VAE (its config's `vae_sha256` no longer "
        "matches, so previews use the colour map) until `python -m studio.embedded.preview_training --model "
        "FOLDER --out RUN --install` retrains it."
    )
    lines = [text for text in lines if not text.startswith(PREVIEW_MARK)]
    head = next((i for i, text in enumerate(lines) if text.startswith("## Live preview decoder")), None)
    if head is not None:
        lines.insert(head + 1, note)
    return "\n".join(lines) + "\n"


def install(args: argparse.Namespace, out: Path, report: dict) -> None:
    """Write the trained VAE into the model folder (atomically), refit its colour-map preview, note the card."""
    from safetensors.torch import save_file

    from studio.embedded.components import write_preview_projection
    from studio.fileio import atomic_path, write_text_atomic

    folder = Path(args.model)
    check_studio_model(folder)
    problems = not_better(report)
    if problems and not args.force:
        raise SystemExit(
            f"not installed: {'; '.join(problems)} (train longer, or pass --force to install it all the same)"
        )
    vae = trained_vae(args, out)
    state = {k: v.detach().contiguous() for k, v in vae.state_dict().items()}
    with atomic_path(folder / "vae" / "diffusion_pytorch_model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_preview_projection(folder, vae)
    card = folder / "MODEL_CARD.md"
    if card.exists():
        write_text_atomic(card, _card_with(card.read_text(), report, args))
    log(
        out,
        f"install: new VAE weights in {folder / 'vae'}; the preview decoder must be retrained: "
        f"python -m studio.embedded.preview_training --model {folder} --out RUN --install",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the Studio model folder whose VAE trains")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=0.0, help="stop training after this (0: no limit)")
    parser.add_argument(
        "--auto-minutes",
        type=float,
        default=0.0,
        help="a new run times a few steps and sets --steps to fill this many minutes (0: --steps as given)",
    )
    parser.add_argument("--max-steps", type=int, default=6000, help="the most steps --auto-minutes sets")
    parser.add_argument(
        "--stop-at",
        type=int,
        default=0,
        help="checkpoint and stop at this step (a break in the run; 0: none)",
    )
    parser.add_argument("--batch", type=int, default=32, help="clips per step")
    parser.add_argument("--frames", type=int, default=17, choices=(5, 9, 13, 17), help="frames per clip")
    parser.add_argument("--crop", type=int, default=0, help="square crop around the object (0: whole frames)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--diff-weight", type=float, default=1.0, help="weight of the frame-difference term")
    parser.add_argument("--scope", choices=("temporal", "decoder"), default="temporal")
    parser.add_argument("--device", default="", help="cuda or cpu (default: cuda when there is one)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=0, help="processes drawing world clips (0: in-process)"
    )
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument(
        "--eval-clips", type=int, default=16, help="held-out clips for the before/after report"
    )
    parser.add_argument("--install", action="store_true", help="write the new VAE into --model")
    parser.add_argument("--force", action="store_true", help="with --install: even if it measured no better")
    args = parser.parse_args(argv)

    if args.install:
        check_studio_model(args.model)  # before any training, not after it
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    V.enable_fast_single_frames()  # the same numbers on single frames, cheaper (the encoder's shortcut)
    out: Path = args.out
    if out.exists() and any(out.iterdir()) and not args.resume:
        raise SystemExit(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    trained: dict = {}
    if "train" in wanted:
        started = time.time()
        trained = train(args, out)
        log(out, f"train finished in {time.time() - started:.0f} s")
    if "export" in wanted:
        report = export(args, out, trained or {"steps": int(load_checkpoint(out / CHECKPOINT)["step"])})
        if args.install:
            install(args, out, report)


if __name__ == "__main__":
    main()
