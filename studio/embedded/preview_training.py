"""Trains the embedded model's preview decoder: latent frames to pictures at the clip's size, a few convolutions.

python -m studio.embedded.preview_training --out RUN --seed 0 [--resume] [--install]

Stages, each resumable: ``data`` (the sampler's clean-clip estimates at every step on world captions, plus world
clips the VAE encodes, each decoded by the model's own VAE), ``train`` (L1 against those decodes, checkpointed),
``export`` (RUN/preview_decoder: config.json with the measured quality and model.safetensors in float16; with
--install also into the model folder, where the runtime loads it). On 2 CPU threads the whole run takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from studio.embedded import preview_data as D
from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint, save_checkpoint
from studio.embedded.runs import cosine_lr, log
from studio.runtime import preview as P

STAGES = ("data", "train", "export")
# Pixel shuffles, not upsampling convolutions: most of the work stays at 8x8 and 16x16, where a CPU is fast.
# Measured on one thread for a 17-frame 64x64 clip: 3.9 ms (64/32 wide), 13 ms for nearest-upsample + conv stages.
WIDTHS = (64, 32)


def _layers_for(channels: int, per_latent: int, widths: tuple[int, int] = WIDTHS, spatial: int = 8) -> list:
    """Two convolutions at latent size, one more into a 2x pixel shuffle, one at 2x, one into a 4x shuffle; a
    16x VAE (128x128 from 8x8 latents) gets one more convolution into a 2x shuffle at the start."""
    low, high = widths
    extra = [{"conv": [low, 4 * low, 3]}, {"shuffle": 2}, "relu"] if spatial == 16 else []
    return [
        {"conv": [channels, low, 3]}, "relu",
        *extra,
        {"conv": [low, low, 3]}, "relu",
        {"conv": [low, 4 * high, 3]}, {"shuffle": 2}, "relu",
        {"conv": [high, high, 3]}, "relu",
        {"conv": [high, 3 * 16 * per_latent, 3]}, {"shuffle": 4},
    ]  # fmt: skip


def gather_data(args: argparse.Namespace, out: Path) -> None:
    from studio.embedded.evaluate import load_pipeline

    pipe = load_pipeline(args.model).to(args.device)  # sampling on a GPU when there is one; training on CPU
    pipe.set_progress_bar_config(disable=True)
    vae = pipe.vae.eval()
    per_frame = V.is_per_frame(vae)
    shape = D.ClipShape.of(args.model)
    parts: list[D.Pairs] = []
    started = time.time()
    # Full-step and draft-step runs: a draft's estimates at 6 steps are blurrier than a full run's at step 6.
    for steps, count, offset in ((20, args.clips, 0), (6, args.draft_clips, 50_000)):
        for first in range(0, count, args.sample_batch):
            specs = D.captions(min(args.sample_batch, count - first), args.seed, offset + first)
            latents, progress = D.sampled_estimates(pipe, specs, steps, shape)
            parts.append(D.pairs_for(vae, latents, progress, per_frame, shape))
            log(out, f"data: {steps}-step clips {first + len(specs)}/{count} ({time.time() - started:.0f} s)")
    specs = D.captions(args.encoded_clips, args.seed, 100_000)
    latents = D.encoded_clips(vae, specs, shape)
    parts.append(D.pairs_for(vae, latents, torch.ones(len(latents)), per_frame, shape))
    pairs = D.Pairs.join(parts)
    save_checkpoint(pairs.to_dict() | {"per_frame": per_frame}, out / "data.json")
    log(out, f"data: {len(pairs.latents)} clip latents, per-frame VAE {per_frame}, {time.time() - started:.0f} s")


def _new_decoder(pairs: D.Pairs, seed: int, per_latent: int, widths: tuple[int, int], spatial: int = 8
                 ) -> P.PreviewDecoder:
    channels = pairs.latents.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = P.PreviewDecoder(_layers_for(channels, per_latent, widths, spatial), channels)
    flat = pairs.latents.transpose(1, 2).reshape(-1, channels, *pairs.latents.shape[-2:])
    net.input_mean.copy_(flat.mean(dim=(0, 2, 3)))
    net.input_std.copy_(flat.std(dim=(0, 2, 3)).clamp_min(1e-3))
    return net


def clip_loss(net: P.PreviewDecoder, pairs: D.Pairs, rows: torch.Tensor, pred_index: torch.Tensor) -> torch.Tensor:
    """Mean abs error (in [-1, 1] units) over every frame of the clips at ``rows``, as the timeline shows them."""
    z = pairs.latents[rows]
    n, c, f, h, w = z.shape
    pictures = net(z.transpose(1, 2).reshape(n * f, c, h, w))
    pictures = pictures.reshape(n, -1, 3, *pictures.shape[-2:])[:, pred_index]
    targets = pairs.targets[rows][:, pairs.target_index].float().div(127.5).sub(1.0)
    return (pictures - targets).abs().mean()


def train(args: argparse.Namespace, out: Path) -> None:
    data = load_checkpoint(out / "data.json")
    pairs = D.Pairs.from_dict(data)
    shape = D.ClipShape.of(args.model)
    per_latent = 1 if data["per_frame"] else shape.temporal
    net = _new_decoder(pairs, args.seed, per_latent, args.widths, shape.spatial)
    # On a GPU when one is named: 128x128 targets make the CPU the slow part of a GPU session.
    device = torch.device(args.device)
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    step = 0
    if exists(out / "decoder.json"):
        state = load_checkpoint(out / "decoder.json")
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        log(out, f"train: resumed at step {step}")
    latent_frames = pairs.latents.shape[2]
    pred_index = torch.from_numpy(P.decoded_frame_index(shape.frames, latent_frames, shape.temporal, per_latent))
    pairs = D.Pairs(pairs.latents.to(device), pairs.targets.to(device), pairs.target_index.to(device),
                    pairs.progress)
    pred_index = pred_index.to(device)

    def save() -> None:
        save_checkpoint({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, out / "decoder.json")

    started, running = time.time(), 0.0
    while step < args.steps:
        # Each step's batch comes from (seed, step) alone, so a resumed run draws what an unbroken one would.
        generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        rows = torch.randint(0, len(pairs.latents), (args.batch,), generator=generator).to(pairs.latents.device)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr, warmup=50)
        loss = clip_loss(net, pairs, rows, pred_index)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 50 == 0:
            log(out, f"train: step {step}/{args.steps} L1 {running * 127.5:.2f} (0-255) {time.time() - started:.0f} s")
        if step % args.save_every == 0 or step == args.steps:
            save()


def _half_rounded(net: P.PreviewDecoder) -> P.PreviewDecoder:
    """The decoder as it ships: float16 weights (half the bytes), read back as float32 by the runtime."""
    with torch.no_grad():
        for tensor in net.state_dict().values():
            tensor.copy_(tensor.half().float())
    return net


def export(args: argparse.Namespace, out: Path) -> Path:
    from studio.embedded import preview_report as R

    data = load_checkpoint(out / "data.json", keys=("per_frame", "target_index"))
    shape = D.ClipShape.of(args.model)
    per_latent = 1 if data["per_frame"] else shape.temporal
    state = load_checkpoint(out / "decoder.json")
    channels = state["model"]["input_mean"].shape[0]
    layers = _layers_for(channels, per_latent, args.widths, shape.spatial)
    net = P.PreviewDecoder(layers, channels)
    net.load_state_dict(state["model"])
    net = _half_rounded(net.eval())
    quality = R.measure(args, net, out)
    folder = out / P.DECODER_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    weights = {k: v.detach().half().contiguous() for k, v in net.state_dict().items()}
    save_file(weights, str(folder / P.DECODER_WEIGHTS))
    os.chmod(folder / P.DECODER_WEIGHTS, 0o644)  # safetensors writes 0600; the model folder is shared data
    config = {
        "format": 1,
        "latent_channels": channels,
        "frames_per_latent": per_latent,
        "layers": layers,
        "vae_sha256": P.vae_fingerprint(Path(args.model)),
        "parameters": sum(p.numel() for p in net.parameters()),
        "trained": "python -m studio.embedded.preview_training "
        + f"--seed {args.seed} --clips {args.clips} --draft-clips {args.draft_clips} --encoded-clips {args.encoded_clips} "
        + f"--steps {args.steps} --batch {args.batch} --lr {args.lr} --widths {','.join(map(str, args.widths))}",
        "quality": quality,
    }
    (folder / P.DECODER_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    log(out, f"export: {folder} ({(folder / P.DECODER_WEIGHTS).stat().st_size} bytes) {json.dumps(quality)}")
    if args.install:
        target = Path(args.model) / P.DECODER_FOLDER
        staging = target.with_name(target.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(folder, staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        log(out, f"export: installed into {target}")
    return folder


def main(argv: list[str] | None = None) -> None:
    from studio.runtime.loading import embedded_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from what --out holds")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--model", type=Path, default=None, help="the model folder (default: the embedded one)")
    # One thread: on a shared 2-core machine a second one made every step about 5x slower (spinning threads).
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="where the data stage samples the model (cpu, cuda)")
    parser.add_argument("--clips", type=int, default=40, help="20-step text-to-video runs whose every step is kept")
    parser.add_argument("--draft-clips", type=int, default=16, help="6-step runs, likewise")
    parser.add_argument("--encoded-clips", type=int, default=64, help="world clips the VAE encodes")
    parser.add_argument("--sample-batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=8, help="clips per training step (every frame of each)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument(
        "--widths", type=lambda t: tuple(int(v) for v in t.split(",")), default=WIDTHS,
        help="channels at latent size and at twice it (cost grows with both)",
    )
    parser.add_argument("--save-every", type=int, default=200)
    parser.add_argument("--eval-clips", type=int, default=8, help="held-out captions for the quality figures")
    parser.add_argument("--png", type=Path, default=None, help="also write a side-by-side picture here")
    parser.add_argument("--install", action="store_true", help="write the decoder into the model folder")
    args = parser.parse_args(argv)
    args.model = args.model or embedded_folder()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    V.enable_fast_single_frames()  # the same numbers on single frames, about 3x cheaper
    out: Path = args.out
    if out.exists() and any(out.iterdir()) and not args.resume:
        raise SystemExit(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    for stage in STAGES:
        if stage not in wanted:
            continue
        started = time.time()
        if stage == "data":
            if exists(out / "data.json"):
                log(out, "data: kept from before")
                continue
            gather_data(args, out)
        elif stage == "train":
            train(args, out)
        else:
            export(args, out)
        log(out, f"{stage} finished in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
