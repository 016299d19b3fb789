"""Draft agreement on the embedded model, run on demand (not a test): does a few-step draft show the final?

For held-out captions and seeds of the embedded world, renders the final (20 steps, guidance 5) and drafts at
several step and guidance settings, then reads colour, shape, motion and the object's first position with
the world's evaluator. Prints, per setting, the adherence to the caption and the agreement with the final.

    OMP_NUM_THREADS=1 python -m tests.directing.draft_agreement --count 12 --drafts 6:5,6:3,8:3
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    import torch

    from studio.embedded.analysis import analyse
    from studio.embedded.evaluate import _quiet, _to_uint8, load_pipeline
    from studio.embedded.world import eval_specs
    from studio.runtime.loading import embedded_folder

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=12, help="held-out clips")
    parser.add_argument("--final", default="20:5", help="steps:guidance of the final")
    parser.add_argument("--drafts", default="6:5,6:3", help="steps:guidance of each draft setting")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    pipe = load_pipeline(embedded_folder())
    _quiet(pipe)
    specs = eval_specs(args.count)

    def render(setting: str) -> list:
        steps, guidance = setting.split(":")
        out = []
        for spec in specs:
            frames = pipe(prompt=spec.caption, max_sequence_length=32, height=64, width=64, num_frames=17,
                          num_inference_steps=int(steps), guidance_scale=float(guidance),
                          generator=torch.Generator().manual_seed(spec.seed), output_type="np").frames[0]
            out.append(analyse(_to_uint8(frames)))
        return out

    started = time.perf_counter()
    final = render(args.final)
    print(f"final {args.final}: {time.perf_counter() - started:.1f} s")
    for setting in [args.final, *args.drafts.split(",")]:
        seen = final if setting == args.final else render(setting)
        said = [(a.colour == s.colour, a.motion == s.motion, a.shape == s.shape) for a, s in zip(seen, specs, strict=True)]
        agree = [(a.colour, a.shape, a.motion) == (f.colour, f.shape, f.motion) for a, f in zip(seen, final, strict=True)]
        moved = [float(np.hypot(*np.subtract(a.centroids[0] or (0, 0), f.centroids[0] or (0, 0))))
                 for a, f in zip(seen, final, strict=True)]
        colour, motion, shape = np.mean(said, axis=0)
        print(f"{setting:>6}: colour {colour:.2f} motion {motion:.2f} shape {shape:.2f} | agreement with the final "
              f"(colour, shape, motion) {np.mean(agree):.2f}, first position {np.mean(moved):.1f} px apart")


if __name__ == "__main__":
    main()
