"""Core figures: streaming overhead (bare pipeline vs engine with previews) and seed-change vs cold render.

Run on demand:  python -m tests.benchmarks.bench_core [--frames 17 --size 64 --steps 10 --reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_graph(registry, model_dir: Path, frames: int, size: int, steps: int, seed: int):
    from tests.graphs import text_to_video

    return text_to_video(registry, model_dir, frames=frames, size=size, steps=steps, seed=seed, fps=16.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="a pipeline folder (default: a tiny random Wan built here)")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    import torch

    from studio.engine import Engine, NodeProgress
    from studio.graph import NodeRegistry

    model_dir = Path(args.model) if args.model else None
    if model_dir is None:
        from studio.runtime.tiny import build_tiny_pipeline

        model_dir = build_tiny_pipeline("wan", Path(tempfile.mkdtemp()) / "tiny-wan")
    registry = NodeRegistry.default()
    prompt = "a red circle moves left"

    # 1. streaming overhead: the same pipeline object, same seed and steps, bare vs through the engine
    engine = Engine(registry)
    graph = build_graph(registry, model_dir, args.frames, args.size, args.steps, seed=3)
    engine.run(graph, targets=["model"])  # load once; both sides then use the loaded pipeline
    model = engine.run(graph, targets=["model"]).outputs["model"]["model"]
    pipe = model.task_pipeline("t2v")
    bare, through = [], []
    previews = 0

    def count(event):
        nonlocal previews
        if isinstance(event, NodeProgress) and event.preview is not None:
            previews += 1

    for _ in range(args.reps):
        t0 = time.perf_counter()
        pipe(prompt=prompt, negative_prompt="", num_frames=args.frames, height=args.size, width=args.size,
             num_inference_steps=args.steps, guidance_scale=5.0,
             generator=torch.Generator("cpu").manual_seed(3), output_type="np")
        bare.append(time.perf_counter() - t0)
        # forget the generate node and its memos (prompt encode included, as the bare call encodes too)
        engine.cache.clear()
        engine.run(graph, targets=["model"])
        t0 = time.perf_counter()
        engine.run(graph, listener=count)
        through.append(time.perf_counter() - t0)
    mb, mt = statistics.median(bare), statistics.median(through)
    print(f"streaming overhead ({args.frames}x{args.size}x{args.size}, {args.steps} steps, {args.reps} reps):")
    print(f"  bare pipeline   median {mb * 1000:.0f} ms")
    print(f"  engine+preview  median {mt * 1000:.0f} ms  ({previews // args.reps} previews per run)")
    print(f"  ratio {mt / mb:.3f}  (target <= 1.03)")

    # 2. re-render after a seed change vs a cold render (fresh engine: model load + encode + sample)
    cold, warm = [], []
    for rep in range(args.reps):
        fresh = Engine(registry)
        g = build_graph(registry, model_dir, args.frames, args.size, args.steps, seed=100 + rep)
        t0 = time.perf_counter()
        fresh.run(g)
        cold.append(time.perf_counter() - t0)
        g.set_param("generate", "seed", 200 + rep)
        t0 = time.perf_counter()
        r = fresh.run(g)
        warm.append(time.perf_counter() - t0)
        assert sorted(r.cached) == ["model", "text"], r.cached
    mc, mw = statistics.median(cold), statistics.median(warm)
    print("seed change vs cold render:")
    print(f"  cold (load + encode + sample + decode)  median {mc * 1000:.0f} ms")
    print(f"  seed change (sample + decode)           median {mw * 1000:.0f} ms")
    print(f"  ratio {mw / mc:.3f}")


if __name__ == "__main__":
    main()
