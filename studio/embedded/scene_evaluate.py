"""Per-condition figures of a model (or of the world's own clips) on the richer world, and the quality floor.

    python -m studio.embedded.scene_evaluate MODEL_FOLDER [--count 16] [--device cuda] [--json FILE]
    python -m studio.embedded.scene_evaluate --truth [--count 32] [--size 128]   the world's clips: ~100%
    python -m studio.embedded.scene_evaluate --truth --scrambled                 captions swapped: low

Conditions (``scenes.CONDITIONS``): base (the old world, read by ``analysis.analyse`` as the shipped figures
are), textured, camera, two_objects (read by ``scene_analysis``). Per condition: colour, shape and motion
adherence; camera-move accuracy; whether a texture was drawn (textured and camera clips); for two objects, both colours present and each object's own motion. For a
model also: image-to-video (base captions, the true first frame as reference), held frames of its base clips,
and draft agreement (the draft's colour, shape and motion equal the final's). Sizes, frame counts and draft
settings come from the folder's studio_defaults.json; every clip is read at 64x64.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.embedded import scenes as S
from studio.embedded.analysis import analyse
from studio.embedded.scene_analysis import MIN_TEXTURE, analyse_scene, at_analysis_size

# The quality floor. held_frames and first_frame_mad are ceilings; the rest are floors.
FLOOR = {"colour": 0.95, "motion": 0.90, "shape": 0.80, "first_frame_mad": 4.0, "held_frames": 0.05,
         "draft_agreement": 0.90, "camera": 0.80, "two_objects": 0.80}
CEILINGS = ("first_frame_mad", "held_frames")


@dataclass
class Settings:
    count: int = 16
    steps: int = 20
    guidance: float = 5.0
    batch: int = 8
    device: str = "cpu"
    threads: int = 1
    conditions: tuple[str, ...] = S.CONDITIONS


def score(spec: S.SceneSpec, video: np.ndarray) -> dict[str, bool]:
    """What a clip gets right about its caption. Base clips are read as the shipped figures are."""
    video = at_analysis_size(video)
    if spec.condition == "base":
        seen = analyse(video)
        obj = spec.objects[0]
        return {"colour": seen.colour == obj.colour, "shape": seen.shape == obj.shape,
                "motion": seen.motion == obj.motion}
    seen = analyse_scene(video)
    figures = {"camera": seen.camera == spec.camera}
    if spec.condition in ("textured", "camera"):
        figures["texture"] = seen.texture >= MIN_TEXTURE  # a texture drawn at all (not which one)
    if len(spec.objects) == 1:
        obj = spec.objects[0]
        main = seen.objects[0] if seen.objects else None
        track = seen.tracks.get(obj.colour)
        figures |= {"colour": main is not None and main.colour == obj.colour,
                    "shape": track is not None and track.shape == obj.shape,
                    "motion": track is not None and track.motion == obj.motion}
    else:
        tracks = [seen.tracks.get(o.colour) for o in spec.objects]
        colours = all(t is not None for t in tracks)
        motions = [t is not None and t.motion == o.motion for t, o in zip(tracks, spec.objects, strict=True)]
        shapes = [t is not None and t.shape == o.shape for t, o in zip(tracks, spec.objects, strict=True)]
        figures |= {"colour": colours, "shape": all(shapes), "motion": all(motions),
                    "two_objects": colours and all(motions)}
    return figures


def summarise(specs: list[S.SceneSpec], videos: list[np.ndarray]) -> dict:
    scores = [score(s, v) for s, v in zip(specs, videos, strict=True)]
    keys = list(dict.fromkeys(k for s in scores for k in s))
    return {"clips": len(specs)} | {k: float(np.mean([s[k] for s in scores if k in s])) for k in keys}


def truth_report(count: int, size: int = 64, frames: int = 17, scrambled: bool = False) -> dict:
    """The figures of the world's own clips (a check of the evaluator: near 100%), or with every clip paired
    with the next clip's caption (``scrambled``: near chance)."""
    report = {}
    for condition in S.CONDITIONS:
        specs = S.eval_scenes(condition, count)
        videos = [S.render_scene(s, frames, size)[0] for s in specs]
        if scrambled:
            videos = videos[1:] + videos[:1]
        report[condition] = summarise(specs, videos)
    return report


# ---- a model


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)


def _defaults(folder: Path) -> dict:
    path = Path(folder) / "studio_defaults.json"
    return json.loads(path.read_text()) if path.exists() else {}


def text_to_video(pipe, specs: list[S.SceneSpec], shape: dict, steps: int, guidance: float,  # type: ignore[no-untyped-def]
                  batch: int) -> list[np.ndarray]:
    """Clips for the captions, ``batch`` at a time; each clip's noise comes from its own seed, as alone."""
    import torch

    videos: list[np.ndarray] = []
    for first in range(0, len(specs), batch):
        part = specs[first:first + batch]
        out = pipe(prompt=[s.caption for s in part], max_sequence_length=shape["max_sequence_length"],
                   height=shape["size"], width=shape["size"], num_frames=shape["frames"],
                   num_inference_steps=steps, guidance_scale=guidance, output_type="np",
                   generator=[torch.Generator().manual_seed(s.seed) for s in part])
        videos += [_to_uint8(v) for v in out.frames]
    return videos


def model_report(folder: Path, settings: Settings) -> dict:
    """Per-condition text-to-video figures, image-to-video, held frames and draft agreement of a model folder."""
    import torch
    from diffusers import DiffusionPipeline, WanImageToVideoPipeline
    from PIL import Image

    from studio.embedded.temporal_measure import held_share

    torch.set_num_threads(settings.threads)
    defaults = _defaults(folder)
    shape = {"size": int(defaults.get("height", 64)), "frames": int(defaults.get("num_frames", 17)),
             "max_sequence_length": int(defaults.get("max_sequence_length", 32))}
    pipe = DiffusionPipeline.from_pretrained(str(folder), use_safetensors=True).to(settings.device)
    pipe.set_progress_bar_config(disable=True)
    report: dict = {"model": str(folder), "settings": settings.__dict__ | {"conditions": list(settings.conditions)},
                    "size": shape["size"], "frames": shape["frames"], "conditions": {}}
    started = time.perf_counter()
    base_specs, base_videos = [], []
    for condition in settings.conditions:
        specs = S.eval_scenes(condition, settings.count)
        videos = text_to_video(pipe, specs, shape, settings.steps, settings.guidance, settings.batch)
        report["conditions"][condition] = summarise(specs, videos)
        if condition == "base":
            base_specs, base_videos = specs, videos
    report["seconds_text_to_video"] = time.perf_counter() - started
    if not base_specs:
        return report
    truths = [S.render_scene(s, shape["frames"], shape["size"])[0] for s in base_specs]
    report["held_frames"] = held_share(base_videos, truths)

    draft_steps = int(defaults.get("draft_num_inference_steps", 6))
    draft_guidance = float(defaults.get("draft_guidance_scale", 3.0))
    drafts = text_to_video(pipe, base_specs, shape, draft_steps, draft_guidance, settings.batch)
    agree = []
    for final, draft in zip(base_videos, drafts, strict=True):
        a, b = analyse(at_analysis_size(final)), analyse(at_analysis_size(draft))
        agree.append((a.colour, a.shape, a.motion) == (b.colour, b.shape, b.motion))
    report["draft_agreement"] = float(np.mean(agree))
    report["draft"] = {"steps": draft_steps, "guidance": draft_guidance}

    i2v = WanImageToVideoPipeline.from_pipe(pipe)
    i2v.set_progress_bar_config(disable=True)
    errors, i2v_videos = [], []
    for spec, real in zip(base_specs, truths, strict=True):
        out = i2v(image=Image.fromarray(real[0]), prompt=spec.caption, height=shape["size"], width=shape["size"],
                  num_frames=shape["frames"], num_inference_steps=settings.steps, guidance_scale=settings.guidance,
                  max_sequence_length=shape["max_sequence_length"],
                  generator=torch.Generator().manual_seed(spec.seed), output_type="np")
        video = _to_uint8(out.frames[0])
        i2v_videos.append(video)
        errors.append(float(np.abs(video[0].astype(np.float32) - real[0].astype(np.float32)).mean()))
    report["image_to_video"] = summarise(base_specs, i2v_videos) | {
        "first_frame_mad": float(np.mean(errors)), "first_frame_mad_max": float(np.max(errors))}
    report["floor"] = floor_check(report)
    report["seconds"] = time.perf_counter() - started
    return report


def figures(report: dict) -> dict[str, float]:
    """The floor's figures from a model report: base text-to-video adherence, the others' camera and
    two-object accuracy, i2v first-frame error, held frames and draft agreement (absent ones left out)."""
    conditions = report.get("conditions", {})
    out: dict[str, float] = {}
    base = conditions.get("base")
    if base:
        out |= {k: base[k] for k in ("colour", "motion", "shape")}
    if "camera" in conditions:
        out["camera"] = conditions["camera"]["camera"]
    if "two_objects" in conditions:
        out["two_objects"] = conditions["two_objects"]["two_objects"]
    if "image_to_video" in report:
        out["first_frame_mad"] = report["image_to_video"]["first_frame_mad"]
    for key in ("held_frames", "draft_agreement"):
        if key in report:
            out[key] = report[key]
    return out


def floor_check(report: dict) -> dict:
    """Each floor figure with its target and whether it is met; ``passed`` only when all are measured and met."""
    found = figures(report)
    checks = {}
    for key, target in FLOOR.items():
        value = found.get(key)
        met = value is not None and (value < target if key in CEILINGS else value >= target)
        checks[key] = {"value": value, "target": target, "met": met}
    return {"passed": all(c["met"] for c in checks.values()), "checks": checks}


def _print(report: dict) -> None:
    for condition, part in report.get("conditions", report).items():
        if isinstance(part, dict) and "clips" in part:
            shown = ", ".join(f"{k} {v:.0%}" for k, v in part.items() if k != "clips")
            print(f"{condition:>12} ({part['clips']} clips): {shown}")
    if "floor" in report:
        for key, check in report["floor"]["checks"].items():
            value = "not measured" if check["value"] is None else f"{check['value']:.3f}"
            print(f"  floor {key}: {value} (target {check['target']}) {'met' if check['met'] else 'NOT met'}")
        print("floor passed" if report["floor"]["passed"] else "floor NOT passed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, nargs="?", help="a model folder (or --truth)")
    parser.add_argument("--truth", action="store_true", help="score the world's own clips (checks the evaluator)")
    parser.add_argument("--scrambled", action="store_true", help="with --truth: each clip with another's caption")
    parser.add_argument("--size", type=int, default=64, help="with --truth: frame size")
    parser.add_argument("--count", type=int, default=16, help="clips per condition")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=8, help="clips per pipeline call")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--conditions", default=",".join(S.CONDITIONS))
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.truth:
        report = truth_report(args.count, args.size, scrambled=args.scrambled)
    elif args.model is None:
        raise SystemExit("name a model folder, or pass --truth")
    else:
        conditions = tuple(c for c in args.conditions.split(",") if c)
        unknown = [c for c in conditions if c not in S.CONDITIONS]
        if unknown:
            raise SystemExit(f"unknown condition(s) {', '.join(unknown)}: choose from {', '.join(S.CONDITIONS)}")
        report = model_report(args.model, Settings(args.count, args.steps, args.guidance, args.batch, args.device,
                                                   args.threads, conditions))
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
