"""Load Model's options measured: LoRA load time, a strength change without a base reload, int8 bytes saved.

CPU (always): a tiny random Wan pipeline through the engine (Load Model -> Text -> Generate Video): the first
render (base load + LoRA), a strength change (base kept: counted by the engine's memo of the base), the LoRA
loaded by hand into a fresh base, and int8 (torchao) transformer bytes before and after.

CUDA (when there is a GPU): a Wan2.1-1.3B transformer built from the published config with random bf16
weights, one denoising step at 480x832x81 (21x60x104 latents, 32,760 tokens) per case: peak VRAM and step time
for offload none / group (block level, CUDA streams) / sequential (leaf level), and for int8 / fp8 weights;
a rank-32 LoRA on every attention projection: load time, strength change time (set_adapters, no reload).
Written to finish in under 5 minutes on an H100. Prints one JSON object.

Run on demand:  python -m tests.benchmarks.bench_load_options [--skip-cuda] [--frames 81]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Wan2.1-T2V-1.3B's transformer/config.json (the published one), as diffusers names it
WAN_1_3B = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
                out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
                qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def cpu_figures() -> dict:
    import torch

    from studio.engine import Engine
    from studio.graph import NodeRegistry
    from studio.runtime.loading import LoadOptions, load_base, load_model, with_loras
    from studio.runtime.lora import LoraSpec
    from studio.runtime.quantize import module_bytes
    from studio.runtime.tiny import build_tiny_pipeline
    from tests.graphs import text_to_video
    from tests.runtime.test_lora import make_tiny_lora

    torch.set_num_threads(1)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_pipeline("wan", Path(tmp) / "wan")
        lora = make_tiny_lora(folder, Path(tmp) / "lora")
        registry = NodeRegistry.default()
        engine = Engine(registry)
        graph = text_to_video(registry, folder, preview=False)
        timings = []
        for strength in (1.0, 0.5, 0.25):
            graph.nodes["model"].params["loras"] = [{"file": str(lora), "strength": strength}]
            result = engine.run(graph, base_dir=Path(tmp))
            assert result.ok, result.failed
            timings.append({"strength": strength, "load_model_s": round(result.timings["model"], 4),
                            "render_s": round(result.seconds, 3)})
        out["engine_runs"] = timings
        out["base_loads"] = engine.memo_stats["load_model"][1]
        out["base_reused"] = engine.memo_stats["load_model"][0]
        base = load_base(str(folder))
        started = time.perf_counter()
        model = with_loras(base, LoadOptions(loras=(LoraSpec(str(lora), 1.0),)))
        out["lora_load_s"] = round(time.perf_counter() - started, 4)
        started = time.perf_counter()
        again = with_loras(base, LoadOptions(loras=(LoraSpec(str(lora), 0.3),)))
        again.pipe  # noqa: B018 - activates the new strength
        out["strength_change_s"] = round(time.perf_counter() - started, 5)
        del model, again
        plain = load_model(str(folder))
        try:
            quantized = load_model(str(folder), LoadOptions(quantize="int8"))
            out["int8_transformer_bytes"] = {"before": module_bytes(plain.pipe.transformer),
                                             "after": module_bytes(quantized.pipe.transformer)}
            out["int8_note"] = next(n for n in quantized.base.notes if n.startswith("quantize"))
        except Exception as exc:  # noqa: BLE001 - torchao missing: say so in the figures
            out["int8_transformer_bytes"] = f"not measured: {exc}"
    return out


def _step(model, frames: int, height: int, width: int):
    """One transformer call at the clip's latent size (Wan VAE: 4x in time, 8x in space), timed, peak VRAM."""
    import torch

    lat_t, lat_h, lat_w = (frames - 1) // 4 + 1, height // 8, width // 8
    x = torch.randn(1, 16, lat_t, lat_h, lat_w, device="cuda", dtype=torch.bfloat16)
    text = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16)
    t = torch.tensor([500.0], device="cuda")
    with torch.no_grad():
        model(x, t, text)  # warm-up: kernels, offload hooks' first pass
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        model(x, t, text)
        torch.cuda.synchronize()
    return time.perf_counter() - started, torch.cuda.max_memory_allocated()


def _fresh(device: str):
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    with torch.device(device):
        model = WanTransformer3DModel(**WAN_1_3B).to(torch.bfloat16).eval()
    return model


def cuda_figures(frames: int, height: int, width: int) -> dict:
    import torch

    from studio.runtime.quantize import module_bytes

    out: dict = {"device": torch.cuda.get_device_name(0), "size": f"{width}x{height}x{frames}"}
    cases = {}

    def offloaded(mode: str) -> dict:
        model = _fresh("cpu" if mode != "none" else "cuda")
        if mode == "group":  # as studio.runtime.offload.place does it
            model.enable_group_offload(onload_device=torch.device("cuda"), offload_device=torch.device("cpu"),
                                       offload_type="block_level", num_blocks_per_group=1, use_stream=True)
        elif mode == "sequential":
            model.enable_group_offload(onload_device=torch.device("cuda"), offload_device=torch.device("cpu"),
                                       offload_type="leaf_level", use_stream=True)
        seconds, peak = _step(model, frames, height, width)
        return {"step_s": round(seconds, 3), "peak_gb": round(peak / 1e9, 2)}

    def quantized(quant: str) -> dict:
        from torchao.quantization import Float8WeightOnlyConfig, Int8WeightOnlyConfig, quantize_

        model = _fresh("cuda")
        before = module_bytes(model)
        quantize_(model, Int8WeightOnlyConfig() if quant == "int8" else Float8WeightOnlyConfig())
        seconds, peak = _step(model, frames, height, width)
        return {"step_s": round(seconds, 3), "peak_gb": round(peak / 1e9, 2),
                "weights_gb_before": round(before / 1e9, 2), "weights_gb_after": round(module_bytes(model) / 1e9, 2)}

    jobs = [(f"offload_{m}", offloaded, m) for m in ("none", "group", "sequential")]
    jobs += [(f"quantize_{q}", quantized, q) for q in ("int8", "fp8")] + [("lora", lambda _: _cuda_lora(), None)]
    for name, job, arg in jobs:
        gc.collect()
        torch.cuda.empty_cache()
        try:  # one case failing must not lose the others' figures
            cases[name] = job(arg)
        except Exception as exc:  # noqa: BLE001
            cases[name] = f"failed: {type(exc).__name__}: {exc}"[:400]
    out["cases"] = cases
    from studio.runtime.offload import free_memory, pick_offload

    # what offload 'auto' picks here for the whole Wan 1.3B pipeline (UMT5-XXL encoder 11.4 GB in bf16)
    sizes = {"transformer": int(2.84e9), "text_encoder": int(11.4e9), "vae": int(0.25e9)}
    choice = pick_offload(free_memory("cuda"), sizes, device="cuda")
    out["auto_offload"] = {"mode": choice.mode, "reason": choice.reason}
    return out


def _cuda_lora() -> dict:
    import torch

    gc.collect()
    torch.cuda.empty_cache()
    model = _fresh("cuda")
    rank, state = 32, {}
    for index, block in enumerate(model.blocks):
        for attn in ("attn1", "attn2"):
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                layer = block.get_submodule(f"{attn}.{proj}")
                key = f"blocks.{index}.{attn}.{proj}"
                state[f"{key}.lora_A.weight"] = torch.randn(rank, layer.in_features, dtype=torch.bfloat16) * 0.01
                state[f"{key}.lora_B.weight"] = torch.randn(layer.out_features, rank, dtype=torch.bfloat16) * 0.01
    torch.cuda.synchronize()
    started = time.perf_counter()
    model.load_lora_adapter(state, adapter_name="bench", prefix=None)
    torch.cuda.synchronize()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    model.set_adapters(["bench"], [0.4])
    change_s = time.perf_counter() - started
    return {"rank": rank, "tensors": len(state), "load_s": round(load_s, 3), "strength_change_s": round(change_s, 5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cuda", action="store_true")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures: dict = {"load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                     "cpu": cpu_figures()}
    import torch

    if torch.cuda.is_available() and not args.skip_cuda:
        figures["cuda"] = cuda_figures(args.frames, args.height, args.width)
    else:
        figures["cuda"] = "no CUDA device: the GPU figures are still to measure"
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
