"""Directing figures: camera adherence per steering method, and the speed of audio analysis, warps and the estimator.

Run on demand:
  python tests/benchmarks/bench_directing.py adherence [--source embedded] [--size 64] [--frames 17] [--steps 20]
                                                      [--picture] [--seeds 2] [--strengths 0.5,0.7,0.9]
  python tests/benchmarks/bench_directing.py speed
Adherence renders each camera preset with no guidance, a v2v guide clip (at several strengths) and warped
noise, and reports the mean error in pixels per frame between the measured and the requested motion.
On the random-weight placeholder the figures only show that the harness runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

PRESETS = ("pan_left", "pan_right", "tilt_up", "zoom_in", "dolly_out")
PROMPT = "a red circle on a gray background"


def disc_picture(size: int) -> np.ndarray:
    """A red disc on grey, drawn like the embedded model's world: the first frame for i2v and the guide."""
    import cv2

    picture = np.full((size, size, 3), 128, np.uint8)
    cv2.circle(picture, (size // 2, size // 2), size // 6, (225, 30, 30), -1, lineType=cv2.LINE_AA)
    return picture


def adherence(source: str, size: int, frames: int, steps: int, fps: float, seeds: int, strengths: list[float],
              amount: float, picture: bool = False, presets: tuple[str, ...] = PRESETS, stride: int = 1) -> dict:
    from studio.directing.camera import build_path
    from studio.directing.motion import adherence as measure
    from studio.runtime import LoadOptions, load_model
    from studio.runtime.recipes.steering import render_along

    model = load_model(source, LoadOptions())
    methods = [("none", None), ("noise", None)] + [("guide", s) for s in strengths]
    rows = []
    for preset in presets:
        track = build_path(preset, amount=amount).track(frames, fps)
        for method, strength in methods:
            errors, requested, agree, seconds = [], [], [], []
            for seed in range(seeds):
                start = time.perf_counter()
                clip = render_along(model, PROMPT, track, method, width=size, height=size, steps=steps,
                                    guidance=5.0, seed=seed, strength=strength or 0.7,
                                    picture=disc_picture(size) if picture else None)
                seconds.append(time.perf_counter() - start)
                result = measure(clip, track, stride=stride)
                errors.append(result.mean_error_px)
                requested.append(result.requested_px)
                agree.append(result.direction_agreement)
            rows.append({"preset": preset, "method": method if strength is None else f"guide@{strength}",
                         "error_px_per_frame": round(float(np.mean(errors)), 3),
                         "requested_px_per_frame": round(float(np.mean(requested)), 3),
                         "direction_agreement": round(float(np.mean(agree)), 3),
                         "seconds_per_clip": round(float(np.median(seconds)), 2)})
            print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for row in rows:
        summary.setdefault(row["method"], []).append(row["error_px_per_frame"])
    return {"model": model.name, "placeholder": model.is_placeholder, "picture": picture, "stride": stride,
            "size": size,
            "frames": frames,
            "steps": steps, "seeds": seeds, "rows": rows,
            "mean_error_by_method": {k: round(float(np.mean(v)), 3) for k, v in summary.items()}}


def speed() -> dict:
    import soundfile as sf

    from studio.directing.camera import build_path
    from studio.directing.motion import adherence as measure
    from studio.directing.warp import guide_clip, warped_noise
    from studio.media.audio import analyse, load_audio

    out = {}
    rate, seconds = 44_100, 180.0
    t = np.arange(int(rate * seconds)) / rate
    music = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * (np.mod(t, 0.5) < 0.05))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("wav", "mp3"):
            path = Path(tmp) / f"song.{fmt}"
            sf.write(str(path), np.stack([music, music], 1), rate)
            start = time.perf_counter()
            sound = load_audio(path)
            loaded = time.perf_counter() - start
            start = time.perf_counter()
            result = analyse(sound, 24.0)
            analysed = time.perf_counter() - start
            out[f"audio_{fmt}_3min"] = {"load_s": round(loaded, 3), "analyse_s": round(analysed, 3),
                                        "x_realtime": round(seconds / (loaded + analysed), 1),
                                        "tempo": round(result.tempo, 1), "beats": len(result.beats)}
    rng = np.random.default_rng(0)
    import cv2

    picture = cv2.resize(rng.integers(0, 256, (120, 208, 3), dtype=np.uint8), (832, 480))
    track = build_path("orbit_right", amount=0.3, parallax=0.5).track(81, 16)
    start = time.perf_counter()
    clip = guide_clip(picture, track)
    out["guide_warp_parallax_81x480x832_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    guide_clip(picture, build_path("orbit_right", amount=0.3).track(81, 16))
    out["guide_warp_flat_81x480x832_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    warped_noise(track, 48, 21, 30, 52, 4, seed=0)
    out["noise_warp_wan22_latents_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    flat = build_path("pan_left", amount=0.3).track(81, 16)
    measure(guide_clip(picture, flat), flat)
    out["warp_plus_estimate_81x480x832_s"] = round(time.perf_counter() - start, 3)
    del clip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("adherence", "speed"))
    parser.add_argument("--source", default="embedded")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--fps", type=float, default=16.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--amount", type=float, default=0.3)
    parser.add_argument("--strengths", default="0.5,0.7,0.9")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--stride", type=int, default=1,
                        help="compare every n-th frame (4 for the embedded model, which holds each latent frame)")
    parser.add_argument("--picture", action="store_true",
                        help="start from a red-disc picture (i2v for none/noise, the guide's source) instead of text")
    args = parser.parse_args()
    if args.what == "speed":
        print(json.dumps(speed(), indent=2))
    else:
        strengths = [float(s) for s in args.strengths.split(",") if s]
        report = adherence(args.source, args.size, args.frames, args.steps, args.fps, args.seeds, strengths,
                           args.amount, args.picture, tuple(p for p in args.presets.split(",") if p),
                           args.stride)
        print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
