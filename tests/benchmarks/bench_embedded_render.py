"""Render time of the embedded model: full (20 steps) and draft settings, per thread count, denoise vs decode.

Run on demand:  python -m tests.benchmarks.bench_embedded_render [--model resources/models/studio-tiny --reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "studio-tiny"
PROMPT = "a red circle moves left on a black background"


def time_one(pipe, steps: int, max_sequence_length: int, reps: int) -> dict:  # type: ignore[no-untyped-def]
    import torch

    args = dict(
        prompt=PROMPT,
        height=64,
        width=64,
        num_frames=17,
        num_inference_steps=steps,
        guidance_scale=5.0,
        max_sequence_length=max_sequence_length,
        generator=torch.Generator().manual_seed(0),
    )
    pipe(**{**args, "num_inference_steps": 1}, output_type="latent")
    best = {"total": float("inf"), "denoise": float("inf"), "decode": float("inf")}
    for _ in range(reps):
        started = time.perf_counter()
        latents = pipe(**args, output_type="latent").frames
        denoised = time.perf_counter()
        mean = torch.tensor(pipe.vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(pipe.vae.config.latents_std).view(1, -1, 1, 1, 1)
        with torch.no_grad():
            pipe.vae.decode(latents * std + mean)
        done = time.perf_counter()
        best["total"] = min(best["total"], done - started)
        best["denoise"] = min(best["denoise"], denoised - started)
        best["decode"] = min(best["decode"], done - denoised)
    return {k: round(v, 3) for k, v in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--draft-steps", type=int, default=6)
    args = parser.parse_args()

    import torch
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(str(args.model), use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    results = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for steps in (20, args.draft_steps):
            for length in (512, 32):
                row = {"threads": threads, "steps": steps, "max_sequence_length": length}
                row |= time_one(pipe, steps, length, args.reps)
                results.append(row)
                print(json.dumps(row), flush=True)
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
