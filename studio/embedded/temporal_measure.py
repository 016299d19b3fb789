"""How a VAE decodes time: held frames and PSNR against the world's true frames, on held-out clips.

A held frame is a pair of consecutive decoded frames that barely change (mean abs change under 0.5 on 0-255)
while the true clip's pair does change (the captioned object moves): a VAE whose temporal upsamplers repeat the
latent frame holds 12 of 16 pairs of a 17-frame clip. PSNR is split into key frames (0, 4, 8, ...: the frames
the per-frame encoder actually saw) and the in-between frames the decoder has to make up.

    python -m studio.embedded.temporal_measure MODEL_FOLDER [--count 16] [--pipeline] [--json FILE]

--pipeline also renders text-, image- and video-to-video clips with the model folder's pipeline and reports their
held frames (the issue's quality-floor figure, as tests/embedded/test_model.py measures it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from studio.directing.motion import HELD_CHANGE, frame_changes
from studio.embedded.analysis import analyse
from studio.embedded.world import eval_specs, render

FRAMES, SIZE = 17, 64


def held_pairs(video: np.ndarray, truth: np.ndarray | None = None) -> tuple[int, int]:
    """(held, moving): of the pairs where the true clip changes (every pair when no truth is given), how many
    barely change in ``video``."""
    changes = frame_changes(video)
    moving = np.ones_like(changes, dtype=bool) if truth is None else frame_changes(truth) >= HELD_CHANGE
    return int((moving & (changes < HELD_CHANGE)).sum()), int(moving.sum())


def held_share(videos: list[np.ndarray], truths: list[np.ndarray] | None = None) -> float:
    """Share of moving frame pairs that are held, over all clips."""
    held = moving = 0
    for i, video in enumerate(videos):
        h, m = held_pairs(video, None if truths is None else truths[i])
        held, moving = held + h, moving + m
    return held / moving if moving else 0.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[3, T, H, W] in [-1, 1] to uint8 [T, H, W, 3]."""
    return ((x.float().permute(1, 2, 3, 0).cpu().numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)


@torch.no_grad()
def vae_decodes(
    vae, count: int, offset: int = 0, batch: int = 8
) -> tuple[list, list[np.ndarray], list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """(specs, true clips, VAE reconstructions) of ``count`` held-out 17-frame clips, through the VAE's own API."""
    device = next(vae.parameters()).device
    specs = eval_specs(count, offset)
    truths = [render(s, FRAMES, SIZE)[0] for s in specs]
    recons: list[np.ndarray] = []
    for first in range(0, count, batch):
        clips = np.stack(truths[first : first + batch])
        x = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0).to(device)
        z = vae.encode(x).latent_dist.mode()
        recons += [to_uint8(v) for v in vae.decode(z).sample]
    return specs, truths, recons


def vae_report(vae, count: int = 16, offset: int = 0) -> dict:  # type: ignore[no-untyped-def]
    """Held frames, PSNR (all, key, in-between frames), first-frame error and what plain analysis reads."""
    specs, truths, recons = vae_decodes(vae, count, offset)
    key = np.arange(FRAMES) % 4 == 0
    seen = [analyse(v) for v in recons]
    return {
        "clips": count,
        "held_frames": held_share(recons, truths),
        "psnr": float(np.mean([psnr(r, t) for r, t in zip(recons, truths, strict=True)])),
        "psnr_key_frames": float(
            np.mean([psnr(r[key], t[key]) for r, t in zip(recons, truths, strict=True)])
        ),
        "psnr_between_frames": float(
            np.mean([psnr(r[~key], t[~key]) for r, t in zip(recons, truths, strict=True)])
        ),
        "first_frame_mad": float(
            np.mean(
                [
                    np.abs(r[0].astype(np.float32) - t[0].astype(np.float32)).mean()
                    for r, t in zip(recons, truths, strict=True)
                ]
            )
        ),
        "mean_abs_error": float(
            np.mean(
                [
                    np.abs(r.astype(np.float32) - t.astype(np.float32)).mean()
                    for r, t in zip(recons, truths, strict=True)
                ]
            )
        ),
        "colour_adherence": float(np.mean([a.colour == s.colour for a, s in zip(seen, specs, strict=True)])),
        "motion_adherence": float(np.mean([a.motion == s.motion for a, s in zip(seen, specs, strict=True)])),
        "shape_adherence": float(np.mean([a.shape == s.shape for a, s in zip(seen, specs, strict=True)])),
        "background_flicker_max": float(max(a.background_flicker for a in seen)),
    }


def pipeline_held_frames(folder: Path, count: int = 8, steps: int = 20, device: str = "cpu") -> dict:
    """Held frames (and colour/motion) of the pipeline's text-, image- and video-to-video clips on the first
    held-out captions, set up as tests/embedded/test_model.py's quality floor sets them up."""
    from diffusers import WanImageToVideoPipeline, WanVideoToVideoPipeline
    from PIL import Image

    from studio.embedded.evaluate import GUIDE_OFFSET, load_pipeline, text_to_video
    from studio.embedded.world import OBJECT_COLOURS, caption_for

    pipe = load_pipeline(folder).to(device)
    pipe.set_progress_bar_config(disable=True)
    common = {
        "height": SIZE,
        "width": SIZE,
        "num_inference_steps": steps,
        "guidance_scale": 5.0,
        "output_type": "np",
    }
    report: dict = {"clips": count, "steps": steps}
    specs = eval_specs(count)
    tasks: dict[str, tuple[list, list[np.ndarray]]] = {}
    tasks["text_to_video"] = ([s.colour for s in specs], [text_to_video(pipe, s, steps, 5.0) for s in specs])
    i2v = WanImageToVideoPipeline.from_pipe(pipe)
    i2v.set_progress_bar_config(disable=True)
    videos = []
    for spec in specs:
        real, _ = render(spec, FRAMES, SIZE)
        out = i2v(
            image=Image.fromarray(real[0]),
            prompt=spec.caption,
            num_frames=FRAMES,
            generator=torch.Generator().manual_seed(spec.seed),
            **common,
        )
        videos.append(np.clip(np.round(out.frames[0] * 255.0), 0, 255).astype(np.uint8))
    tasks["image_to_video"] = ([s.colour for s in specs], videos)
    v2v = WanVideoToVideoPipeline.from_pipe(pipe)
    v2v.set_progress_bar_config(disable=True)
    colours, wanted, videos = list(OBJECT_COLOURS), [], []
    for guide in eval_specs(count, offset=GUIDE_OFFSET):
        clip, _ = render(guide, FRAMES, SIZE)
        colour = colours[(colours.index(guide.colour) + 1) % len(colours)]
        prompt = caption_for(colour, guide.shape, guide.motion, guide.background, guide.background_to)
        out = v2v(
            video=[Image.fromarray(f) for f in clip],
            prompt=prompt,
            strength=0.7,
            generator=torch.Generator().manual_seed(guide.seed),
            **common,
        )
        wanted.append(colour)
        videos.append(np.clip(np.round(out.frames[0] * 255.0), 0, 255).astype(np.uint8))
    tasks["video_to_video"] = (wanted, videos)
    motions = [s.motion for s in specs]
    guide_motions = [g.motion for g in eval_specs(count, offset=GUIDE_OFFSET)]
    for task, (colours_wanted, clips) in tasks.items():
        seen = [analyse(v) for v in clips]
        expected = guide_motions if task == "video_to_video" else motions
        report[task] = {
            # Every world caption moves its object, so every pair of a generated clip should change.
            "held_frames": held_share(clips),
            "colour": float(np.mean([a.colour == c for a, c in zip(seen, colours_wanted, strict=True)])),
            "motion": float(np.mean([a.motion == m for a, m in zip(seen, expected, strict=True)])),
            "flicker_max": float(max(a.background_flicker for a in seen)),
        }
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a model folder (its vae/ is measured)")
    parser.add_argument("--count", type=int, default=16, help="held-out clips for the VAE figures")
    parser.add_argument("--pipeline", action="store_true", help="also the pipeline's held frames per task")
    parser.add_argument("--pipeline-count", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from diffusers import AutoencoderKLWan

    torch.set_num_threads(args.threads)
    vae = AutoencoderKLWan.from_pretrained(args.model / "vae", use_safetensors=True).to(args.device).eval()
    report = {"model": str(args.model), "vae": vae_report(vae, args.count)}
    if args.pipeline:
        report["pipeline"] = pipeline_held_frames(args.model, args.pipeline_count, args.steps, args.device)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
