"""Preview overhead: a bare tiny pipeline call against sample() with whole-clip previews on.

Run on demand: python tests/benchmarks/bench_runtime_preview.py [--family wan] [--steps 20] [--repeats 7]
Same pipeline, seed, steps and prompt embeddings; the two are interleaved so machine load hits both alike.

With --embedded: the embedded model's shipped preview decoder against its colour map and a denoising step,
per call on the clip's real final latents, interleaved in rounds (the best round counts: load only adds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def measure(family: str, steps: int, repeats: int, threads: int) -> dict:
    import torch

    from studio.runtime import VideoRequest, decode, encode_prompt, load_model, sample
    from studio.runtime.tiny import build_tiny_pipeline

    torch.set_num_threads(threads)
    folder = build_tiny_pipeline(family, Path(tempfile.mkdtemp(prefix="bench-runtime-")) / family)
    model = load_model(str(folder))
    embeds = encode_prompt(model, "a red ball rolling on grass", "", guidance=3.0)
    request = VideoRequest(num_frames=9, height=32, width=32, steps=steps, guidance=3.0, seed=0)
    pipe = model.task_pipeline("t2v")
    bare_kwargs = dict(embeds.tensors, height=32, width=32, num_frames=9, num_inference_steps=steps)
    bare_kwargs.update(guidance_scale=3.0, output_type="latent")
    if family == "ltx":
        bare_kwargs["frame_rate"] = model.defaults["fps"]

    def bare() -> None:
        pipe(**bare_kwargs, generator=torch.Generator().manual_seed(0))

    previews = []

    def studio() -> None:
        sample(model, embeds, request, on_step=lambda u: previews.append(u.preview))

    # Warm up both (and fit the preview projection once, as the first real run would).
    bare()
    studio()
    timings: dict[str, list[float]] = {"bare": [], "studio": []}
    for _ in range(repeats):
        for name, run in (("bare", bare), ("studio", studio)):
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    # The preview step alone, many times: robust to machine load where end-to-end medians are not.
    from studio.runtime import families, sampling

    geo = families.geometry(model.spec, pipe)
    dims = (geo.latent_frames(9), 32 // geo.spatial, 32 // geo.spatial)
    renderer = sampling._renderer(model, geo, dims, 9)
    latents = sample(model, embeds, request)
    step_latents = latents.tensor
    if family == "ltx":  # what the callback sees: packed tokens
        step_latents = step_latents.permute(0, 2, 3, 4, 1).reshape(1, -1, step_latents.shape[1])
    elif family == "cogvideox":
        step_latents = step_latents.permute(0, 2, 1, 3, 4)
    start = time.perf_counter()
    for _ in range(1000):
        renderer(families.canonical_latents(model.spec, step_latents[:1], dims)[0])
    preview_step = (time.perf_counter() - start) / 1000
    start = time.perf_counter()
    for _ in range(3):
        decode(model, latents)
    full_decode = (time.perf_counter() - start) / 3
    bare_median = statistics.median(timings["bare"])
    studio_median = statistics.median(timings["studio"])
    return {
        "family": family,
        "bare_s": bare_median,
        "studio_s": studio_median,
        "ratio": studio_median / bare_median,
        "per_step_ms": 1000 * (studio_median - bare_median) / steps,
        "preview_step_us": preview_step * 1e6,
        "preview_share": preview_step * steps / bare_median,
        "full_decode_s": full_decode,
        "decode_every_step_ratio": (bare_median + steps * full_decode) / bare_median,
        "preview_shape": previews[-1].shape,
    }


def measure_embedded(steps: int, repeats: int, threads: int, calls: int = 50) -> dict:
    import torch

    from studio.runtime import VideoRequest, decode, encode_prompt, load_model, sample, sampling
    from studio.runtime import preview as P

    torch.set_num_threads(threads)
    model = load_model("embedded")
    embeds = encode_prompt(model, "a red square moves right on a gray background", "", 5.0)
    request = VideoRequest(num_frames=17, height=64, width=64, steps=steps, guidance=5.0, seed=0)
    pipe = model.task_pipeline("t2v")
    geo = sampling.families.geometry(model.spec, pipe)
    dims = (geo.latent_frames(17), 8, 8)
    decoder = sampling._renderer(model, geo, dims, 17)
    assert isinstance(decoder, P.DecoderRenderer), "the embedded model ships no preview decoder"
    cfg = pipe.vae.config
    projection = P.shipped_projection(model.source, 16)
    colour_map = P.ClipPreviewer(projection, torch.device("cpu"), geo.temporal, geo.spatial).for_clip(
        torch.tensor(cfg.latents_std), torch.tensor(cfg.latents_mean), 17, dims[0]
    )
    kwargs = dict(embeds.tensors, height=64, width=64, num_frames=17, num_inference_steps=steps)
    kwargs.update(guidance_scale=5.0, output_type="latent", max_sequence_length=32)
    latents = sample(model, embeds, request).tensor[0]

    def per_call(render) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            render(latents)
        return (time.perf_counter() - start) / calls

    rounds: dict[str, list[float]] = {"step": [], "decoder": [], "map": [], "vae": []}
    for _ in range(repeats):
        start = time.perf_counter()
        pipe(**kwargs, generator=torch.Generator().manual_seed(0))
        rounds["step"].append((time.perf_counter() - start) / steps)
        rounds["decoder"].append(per_call(decoder))
        rounds["map"].append(per_call(colour_map))
        start = time.perf_counter()
        decode(model, sampling.Latents(latents[None], "wan", model.weights_id, 17, 64, 64, 0, "t2v"))
        rounds["vae"].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in rounds.items()}
    median = {name: statistics.median(values) for name, values in rounds.items()}
    return {"best": best, "median": median, "shape": decoder(latents).shape}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--family", action="append", choices=["wan", "ltx", "cogvideox"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--embedded", action="store_true", help="the embedded model's preview decoder")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="bench-studio-home-"))
    if args.embedded:
        r = measure_embedded(args.steps, args.repeats, args.threads)
        for kind in ("best", "median"):
            t = r[kind]
            print(
                f"embedded ({kind} of {args.repeats} rounds, {args.threads} thread(s)): step {t['step'] * 1000:.1f} ms  "
                f"decoder preview {t['decoder'] * 1000:.2f} ms ({100 * t['decoder'] / t['step']:.1f}% of a step, "
                f"{r['shape']})  colour map {t['map'] * 1000:.2f} ms ({100 * t['map'] / t['step']:.1f}%)  "
                f"VAE decode {t['vae'] * 1000:.0f} ms ({100 * t['vae'] / t['step']:.0f}%)"
            )
        return
    for family in args.family or ["wan", "ltx", "cogvideox"]:
        r = measure(family, args.steps, args.repeats, args.threads)
        print(
            f"{r['family']:>9}: bare {r['bare_s'] * 1000:7.1f} ms  sample+previews {r['studio_s'] * 1000:7.1f} ms  "
            f"ratio {r['ratio']:.3f} ({r['per_step_ms']:+.2f} ms/step)  preview {r['preview_shape']} "
            f"alone {r['preview_step_us']:.0f} us/step = {100 * r['preview_share']:.1f}% of bare  "
            f"| full VAE decode {r['full_decode_s'] * 1000:.0f} ms: decoding every step would be "
            f"x{r['decode_every_step_ratio']:.1f}"
        )


if __name__ == "__main__":
    main()
