"""Per-step cost through Studio vs bare diffusers, and what each speed setting saves, on real-size architectures.

One command, no network. On CUDA it builds real-size random-weight pipelines from the published configs
(Wan2.1-T2V-1.3B and LTX-Video 2B by default; --models wan14b adds Wan2.1-14B, bare diffusers only) at
480x832x81 in bfloat16, with a one-layer 4096-wide text encoder (per-step time is the transformer's), and
measures, side by side in one run:

- per-step time through Studio's engine (Load Model -> Text -> Generate Video, timed between the node's step
  events) vs a bare diffusers call on the same pipeline object (timed between its step callbacks), and the
  ratio (target <= 1.02);
- for each speed setting: sampling time against the uncached render of the same seed (speedup) and the PSNR
  of the latents against it (random weights: a speed figure, not a fidelity one);
- peak VRAM of the uncached render.

Few steps (--steps, default 6) keep it under 8 minutes on one H100; step caches skip a larger share of a
50-step schedule, so the speedups here are lower bounds. Without CUDA (or with --tiny) the same code runs
tiny 4-layer pipelines at 9x32x32 on the CPU, to prove the plumbing. Prints one JSON document.

Run on demand:  python -m tests.benchmarks.bench_gpu [--tiny] [--steps 6] [--models wan1.3b,ltx2b]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Published transformer configs (diffusers' config.json of each checkpoint's transformer/).
WAN_1_3B = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
                out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
                qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=None, added_kv_proj_dim=None,
                rope_max_seq_len=1024)
WAN_14B = {**WAN_1_3B, "num_attention_heads": 40, "ffn_dim": 13824, "num_layers": 40}
LTX_2B = dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32,
              attention_head_dim=64, cross_attention_dim=2048, num_layers=28, activation_fn="gelu-approximate",
              qk_norm="rms_norm_across_heads", norm_elementwise_affine=False, norm_eps=1e-6,
              caption_channels=4096, attention_bias=True, attention_out_bias=True)
# The same shapes scaled down for the CPU run: the code path is the CUDA one.
TINY = {"wan1.3b": {**WAN_1_3B, "num_attention_heads": 2, "attention_head_dim": 8, "ffn_dim": 32,
                    "freq_dim": 32, "num_layers": 4, "text_dim": 32, "rope_max_seq_len": 32},
        "ltx2b": {**LTX_2B, "in_channels": 8, "out_channels": 8, "num_attention_heads": 2, "attention_head_dim": 8,
                  "cross_attention_dim": 16, "num_layers": 4, "caption_channels": 32}}
SETTINGS = ("first_block@0.05", "first_block@0.1", "first_block@0.2", "taylorseer@2", "taylorseer@3", "pab@2",
            "pab@3")


def _text_parts(encoder: str, width: int):
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    from studio.runtime.families.tiny_text import build_tokenizer, t5_kwargs, vocab_size

    tokenizer = build_tokenizer()
    kwargs = {**t5_kwargs(vocab_size(tokenizer)), "d_model": width, "d_kv": 64 if width > 64 else 8}
    config_class, model_class = (UMT5Config, UMT5EncoderModel) if encoder == "umt5" else (T5Config, T5EncoderModel)
    return tokenizer, model_class(config_class(**kwargs))


def build(kind: str, folder: Path, tiny: bool) -> Path:
    """A random-weight pipeline of ``kind`` saved (safetensors) into ``folder``, with the published scheduler."""
    import diffusers
    import torch

    from tests.runtime.test_family_matrix import LTX_0_9, WAN_2_1, with_published_scheduler

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() and not tiny else "cpu"
    with torch.device(device):  # random init of billions of weights is seconds on a GPU, minutes on a CPU
        if kind.startswith("wan"):
            config = TINY[kind] if tiny else (WAN_14B if kind == "wan14b" else WAN_1_3B)
            transformer = diffusers.WanTransformer3DModel(**config)
            vae = (diffusers.AutoencoderKLWan(base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1)
                   if tiny else diffusers.AutoencoderKLWan())  # the defaults are Wan 2.1's VAE
            tokenizer, text_encoder = _text_parts("umt5", config["text_dim"])
            pipe = diffusers.WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                                         scheduler=diffusers.FlowMatchEulerDiscreteScheduler(), transformer=transformer)
            scheduler = WAN_2_1
        else:
            config = TINY[kind] if tiny else LTX_2B
            transformer = diffusers.LTXVideoTransformer3DModel(**config)
            vae = diffusers.AutoencoderKLLTXVideo(latent_channels=config["in_channels"], **(
                dict(block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8)) if tiny else {}))
            tokenizer, text_encoder = _text_parts("t5", config["caption_channels"])
            pipe = diffusers.LTXPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                                         scheduler=diffusers.FlowMatchEulerDiscreteScheduler(), transformer=transformer)
            scheduler = LTX_0_9
    if not tiny:
        pipe.transformer.to(torch.bfloat16)
    pipe.save_pretrained(folder, safe_serialization=True)
    del pipe
    if device == "cuda":
        torch.cuda.empty_cache()
    return with_published_scheduler(folder, scheduler)


def _median_step(stamps: list[float]) -> float:
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return statistics.median(gaps) if gaps else math.nan


def engine_steps(registry, folder: Path, size: tuple[int, int, int], steps: int, dtype: str):
    """Per-step time of Generate Video through the engine, and the LoadedModel it used."""
    import torch

    from studio.engine import Engine, NodeProgress
    from tests.graphs import text_to_video

    frames, height, width = size
    graph = text_to_video(registry, folder, frames=frames, size=height, steps=steps, preview=False,
                          prompt="a red ball rolling on the grass")
    graph.set_param("generate", "width", width)
    graph.set_param("model", "dtype", dtype)
    stamps: list[float] = []
    engine = Engine(registry)

    def listen(event) -> None:
        if isinstance(event, NodeProgress) and event.node_id == "generate":
            if torch.cuda.is_available():  # the step's kernels are queued, not done: wait, as bare_steps does
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    result = engine.run(graph, ["generate"], listener=listen)
    if not result.ok:
        raise RuntimeError(f"engine run failed: {result.failed}")
    return _median_step(stamps), engine.run(graph, ["model"]).outputs["model"]["model"]


def bare_steps(model, embeds, size: tuple[int, int, int], steps: int, guidance: float) -> float:
    """Per-step time of a plain diffusers call on the same pipeline object, timed by its own step callbacks."""
    import torch

    frames, height, width = size
    stamps: list[float] = []

    def on_step(_pipe, _i, _t, _kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        return {}

    pipe = model.pipe
    pipe(**embeds.tensors, num_frames=frames, height=height, width=width, num_inference_steps=steps,
         guidance_scale=guidance, generator=torch.Generator("cpu").manual_seed(0), output_type="latent",
         callback_on_step_end=on_step, **model.spec.sample_arguments(model.defaults))
    return _median_step(stamps)


def cache_rows(model, embeds, size, steps: int, guidance: float, settings) -> tuple[list[dict], float]:
    import torch

    from studio import runtime

    frames, height, width = size

    def run(speed: str):
        request = runtime.VideoRequest(num_frames=frames, height=height, width=width, steps=steps,
                                       guidance=guidance, seed=0, preview=False, speed=speed)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        latents = runtime.sample(model, embeds, request)
        return latents.tensor.float(), time.perf_counter() - started

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    base, base_time = run("off")
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else math.nan
    span = float(base.max() - base.min()) or 1.0
    rows = []
    for setting in settings:
        try:
            latents, seconds = run(setting)
        except Exception as exc:  # noqa: BLE001 - a refused setting is a row, not the end of the run
            rows.append({"setting": setting, "error": str(exc)[:200]})
            continue
        mse = float(((latents - base) ** 2).mean())
        rows.append({"setting": setting, "speedup": round(base_time / seconds, 3),
                     "latent_psnr": round(10 * math.log10(span**2 / mse), 2) if mse else "identical"})
    return rows, peak


def bench_model(kind: str, tiny: bool, steps: int, settings, workdir: Path, registry) -> dict:
    import torch

    from studio import runtime

    size = (9, 32, 32) if tiny else (81, 480, 832)
    guidance = 5.0 if kind.startswith("wan") else 3.0
    started = time.perf_counter()
    folder = build(kind, workdir / kind, tiny)
    report: dict = {"model": kind, "size": "x".join(map(str, size)), "steps": steps,
                    "build_seconds": round(time.perf_counter() - started, 1)}
    dtype = "float32" if tiny else "bfloat16"
    engine_step, model = engine_steps(registry, folder, size, steps, dtype)
    embeds = runtime.encode_prompt(model, "a red ball rolling on the grass", "", guidance)
    bare_step = bare_steps(model, embeds, size, steps, guidance)
    report.update(device=model.device, dtype=model.dtype, engine_step_s=round(engine_step, 4),
                  bare_step_s=round(bare_step, 4), engine_over_bare=round(engine_step / bare_step, 3))
    rows, peak = cache_rows(model, embeds, size, steps, guidance, settings)
    report.update(peak_vram_gib=round(peak, 2) if not math.isnan(peak) else None, caches=rows)
    model.release()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return report


def bench_bare_only(kind: str, steps: int, workdir: Path) -> dict:
    """Wan 14B: too large to save and load again within the time; bare diffusers per-step time and memory."""
    import diffusers
    import torch

    torch.manual_seed(0)
    with torch.device("cuda"):
        transformer = diffusers.WanTransformer3DModel(**WAN_14B).to(torch.bfloat16)
    torch.cuda.reset_peak_memory_stats()
    latents = torch.randn(1, 16, 21, 60, 104, device="cuda", dtype=torch.bfloat16)
    text = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16)
    stamps = []
    with torch.no_grad():
        for step in range(steps):
            for _ in range(2):  # guidance: a conditional and an unconditional pass, as WanPipeline runs them
                transformer(latents, timestep=torch.tensor([999 - step * 100], device="cuda"),
                            encoder_hidden_states=text, return_dict=False)
            torch.cuda.synchronize()
            stamps.append(time.perf_counter())
    return {"model": kind, "size": "81x480x832", "steps": steps, "bare_transformer_step_s": round(_median_step(stamps), 3),
            "peak_vram_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "note": "transformer passes only (no engine run: a 28 GB folder would not save and load in time)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny pipelines on the CPU even where CUDA is present")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--models", default="wan1.3b,ltx2b", help="wan1.3b, ltx2b, wan14b (CUDA only)")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args(argv)

    import torch

    from studio.graph import NodeRegistry

    tiny = args.tiny or not torch.cuda.is_available()
    if tiny:
        torch.set_num_threads(1)  # a busy shared CPU: more threads were slower and noisier
    started = time.perf_counter()
    registry = NodeRegistry.default()
    settings = [s for s in args.settings.split(",") if s]
    reports = []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as workdir:
        for kind in [m for m in args.models.split(",") if m]:
            if kind == "wan14b":
                if not tiny:
                    reports.append(bench_bare_only(kind, min(args.steps, 3), Path(workdir)))
                continue
            reports.append(bench_model(kind, tiny, args.steps, settings, Path(workdir), registry))
            print(f"done {kind} after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    device = torch.cuda.get_device_name() if not tiny else "cpu (tiny pipelines)"
    print(json.dumps({"device": device, "tiny": tiny, "seconds": round(time.perf_counter() - started, 1),
                      "models": reports}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
