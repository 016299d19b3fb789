"""Held frames and PSNR of VAE decodes against the world's true frames, side by side, on held-out clips; and the
temporal stage's seconds per training step on this machine.

    python tests/benchmarks/bench_vae_temporal.py [--run RUN | --other MODEL] [--count 16] [--time-steps]

Compares the shipped VAE (resources/models/studio-tiny) with the one a vae_temporal run trained (``--run``,
its checkpoint) or another model folder's (``--other``, e.g. one a GPU session installed into).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from studio.embedded import vae_temporal as T  # noqa: E402
from studio.embedded import vae_training as V  # noqa: E402
from studio.embedded.checkpoint import load_checkpoint  # noqa: E402
from studio.embedded.temporal_measure import vae_report  # noqa: E402
from studio.paths import RESOURCES  # noqa: E402

MODEL = RESOURCES / "models" / "studio-tiny"
ROWS = (
    "held_frames",
    "psnr",
    "psnr_key_frames",
    "psnr_between_frames",
    "first_frame_mad",
    "mean_abs_error",
    "colour_adherence",
    "motion_adherence",
    "shape_adherence",
    "background_flicker_max",
)


def step_time(batch: int, frames: int, crop: int, steps: int = 4) -> float:
    """Median seconds of a training step (after two warm-ups) at these sizes, on a throwaway copy."""
    args = argparse.Namespace(
        model=MODEL,
        scope="temporal",
        batch=batch,
        frames=frames,
        crop=crop,
        seed=0,
        diff_weight=1.0,
        device="cpu",
    )
    return T._timed_steps(args, torch.device("cpu"), probes=steps + 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="a vae_temporal run folder")
    parser.add_argument("--other", type=Path, default=None, help="another model folder")
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time-steps", action="store_true", help="also time training steps at two sizes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    V.enable_fast_single_frames()
    cpu = torch.device("cpu")
    columns = {"shipped": vae_report(T.load_model_vae(MODEL, cpu).eval(), args.count)}
    if args.run:
        vae = T.load_model_vae(MODEL, cpu)
        vae.load_state_dict(load_checkpoint(args.run / T.CHECKPOINT)["model"])
        columns[f"run {args.run.name}"] = vae_report(vae.eval(), args.count)
    if args.other:
        columns[str(args.other)] = vae_report(T.load_model_vae(args.other, cpu).eval(), args.count)
    print(f"{args.count} held-out 17-frame clips, 64x64, {args.threads} threads")
    print(f"{'':24}" + "".join(f"{name[-22:]:>24}" for name in columns))
    for row in ROWS:
        print(f"{row:24}" + "".join(f"{report[row]:>24.3f}" for report in columns.values()))
    if args.time_steps:
        for batch, frames, crop in ((4, 9, 32), (4, 17, 0)):
            started = time.time()
            seconds = step_time(batch, frames, crop)
            print(
                f"training step, {batch} clips x {frames} frames x {crop or 64}px: {seconds:.2f} s "
                f"(measured in {time.time() - started:.0f} s)"
            )


if __name__ == "__main__":
    main()
