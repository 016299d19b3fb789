"""Trains the embedded model in resumable stages: VAE on frames, VAE on clips, latent cache, transformer.

The command line only: the stages live in vae_stages and dit_training, what they share in runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from studio.embedded import components as C
from studio.embedded import vae_training as V
from studio.embedded.runs import log, open_run
from studio.embedded.vae_stages import finetune_vae_frames, train_vae_stage

STAGES = ("vae1", "vae2", "vae3", "latents", "dit", "export")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="")
    parser.add_argument("--vae-lr", type=float, default=1e-3)
    parser.add_argument("--vae1-steps", type=int, default=1450, help="single-frame steps in all")
    parser.add_argument("--vae1-full-steps", type=int, default=400, help="of which the last on whole frames")
    parser.add_argument("--vae1-full-batch", type=int, default=8)
    parser.add_argument("--vae1-batch", type=int, default=32)
    parser.add_argument("--vae1-crop", type=int, default=32, help="0 trains on whole frames")
    parser.add_argument(
        "--vae2-steps",
        type=int,
        default=0,
        help="clip steps after the temporal init (0: the init alone, as shipped)",
    )
    parser.add_argument("--vae2-batch", type=int, default=4)
    parser.add_argument("--vae2-frames", type=int, default=9, help="clip length (with a crop; else 9 and 17)")
    parser.add_argument("--vae2-crop", type=int, default=32, help="0 trains on whole frames")
    parser.add_argument("--vae3-steps", type=int, default=0, help="whole-frame fine-tune steps (0: none)")
    parser.add_argument("--vae3-batch", type=int, default=64)
    parser.add_argument("--vae3-lr", type=float, default=2e-4)
    parser.add_argument("--vae3-minutes", type=float, default=60.0)
    parser.add_argument(
        "--workers", type=int, default=0, help="processes drawing world clips (0: in-process)"
    )
    parser.add_argument("--latent-clips", type=int, default=3000)
    parser.add_argument("--latent-minutes", type=float, default=10.0, help="time budget for encoding clips")
    parser.add_argument("--dit-steps", type=int, default=4000)
    parser.add_argument("--dit-batch", type=int, default=32)
    parser.add_argument("--dit-lr", type=float, default=5e-4)
    parser.add_argument(
        "--dit-minutes", type=float, default=0.0, help="stop the transformer after this (0: no limit)"
    )
    parser.add_argument("--dit-schedule", choices=("constant", "cosine"), default="constant")
    parser.add_argument(
        "--sizes",
        default="",
        help="JSON of ModelSizes fields for a new run (e.g. '{\"dit_layers\": 8}'); a run keeps its sizes.json",
    )
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--check-vae", action="store_true", help="reconstruction check after stage 1 too")
    parser.add_argument("--check-clips", type=int, default=32)
    parser.add_argument("--export", type=Path, default=None, help="also write the pipeline folder here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = open_run(args.out, args.resume)
    sizes_file = out / "sizes.json"
    if sizes_file.exists():
        sizes = C.ModelSizes(**json.loads(sizes_file.read_text()))
    else:
        sizes = C.ModelSizes(**(json.loads(args.sizes) if args.sizes else {}))
        sizes_file.write_text(json.dumps(sizes.to_dict(), indent=2) + "\n")
    V.enable_fast_single_frames()
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    for stage in STAGES:
        if stage not in wanted:
            continue
        started = time.time()
        if stage in ("vae1", "vae2"):
            train_vae_stage(args, out, sizes, stage)
        elif stage == "vae3":
            finetune_vae_frames(args, out, sizes)
        else:
            from studio.embedded import dit_training as D

            D.run_stage(stage, args, out, sizes)
        log(out, f"{stage} finished in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
