"""Step caching: speed and fidelity (PSNR against the uncached clip, same seed) per method and threshold.

Renders each case through studio.runtime (sample + decode) uncached and cached, side by side in one run, on
the embedded model and on a tiny random-weight Wan pipeline. 'computed' is the share of transformer passes
that ran the whole block stack (the rest reused the cache): a speed figure that does not depend on how busy
the machine is. 'speed' is uncached / cached sampling time (best of --reps).

Run on demand:  python -m tests.benchmarks.bench_step_cache [--thresholds 0.03,0.05,0.1,0.2] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EMBEDDED = Path(__file__).resolve().parents[2] / "resources" / "models" / "studio-tiny"
PROMPTS = ("a red circle moves left on a black background", "a blue square moves right on a white background")


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


class TailCounter:
    """Counts passes through the last block's feed-forward: the part a cached step skips."""

    def __init__(self, transformer) -> None:
        self.count = 0
        blocks = transformer.transformer_blocks if hasattr(transformer, "transformer_blocks") else transformer.blocks
        last = blocks[-1]
        inner = getattr(last, "ffn", None) or getattr(last, "ff", None) or last
        inner.register_forward_hook(self._hook)

    def _hook(self, *_args) -> None:
        self.count += 1


def deeper_tiny(family: str, folder: Path, layers: int = 4, seed: int = 0) -> Path:
    """A tiny random-weight pipeline whose transformer has ``layers`` blocks (the stock tiny one has one, and a
    first-block cache needs blocks after the first to skip)."""
    import json

    import diffusers
    import torch

    from studio.runtime.tiny import build_tiny_pipeline

    build_tiny_pipeline(family, folder, seed=seed)
    config = json.loads((folder / "transformer" / "config.json").read_text())
    config["num_layers"] = layers
    transformer_class = getattr(diffusers, config["_class_name"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        transformer = transformer_class.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    transformer.eval().save_pretrained(folder / "transformer", safe_serialization=True)
    return folder


def render(model, embeds, request, reps: int):
    from studio import runtime

    best = math.inf
    for _ in range(reps):
        started = time.perf_counter()
        latents = runtime.sample(model, embeds, request)
        best = min(best, time.perf_counter() - started)
    return runtime.decode(model, latents), best


def bench_model(label: str, source: str, thresholds, seeds, reps: int, steps: int | None) -> list[dict]:
    from dataclasses import replace

    from studio import runtime

    model = runtime.load_model(source)
    d = model.defaults
    counter = TailCounter(model.pipe.transformer)
    rows = []
    for prompt in PROMPTS:
        embeds = runtime.encode_prompt(model, prompt, "", d["guidance"])
        for seed in seeds:
            base_request = runtime.VideoRequest(
                num_frames=d["num_frames"], height=d["height"], width=d["width"], steps=steps or d["steps"],
                guidance=d["guidance"], seed=seed, preview=False)
            counter.count = 0
            base, base_time = render(model, embeds, base_request, reps)
            full = counter.count
            for threshold in thresholds:
                counter.count = 0
                request = replace(base_request, speed=f"first_block@{threshold:g}")
                frames, cached_time = render(model, embeds, request, reps)
                rows.append(dict(model=label, threshold=threshold, prompt=prompt, seed=seed,
                                 psnr=psnr(base, frames), speed=base_time / cached_time,
                                 computed=counter.count / full))
    return rows


def summarise(rows: list[dict]) -> None:
    print(f"{'model':<10} {'method':<12} {'thresh':>6} {'speed':>6} {'computed':>8} {'PSNR mean':>9} {'PSNR min':>8}")
    keys = sorted({(r["model"], r["threshold"]) for r in rows})
    for label, threshold in keys:
        group = [r for r in rows if r["model"] == label and r["threshold"] == threshold]
        finite = [min(r["psnr"], 99.0) for r in group]  # an identical clip counts as 99 dB
        speed = sum(r["speed"] for r in group) / len(group)
        computed = sum(r["computed"] for r in group) / len(group)
        print(f"{label:<10} {'first_block':<12} {threshold:>6g} {speed:>5.2f}x {computed:>7.0%} "
              f"{sum(finite) / len(finite):>8.1f} {min(finite):>8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--thresholds", default="0.03,0.05,0.08,0.1,0.15,0.2")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-tiny", action="store_true")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)  # 1: a busy 2-core machine made more threads slower and noisier
    thresholds = [float(t) for t in args.thresholds.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = bench_model("embedded", str(EMBEDDED), thresholds, seeds, args.reps, None)
    summarise(rows)
    if not args.skip_tiny:
        with tempfile.TemporaryDirectory() as folder:
            tiny = deeper_tiny("wan", Path(folder) / "tiny-wan")
            # 20 steps like the embedded model's default, so the two tables compare
            summarise(bench_model("tiny-wan", str(tiny), thresholds, seeds, args.reps, 20))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
