"""How fast the richer world draws and reads clips, per condition and size (run on demand, not a test).

The GPU training script draws its data in worker processes; this says how many workers keep a GPU fed, and how
long the evaluator's analysis takes per clip.

    python tests/benchmarks/bench_world.py [--count 16]
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    from studio.embedded import scenes as S
    from studio.embedded.scene_evaluate import score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=16)
    args = parser.parse_args(argv)
    print(f"{'condition':>12} {'size':>5} {'draw ms/clip':>13} {'key frames ms':>14} {'score ms/clip':>14}")
    for condition in S.CONDITIONS:
        specs = S.eval_scenes(condition, args.count)
        for size in (64, 128):
            started = time.perf_counter()
            videos = [S.render_scene(s, 17, size)[0] for s in specs]
            draw = (time.perf_counter() - started) / len(specs) * 1000
            started = time.perf_counter()
            for s in specs:
                S.render_scene(s, 17, size, only=[0, 4, 8, 12, 16])
            keys = (time.perf_counter() - started) / len(specs) * 1000
            started = time.perf_counter()
            for s, v in zip(specs, videos, strict=True):
                score(s, v)
            scored = (time.perf_counter() - started) / len(specs) * 1000
            print(f"{condition:>12} {size:>5} {draw:>13.1f} {keys:>14.1f} {scored:>14.1f}")


if __name__ == "__main__":
    main()
