"""Measures the embedded model on held-out captions and seeds with plain image analysis (not the model)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.embedded.analysis import analyse
from studio.embedded.scene_analysis import at_analysis_size
from studio.embedded.world import HELD_OUT_COMBOS, ClipSpec, caption_for, eval_specs, render

FRAMES, SIZE = 17, 64
DEFAULT_GUIDANCE = 5.0
# Guide clips for video-to-video come from this offset in the evaluation seeds, apart from the t2v clips.
GUIDE_OFFSET = 50_000


@dataclass
class EvalSettings:
    """How many clips and which sampler settings an evaluation uses."""

    count: int = 32
    steps: int = 20
    draft_steps: int = 6
    guidance: float = DEFAULT_GUIDANCE
    strength: float = 0.7
    threads: int = 1
    device: str = "cpu"


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    """Pipeline 'np' output (float [T, H, W, 3] in [0, 1]) to uint8."""
    return np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)


def _summarise(specs: list[ClipSpec], videos: list[np.ndarray]) -> dict:
    colour = motion = shape = 0
    held_total = held_colour = held_motion = 0
    flicker: list[float] = []
    for spec, video in zip(specs, videos, strict=True):
        a = analyse(at_analysis_size(video))  # the analysis' thresholds are set for 64x64
        colour += a.colour == spec.colour
        motion += a.motion == spec.motion
        shape += a.shape == spec.shape
        flicker.append(a.background_flicker)
        if (spec.colour, spec.shape, spec.motion) in HELD_OUT_COMBOS:
            held_total += 1
            held_colour += a.colour == spec.colour
            held_motion += a.motion == spec.motion
    n = max(len(specs), 1)
    return {
        "clips": len(specs),
        "colour_adherence": colour / n,
        "motion_adherence": motion / n,
        "shape_adherence": shape / n,
        "background_flicker_mean": float(np.mean(flicker)) if flicker else 0.0,
        "background_flicker_max": float(np.max(flicker)) if flicker else 0.0,
        "held_out_combo_clips": held_total,
        "held_out_combo_colour": held_colour / held_total if held_total else None,
        "held_out_combo_motion": held_motion / held_total if held_total else None,
    }


def vae_reconstruction_report(vae: torch.nn.Module, count: int = 32, per_frame: bool = False) -> dict:
    """Colour/motion adherence of VAE reconstructions of real held-out clips (the VAE's own API, clamped).

    per_frame encodes every frame as its own one-frame clip: the check for the single-frame stage, whose
    temporal layers are still untrained."""
    specs = eval_specs(count)
    videos = []
    for spec in specs:
        video, _ = render(spec, FRAMES, SIZE)
        x = torch.from_numpy(video).permute(3, 0, 1, 2)[None].float().div(127.5).sub(1.0)
        if per_frame:
            x = x.permute(2, 1, 0, 3, 4)  # frames become the batch, each a one-frame clip
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mode()
            recon = vae.decode(z).sample
        if per_frame:
            recon = recon.permute(2, 1, 0, 3, 4)
        out = ((recon[0].permute(1, 2, 3, 0).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
        videos.append(out)
    report = _summarise(specs, videos)
    originals = [render(s, FRAMES, SIZE)[0].astype(np.float32) for s in specs]
    report["mean_abs_error"] = float(
        np.mean([np.abs(o - v).mean() for o, v in zip(originals, videos, strict=True)])
    )
    return report


def load_pipeline(folder: Path):  # type: ignore[no-untyped-def]
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(str(folder), use_safetensors=True)
    pipe.studio_size = clip_size(folder)
    return pipe


def clip_size(folder: Path) -> int:
    """The frame size a model folder renders at (its studio_defaults.json), 64 when it does not say."""
    defaults = Path(folder) / "studio_defaults.json"
    return int(json.loads(defaults.read_text()).get("height", SIZE)) if defaults.exists() else SIZE


def _quiet(pipe) -> None:  # type: ignore[no-untyped-def]
    pipe.set_progress_bar_config(disable=True)


def text_to_video(  # type: ignore[no-untyped-def]
    pipe, spec: ClipSpec, steps: int, guidance: float, max_sequence_length: int = 512
) -> np.ndarray:
    generator = torch.Generator().manual_seed(spec.seed)
    size = getattr(pipe, "studio_size", SIZE)
    out = pipe(
        prompt=spec.caption,
        max_sequence_length=max_sequence_length,
        height=size,
        width=size,
        num_frames=FRAMES,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=generator,
        output_type="np",
    )
    return _to_uint8(out.frames[0])


def quick_text_to_video_report(
    folder: Path, count: int = 8, steps: int = 20, guidance: float = DEFAULT_GUIDANCE
) -> dict:
    """Text-to-video figures only, on the first held-out clips: the regression test's check."""
    pipe = load_pipeline(folder)
    _quiet(pipe)
    specs = eval_specs(count)
    return _summarise(specs, [text_to_video(pipe, s, steps, guidance) for s in specs])


def evaluate_model(folder: Path, settings: EvalSettings) -> dict:
    """Text-to-video, image-to-video and video-to-video figures plus render times for one model folder."""
    from diffusers import WanImageToVideoPipeline, WanVideoToVideoPipeline
    from PIL import Image

    torch.set_num_threads(settings.threads)
    pipe = load_pipeline(folder).to(settings.device)
    _quiet(pipe)
    specs = eval_specs(settings.count)
    report: dict = {"model": str(folder), "settings": settings.__dict__.copy()}
    size = pipe.studio_size

    videos = [text_to_video(pipe, s, settings.steps, settings.guidance) for s in specs]
    report["text_to_video"] = _summarise(specs, videos)

    # Image-to-video: the first frame of the real held-out clip is the reference.
    i2v = WanImageToVideoPipeline.from_pipe(pipe)
    _quiet(i2v)
    fidelity, i2v_videos = [], []
    for spec in specs:
        real, _ = render(spec, FRAMES, size)
        generator = torch.Generator().manual_seed(spec.seed)
        out = i2v(
            image=Image.fromarray(real[0]),
            prompt=spec.caption,
            height=size,
            width=size,
            num_frames=FRAMES,
            num_inference_steps=settings.steps,
            guidance_scale=settings.guidance,
            generator=generator,
            output_type="np",
        )
        video = _to_uint8(out.frames[0])
        i2v_videos.append(video)
        fidelity.append(float(np.abs(video[0].astype(np.float32) - real[0].astype(np.float32)).mean()))
    report["image_to_video"] = _summarise(specs, i2v_videos) | {
        "first_frame_mad_mean": float(np.mean(fidelity)),
        "first_frame_mad_max": float(np.max(fidelity)),
    }

    # Video-to-video: a guide clip of one object, a prompt naming a different colour with the guide's motion;
    # the result should move as the guide does and take the prompt's colour.
    v2v = WanVideoToVideoPipeline.from_pipe(pipe)
    _quiet(v2v)
    guides = eval_specs(settings.count, offset=GUIDE_OFFSET)
    targets, v2v_videos = [], []
    from studio.embedded.world import OBJECT_COLOURS

    colours = list(OBJECT_COLOURS)
    for guide in guides:
        video, _ = render(guide, FRAMES, size)
        new_colour = colours[(colours.index(guide.colour) + 1) % len(colours)]
        target = ClipSpec(**{**guide.__dict__, "colour": new_colour})
        prompt = caption_for(new_colour, guide.shape, guide.motion, guide.background, guide.background_to)
        generator = torch.Generator().manual_seed(guide.seed)
        out = v2v(
            video=[Image.fromarray(f) for f in video],
            prompt=prompt,
            height=size,
            width=size,
            num_inference_steps=settings.steps,
            guidance_scale=settings.guidance,
            strength=settings.strength,
            generator=generator,
            output_type="np",
        )
        targets.append(target)
        v2v_videos.append(_to_uint8(out.frames[0]))
    report["video_to_video"] = _summarise(targets, v2v_videos)

    report["timing"] = time_renders(pipe, specs[0], settings)
    return report


def time_renders(pipe, spec: ClipSpec, settings: EvalSettings) -> dict:  # type: ignore[no-untyped-def]
    """Seconds per clip for the full and the draft setting (best of three, after one warm-up)."""
    result = {}
    text_to_video(pipe, spec, 2, settings.guidance)
    for length in (512, 32):
        suffix = "" if length == 512 else f"_msl{length}"
        for name, steps in (("full", settings.steps), ("draft", settings.draft_steps)):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                text_to_video(pipe, spec, steps, settings.guidance, length)
                times.append(time.perf_counter() - started)
            result[f"{name}_steps"] = steps
            result[f"{name}_seconds{suffix}"] = min(times)
    result["threads"] = torch.get_num_threads()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path, help="pipeline folder (or, with --vae, a training run folder)")
    parser.add_argument("--vae", action="store_true", help="check VAE reconstructions of real clips only")
    parser.add_argument("--per-frame", action="store_true", help="with --vae: each frame as a one-frame clip")
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--draft-steps", type=int, default=6)
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    parser.add_argument("--strength", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device for the pipelines (cpu, cuda)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.vae:
        if (args.model / "vae.json").exists():
            from studio.embedded.components import ModelSizes
            from studio.embedded.runs import load_vae

            sizes = ModelSizes(**json.loads((args.model / "sizes.json").read_text()))
            vae, _ = load_vae(args.model, sizes, torch.device("cpu"))
        else:
            from diffusers import AutoencoderKLWan

            vae = AutoencoderKLWan.from_pretrained(args.model / "vae", use_safetensors=True)
        report = vae_reconstruction_report(vae.eval(), args.count, args.per_frame)
    else:
        settings = EvalSettings(
            count=args.count,
            steps=args.steps,
            draft_steps=args.draft_steps,
            guidance=args.guidance,
            strength=args.strength,
            threads=args.threads,
            device=args.device,
        )
        report = evaluate_model(args.model, settings)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
