"""Trains the whole embedded model on the richer world at a given size, in one resumable, seeded run.

python -m studio.embedded.full_train --out RUN [--size 128] [--seed 0] [--resume] [--stages vae,...] [budgets]

Stages (each checkpoints into RUN and continues where it stopped; every batch comes from (seed, step) alone):

* ``vae``       the VAE from scratch on single frames of the richer world (crops around objects, then whole
                frames), object-weighted MSE, then set per-frame (``vae_training.init_temporal_layers``);
* ``vae_time``  the decoder's temporal layers on whole 17-frame clips, encoder frozen, each causal conv's last
                tap held (``vae_temporal``): 4 distinct, interpolated frames per latent frame, first frame kept;
* ``latents``   a latent cache of world clips (only frames 0, 4, 8, ... are drawn and encoded: the encoder is
                per-frame), with their captions;
* ``dit``       transformer and text encoder (``dit_training.train_dit``), the tokenizer over the richer words;
* ``export``    RUN/pipeline: a Wan pipeline folder with studio_defaults.json at this size and
                studio_vocabulary.json listing the new words.

At 128x128 the VAE has one more level (16x spatially), so latents stay 8x8 and the transformer's cost is the
64x64 model's. Every stage also stops at its time budget (``--*-minutes``), so a GPU call of fixed length ends
with a usable model; studio/embedded/gpu_train.sh runs it with the evaluator and the install gate.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from studio.embedded import components as C
from studio.embedded import scenes as S
from studio.embedded import vae_temporal as VT
from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint, load_latent_parts, save_checkpoint
from studio.embedded.runs import autocast, clipped_step, cosine_factor, device_for, log, open_run
from studio.embedded.world import train_seed

STAGES = ("vae", "vae_time", "latents", "dit", "export")
FRAMES = 17
# 16x spatially at 128x128: 8x8 latents, as at 64x64 (see the module doc).
SIZES_128 = {"vae_dim_mult": [1, 2, 4, 4, 4], "vae_temporal_downsample": [False, False, True, True],
             "vae_scale_spatial": 16}
# Seed ranges per stage (train_seed offsets), apart from each other and below the evaluation seeds.
FRAME_SEEDS, CLIP_SEEDS, LATENT_SEEDS = 0, 500_000, 300_000
SAVE_SECONDS = 120.0  # a checkpoint at least this often, whatever the step count


# ---- data: plain functions of (step, ...) so worker processes draw them and a resumed run draws the same


def frame_arrays(job: tuple[int, int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Single frames ([B, 1, H, W, 3] uint8, coverage [B, 1, H, W]) for (step, batch, seed, size, crop, grid)."""
    step, batch, seed, size, crop, grid = job
    rng = random.Random(seed * 7919 + step)
    images, covers = [], []
    for i in range(batch):
        spec = S.scene_for_seed(train_seed(FRAME_SEEDS + step * batch + i, seed))
        t = rng.randrange(FRAMES)
        image, cover = S.render_scene_frame(spec, t, FRAMES, size)
        if crop:
            if rng.random() < 0.8:  # mostly on an object: that is where the drawing is hard
                x, y, _ = S.object_in_frame(spec, rng.choice(spec.objects), t, FRAMES)
                x0 = int(x * size / 64) - crop // 2 + rng.randint(-crop // 4, crop // 4)
                y0 = int(y * size / 64) - crop // 2 + rng.randint(-crop // 4, crop // 4)
            else:
                x0, y0 = rng.randint(0, size - crop), rng.randint(0, size - crop)
            # On the latent grid, so a crop is drawn as the whole frame draws that region.
            x0 = min(max(x0 // grid * grid, 0), size - crop)
            y0 = min(max(y0 // grid * grid, 0), size - crop)
            image, cover = image[y0:y0 + crop, x0:x0 + crop], cover[y0:y0 + crop, x0:x0 + crop]
        images.append(image[None])
        covers.append(cover[None])
    return np.stack(images), np.stack(covers)


def clip_arrays(job: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Whole clips ([B, T, H, W, 3], coverage [B, T, H, W]) for (step, batch, seed, size)."""
    step, batch, seed, size = job
    pairs = [S.render_scene(S.scene_for_seed(train_seed(CLIP_SEEDS + step * batch + i, seed)), FRAMES, size)
             for i in range(batch)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def key_frames(job: tuple[list[int], int]) -> tuple[np.ndarray, list[str]]:
    """Frames 0, 4, 8, ... of the scenes of ``seeds`` (what a per-frame encoder sees) and their captions."""
    seeds, size = job
    specs = [S.scene_for_seed(seed) for seed in seeds]
    keep = list(range(0, FRAMES, 4))
    return np.stack([S.render_scene(s, FRAMES, size, only=keep)[0] for s in specs]), [s.caption for s in specs]


def encode_key_frames(vae, x: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Posterior means [B, C, K, h, w] of key frames x [B, 3, K, H, W], each encoded alone (what a per-frame
    encoder makes of frames 0, 4, 8, ... of a clip)."""
    batch, channels, keys = x.shape[:3]
    singles = x.transpose(1, 2).reshape(batch * keys, channels, 1, *x.shape[3:])
    mean = V.encode_mean(vae, singles)[0]
    return mean.reshape(batch, keys, *mean.shape[1:]).squeeze(3).transpose(1, 2)


def _stream(function, jobs, workers: int):  # type: ignore[no-untyped-def]
    """function(job) for each job in order, drawn by ``workers`` processes a few chunks ahead (bounded, so a
    slow consumer never piles up batches)."""
    if workers <= 0:
        for job in jobs:
            yield function(job)
        return
    import itertools
    import multiprocessing

    jobs = iter(jobs)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        while chunk := list(itertools.islice(jobs, 4 * workers)):
            yield from pool.imap(function, chunk)


def _tensors(images: np.ndarray, covers: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    x = V.to_tensor(images).to(device, non_blocking=True)
    return x, torch.from_numpy(covers)[:, None].to(device, non_blocking=True)


# ---- shared pieces


def _schedule(step: int, total: int, started: float, budget: float, peak: float, warmup: int) -> float:
    """Warm-up, then cosine to a tenth over the steps or the time budget, whichever ends first."""
    progress = step / max(total, 1)
    if budget:
        progress = max(progress, (time.time() - started) / budget)
    return peak * min(1.0, (step + 1) / warmup) * cosine_factor(progress)


class _Saver:
    """Checkpoints every ``every`` steps and at least every SAVE_SECONDS."""

    def __init__(self, every: int) -> None:
        self.every, self.last = every, time.time()

    def due(self, step: int) -> bool:
        if step % self.every == 0 or time.time() - self.last > SAVE_SECONDS:
            self.last = time.time()
            return True
        return False


def load_sizes(out: Path) -> C.ModelSizes:
    return C.ModelSizes(**json.loads((out / "sizes.json").read_text()))


def final_vae(out: Path, sizes: C.ModelSizes, device: torch.device, name: str):  # type: ignore[no-untyped-def]
    vae = C.build_vae(sizes).to(device)
    vae.load_state_dict(load_checkpoint(out / name, device)["model"])
    return vae


# ---- stages


def train_vae(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    """Single frames from scratch; the last ``--vae-full-share`` of the steps on whole frames (far background)."""
    if exists(out / "vae_frames.json"):
        return
    device = device_for(args)
    vae = C.build_vae(sizes).to(device)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    ckpt, step, spent = out / "vae.json", 0, 0.0
    if exists(ckpt):
        state = load_checkpoint(ckpt, device)
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, spent = int(state["step"]), float(state["seconds"])
        log(out, f"vae: resumed at step {step}")
    total, budget = args.vae_steps, args.vae_minutes * 60.0
    whole_from = int(total * (1.0 - args.vae_full_share))
    grid = sizes.vae_scale_spatial
    crop = args.vae_crop if args.vae_crop and args.vae_crop < args.size else 0

    def job(s: int) -> tuple:
        return (s, args.vae_batch, args.seed, args.size, crop, grid) if s < whole_from else \
            (s, args.vae_full_batch, args.seed, args.size, 0, grid)

    def save() -> None:
        save_checkpoint({"model": vae.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                         "seconds": time.time() - started_at}, ckpt)

    log(out, f"vae: steps {step}..{total} at {args.size}px on {device}, {C.parameter_count(vae)} parameters")
    # The budget counts time spent before a resume too.
    started_at, started, first, running, saver = time.time() - spent, time.time(), step, 0.0, _Saver(args.save_every)
    vae.train()
    for images, covers in _stream(frame_arrays, (job(s) for s in range(step, total)), args.workers):
        if budget and time.time() - started_at > budget:
            log(out, f"vae: time budget spent at step {step}")
            break
        x, cover = _tensors(images, covers, device)
        for group in optimizer.param_groups:
            group["lr"] = _schedule(step, total, started_at, budget, args.vae_lr, 100)
        with autocast(device):
            loss, parts = V.vae_loss(vae, x, cover)
        clipped_step(optimizer, loss, vae.parameters())
        step += 1
        running += parts["mse"]
        if step % args.log_every == 0:
            log(out, f"vae step {step} mse {running / args.log_every:.4f} "
                     f"{(time.time() - started) / max(step - first, 1):.3f} s/step")
            running = 0.0
        if saver.due(step):
            save()
    save()
    V.init_temporal_layers(vae)  # per-frame: latent frame k is frame 4k alone, decoded as repeats for now
    save_checkpoint({"model": vae.state_dict(), "step": step}, out / "vae_frames.json")
    log(out, f"vae: per-frame VAE kept after {step} steps")


def train_vae_time(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    if exists(out / "vae_final.json"):
        return
    device = device_for(args)
    vae = final_vae(out, sizes, device, "vae_frames.json")
    params = VT.trainable(vae, "temporal")
    optimizer = torch.optim.AdamW(params, lr=args.time_lr, weight_decay=0.0)
    ckpt, step, spent = out / "vae_time.json", 0, 0.0
    if exists(ckpt):
        state = load_checkpoint(ckpt, device)
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, spent = int(state["step"]), float(state["seconds"])
        log(out, f"vae_time: resumed at step {step}")
    total, budget = args.time_steps, args.time_minutes * 60.0
    started_at, started, running, saver = time.time() - spent, time.time(), 0.0, _Saver(args.save_every)

    def save() -> None:
        save_checkpoint({"model": vae.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                         "seconds": time.time() - started_at}, ckpt)

    log(out, f"vae_time: steps {step}..{total}, {sum(p.numel() for p in params)} parameters train")
    vae.train()
    first = step
    jobs = ((s, args.time_batch, args.seed, args.size) for s in range(step, total))
    for images, covers in _stream(clip_arrays, jobs, args.workers):
        if budget and time.time() - started_at > budget:
            log(out, f"vae_time: time budget spent at step {step}")
            break
        x, cover = _tensors(images, covers, device)
        z = VT.encode_latents(vae, x, per_frame=True)
        for group in optimizer.param_groups:
            group["lr"] = _schedule(step, total, started_at, budget, args.time_lr, 50)
        with autocast(device):
            loss, parts = VT.temporal_loss(vae, x, cover, z, 1.0)
        clipped_step(optimizer, loss, params)
        step += 1
        running += parts["pixels"]
        if step % args.log_every == 0:
            log(out, f"vae_time step {step} pixels {running / args.log_every:.5f} diffs {parts['diffs']:.5f} "
                     f"{(time.time() - started) / max(step - first, 1):.3f} s/step")
            running = 0.0
        if saver.due(step):
            save()
    save()
    save_checkpoint({"model": vae.state_dict(), "step": step}, out / "vae_final.json")
    log(out, f"vae_time: kept after {step} steps")


@torch.no_grad()
def cache_latents(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    """Posterior means of world clips in resumable parts; the same file dit_training reads."""
    target = out / "latents.json"
    if exists(target):
        return
    device = device_for(args)
    vae = final_vae(out, sizes, device, "vae_final.json").eval()
    parts = out / "latent_parts"
    parts.mkdir(exist_ok=True)
    started, chunk = time.time(), 500
    for first in range(0, args.latent_clips, chunk):
        part = parts / f"{first:07d}.json"
        if exists(part):
            continue
        if first > 0 and time.time() - started > args.latent_minutes * 60.0:
            log(out, f"latents: time budget spent at {first} clips")
            break
        seeds = [train_seed(LATENT_SEEDS + i, args.seed) for i in range(first, min(first + chunk, args.latent_clips))]
        groups = [(seeds[k:k + 25], args.size) for k in range(0, len(seeds), 25)]
        means, captions = [], []
        for frames, texts in _stream(key_frames, groups, args.workers):
            # full precision: the pipelines encode i2v and v2v so
            means.append(encode_key_frames(vae, V.to_tensor(frames).to(device)).cpu())
            captions += texts
        save_checkpoint({"latents": torch.cat(means), "captions": captions}, part)
        log(out, f"latents: {first + len(seeds)}/{args.latent_clips} clips, {time.time() - started:.0f} s")
    latents, captions = load_latent_parts(parts)
    mean, std = latents.mean(dim=(0, 2, 3, 4)), latents.std(dim=(0, 2, 3, 4))
    save_checkpoint({"latents": latents, "captions": captions, "mean": mean, "std": std}, target)
    log(out, f"latents: {tuple(latents.shape)}, mean {mean.abs().mean():.3f}, std {std.mean():.3f}")


def train_transformer(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    from studio.embedded import dit_training as D

    D.train_dit(args, out, sizes)


def export(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> Path:
    """RUN/pipeline from the trained VAE and the EMA transformer and text encoder, with its vocabulary file."""
    from studio.runtime.vocabulary import tokenizer_words, write_vocabulary

    vae = final_vae(out, sizes, torch.device("cpu"), "vae_final.json").eval()
    stats = load_checkpoint(out / "latents.json", keys=("mean", "std"))
    vae.register_to_config(latents_mean=[float(v) for v in stats["mean"]],
                           latents_std=[float(v) for v in stats["std"]])
    tokenizer = C.build_tokenizer(args.words)
    transformer, text_encoder = C.build_transformer(sizes), C.build_text_encoder(sizes, len(tokenizer))
    state = load_checkpoint(out / "dit.json")
    transformer.load_state_dict(state["ema_transformer"])
    text_encoder.load_state_dict(state["ema_text_encoder"])
    folder = out / "pipeline"
    C.save_pipeline(folder, vae, transformer.eval(), text_encoder.eval(), tokenizer, sizes,
                    defaults={"height": args.size, "width": args.size, "num_frames": FRAMES},
                    projection_clips=args.projection_clips)
    write_vocabulary(folder, tokenizer_words(folder), S.vocabulary_groups(),
                     "this folder's word-level tokenizer (the richer world's captions)")
    log(out, f"export: wrote {folder} (dit step {state['step']})")
    return folder


RUNNERS = {"vae": train_vae, "vae_time": train_vae_time, "latents": cache_latents, "dit": train_transformer,
           "export": export}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--size", type=int, default=128, choices=(64, 128))
    p.add_argument("--sizes", default="", help="JSON of ModelSizes fields over the size's defaults (a new run)")
    p.add_argument("--device", default="")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=0, help="processes drawing the world (0: in-process)")
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--vae-steps", type=int, default=3000)
    p.add_argument("--vae-minutes", type=float, default=0.0)
    p.add_argument("--vae-lr", type=float, default=1e-3)
    p.add_argument("--vae-batch", type=int, default=32)
    p.add_argument("--vae-crop", type=int, default=64, help="crop side for most frame steps (0: whole frames)")
    p.add_argument("--vae-full-batch", type=int, default=16)
    p.add_argument("--vae-full-share", type=float, default=0.3, help="share of the steps on whole frames")
    p.add_argument("--time-steps", type=int, default=800)
    p.add_argument("--time-minutes", type=float, default=0.0)
    p.add_argument("--time-lr", type=float, default=3e-4)
    p.add_argument("--time-batch", type=int, default=8)
    p.add_argument("--latent-clips", type=int, default=20000)
    p.add_argument("--latent-minutes", type=float, default=10.0)
    p.add_argument("--dit-steps", type=int, default=4000)
    p.add_argument("--dit-minutes", type=float, default=0.0)
    p.add_argument("--dit-batch", type=int, default=256)
    p.add_argument("--dit-lr", type=float, default=1e-3)
    p.add_argument("--dit-schedule", choices=("constant", "cosine"), default="cosine")
    p.add_argument("--projection-clips", type=int, default=96, help="clips the fallback colour map is fitted on")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.words = S.vocabulary()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    V.enable_fast_single_frames()  # the same numbers on single frames, several times cheaper
    out = open_run(args.out, args.resume)
    if (out / "sizes.json").exists():
        sizes = load_sizes(out)
    else:
        fields = (SIZES_128 if args.size == 128 else {}) | (json.loads(args.sizes) if args.sizes else {})
        sizes = C.ModelSizes(**fields)
        (out / "sizes.json").write_text(json.dumps(sizes.to_dict(), indent=2) + "\n")
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}: choose from {', '.join(STAGES)}")
    for stage in STAGES:
        if stage in wanted:
            started = time.time()
            RUNNERS[stage](args, out, sizes)
            log(out, f"{stage} finished in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
