"""How close a preview decoder comes to the VAE, against the colour map it replaces, on held-out captions at
early, middle and final sampling steps (what the timeline shows then), and a side-by-side picture."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from studio.embedded import preview_data as D
from studio.embedded import vae_training as V
from studio.embedded.runs import log
from studio.runtime import preview as P

KEEP_STEPS = (5, 10, 20)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _timeline(pictures: torch.Tensor, index: torch.Tensor) -> np.ndarray:
    """uint8 [P, 3, H, W] pictures -> the clip's frames [T, H, W, 3]."""
    return pictures[index].permute(0, 2, 3, 1).numpy()


def previews(
    net: P.PreviewDecoder, folder: Path, z: torch.Tensor, shape: D.ClipShape
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decoder and colour-map previews of one VAE-space clip [C, F, h, w] through the runtime's renderers, the
    colour map's blown up (nearest) to the clip's size as a viewer shows it."""
    channels, frames = z.shape[0], z.shape[1]
    ones, zeros = torch.ones(channels), torch.zeros(channels)
    decoder = P.DecoderPreviewer(net, shape.temporal).for_clip(ones, zeros, shape.frames, frames)(z)
    projection = P.shipped_projection(folder, channels)
    if projection is None:
        return decoder, None
    spatial = shape.size // z.shape[-1]
    colour_map = P.ClipPreviewer(projection, torch.device("cpu"), shape.temporal, spatial)
    small = colour_map.for_clip(ones, zeros, shape.frames, frames)(z)
    up = decoder.shape[1] // small.shape[1]
    return decoder, small.repeat(up, axis=1).repeat(up, axis=2)


@torch.no_grad()
def measure(args: argparse.Namespace, net: P.PreviewDecoder, out: Path) -> dict:
    from studio.embedded.evaluate import load_pipeline

    device = torch.device(getattr(args, "device", "cpu"))
    pipe = load_pipeline(args.model).to(device)  # sampling and the VAE on a GPU when there is one
    pipe.set_progress_bar_config(disable=True)
    vae = pipe.vae.eval()
    per_frame = V.is_per_frame(vae)
    shape = D.ClipShape.of(args.model)
    specs = D.captions(args.eval_clips, args.seed, 0, split="eval")
    latents, _ = D.sampled_estimates(pipe, specs, 20, shape, keep_steps=list(KEEP_STEPS))
    draft, _ = D.sampled_estimates(pipe, specs, 6, shape, keep_steps=[6])
    latents = torch.cat([latents, draft])
    labels = [f"step {s}/20" for s in KEEP_STEPS for _ in specs] + ["draft 6/6" for _ in specs]
    targets = D.decode_pictures(vae, latents, per_frame, shape).cpu()
    latents = latents.cpu()  # the decoder under test and the colour map run on the CPU, as in the app
    index = D.target_index(per_frame, latents.shape[2], shape)
    rows: dict[str, dict[str, list[float]]] = {}
    picture: dict[str, list[np.ndarray]] = {}
    for i, label in enumerate(labels):
        vae_frames = _timeline(targets[i], index)
        decoder, colour_map = previews(net, Path(args.model), latents[i], shape)
        row = rows.setdefault(label, {"decoder_mae": [], "decoder_psnr": [], "map_mae": [], "map_psnr": []})
        row["decoder_mae"].append(float(np.abs(decoder.astype(float) - vae_frames).mean()))
        row["decoder_psnr"].append(psnr(decoder, vae_frames))
        if colour_map is not None:
            row["map_mae"].append(float(np.abs(colour_map.astype(float) - vae_frames).mean()))
            row["map_psnr"].append(psnr(colour_map, vae_frames))
        if i % len(specs) == 0 and colour_map is not None:
            picture[label] = [colour_map, decoder, vae_frames]
    quality = {
        label: {key: round(float(np.mean(values)), 2) for key, values in row.items() if values}
        for label, row in rows.items()
    }
    quality["measured_on"] = f"{len(specs)} held-out captions, mean abs error 0-255 and PSNR dB against the VAE decode"
    if args.png is not None and picture:
        side_by_side(picture, args.png)
        log(out, f"export: side-by-side picture {args.png}")
    return quality


def side_by_side(picture: dict[str, list[np.ndarray]], path: Path, frames: tuple[int, ...] = (0, 4, 8, 12, 16)) -> None:
    """Per sampling step, rows colour map / decoder / VAE, frames left to right, at twice the size."""
    from PIL import Image, ImageDraw

    tiles = []
    for label, (colour_map, decoder, vae_frames) in picture.items():
        block = np.concatenate(
            [np.concatenate([clip[t] for t in frames], axis=1) for clip in (colour_map, decoder, vae_frames)], axis=0
        )
        tiles.append(np.pad(block, ((14, 4), (60, 4), (0, 0)), constant_values=255))
        tiles[-1] = (tiles[-1], label)
    height = sum(t.shape[0] for t, _ in tiles)
    width = tiles[0][0].shape[1]
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    y = 0
    for tile, label in tiles:
        canvas.paste(Image.fromarray(tile), (0, y))
        draw.text((60, y + 1), label + "   (frames " + ", ".join(map(str, frames)) + ")", fill="black")
        size = (tile.shape[0] - 18) // 3
        for k, name in enumerate(("map", "decoder", "VAE")):
            draw.text((4, y + 14 + k * size + size // 2 - 5), name, fill="black")
        y += tile.shape[0]
    canvas = canvas.resize((canvas.width * 2, canvas.height * 2), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
