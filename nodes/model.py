"""Model nodes: load a local diffusers video pipeline, with its LoRAs and its speed and memory options."""

from __future__ import annotations

import logging

from studio.graph import Column, ParamSpec, PortSpec, Roles, node

log = logging.getLogger(__name__)

LORA_COLUMNS = (
    Column("file", "path", help="a LoRA in diffusers' format for this model family (.safetensors only); a "
                                "relative name is read beside the graph"),
    Column("strength", "float", help="how strongly it applies: 0 renders the base model, 1 as trained (empty: 1)"),
    Column("enabled", "enum", choices=("yes", "no"), help="no: kept in the table but not applied (empty: yes)"),
)


def _upgrade(params: dict, saved_version: int) -> dict:
    """Version 1 had one LoRA ('lora', 'lora_scale'); it becomes the first row of the table."""
    params = dict(params)
    if saved_version < 2:
        file, scale = params.pop("lora", ""), params.pop("lora_scale", 1.0)
        if isinstance(file, str) and file.strip() and "loras" not in params:
            params["loras"] = [{"file": file, "strength": scale, "enabled": "yes"}]
    return params


@node(
    "studio.LoadModel",
    title="Load Model",
    category="Model",
    version=2,
    upgrade=_upgrade,
    roles=Roles(model_loader=True, model_source="source"),
    outputs=[PortSpec("model", "MODEL", "the loaded video pipeline")],
    params=[
        ParamSpec("source", "string", "embedded",
                  help="'embedded' for the model Studio ships, a folder holding a diffusers pipeline "
                       "(model_index.json), or a Hugging Face id already in the local cache (org/name)."),
        ParamSpec("device", "enum", "auto", choices=("auto", "cpu", "cuda", "mps"),
                  help="Where the model runs; auto picks a CUDA GPU, then Apple's MPS, then the CPU."),
        ParamSpec("dtype", "enum", "auto", choices=("auto", "float32", "float16", "bfloat16"),
                  help="Number format of the weights; auto uses bfloat16 or float16 on a GPU, float32 on CPU."),
        ParamSpec("loras", "json", [], columns=LORA_COLUMNS, max_length=40_000,
                  help="LoRAs applied together, one row each: file (.safetensors, diffusers' format), strength, "
                       "enabled. Changing a strength or the enabled cell re-renders without reloading the model."),
        ParamSpec("transformer_file", "path", "", file_filter="GGUF transformer (*.gguf)",
                  help="A .gguf transformer (a community quantized checkpoint of this same model) used instead of "
                       "the folder's; the rest of the pipeline comes from 'source'. Empty: the folder's."),
        ParamSpec("quantize", "enum", "none", choices=("none", "int8", "fp8"),
                  help="Store the transformer's weights in 8 bits (torchao, weight-only): about half the memory "
                       "of bfloat16, a slightly different clip. fp8 needs a CUDA GPU."),
        ParamSpec("offload", "enum", "none", choices=("auto", "none", "model", "group", "sequential"),
                  help="On a small GPU: 'model' keeps only the active part on the GPU; 'group' streams the "
                       "transformer's blocks through it (less memory, little slower with CUDA streams); "
                       "'sequential' moves layer by layer (slowest, least memory); 'auto' picks from the free "
                       "memory and the model's size, and says why in the log."),
        ParamSpec("compile", "enum", "off", choices=("off", "blocks", "full"),
                  help="torch.compile the transformer: 'blocks' compiles its repeated blocks (most of the speed, "
                       "a fraction of the compile time), 'full' the whole model. Compiles on the first render; "
                       "later seeds and prompts reuse it."),
        ParamSpec("attention", "enum", "auto", choices=("auto", "native", "flash", "sage", "xformers"),
                  help="The attention kernel: auto picks the fastest installed (sage, flash, xformers, torch's "
                       "own); the log says which."),
        ParamSpec("vae_tiling", "bool", False, help="Decode the video in tiles: less memory for large frames."),
        ParamSpec("vae_slicing", "bool", False, help="Decode one clip of a batch at a time: less memory."),
    ],
)
def load_model(ctx, source: str, device: str, dtype: str, loras, transformer_file: str, quantize: str,
               offload: str, compile: str, attention: str, vae_tiling: bool, vae_slicing: bool):
    """Load a video model from a folder, the Hugging Face cache or Studio's own, with its LoRAs
    (safetensors or GGUF only, offline, no remote code).

    Changing a LoRA's strength, or switching it off, re-renders without loading the model again.
    """
    # The base pipeline is a memo keyed by everything but the LoRA table: a strength or enabled cell changes
    # only the cheap step that activates adapters.
    from studio.runtime import LoadOptions
    from studio.runtime.loading import fit_cpu_threads, load_base, resolve_device, with_loras
    from studio.runtime.lora import parse_loras, resolve_lora_path

    if resolve_device(device) == "cpu":
        fit_cpu_threads()  # on a busy machine, torch threads waiting on each other made a render 10x slower
    options = LoadOptions(device=device, dtype=dtype, offload=offload, vae_tiling=vae_tiling,
                          vae_slicing=vae_slicing, loras=parse_loras(loras, ctx.node_id),
                          transformer_file=transformer_file, quantize=quantize, compile=compile, attention=attention)
    for spec in options.loras:  # a missing or pickled file is named before a model is loaded for nothing
        if spec.enabled:
            resolve_lora_path(spec.file, ctx.base_dir, ctx.node_id)
    base_key = [source, str(ctx.base_dir or ""), *_option_key(options.without_loras()),
                _stamp(ctx, transformer_file)]
    loaded = []

    def load():
        ctx.progress(0, 1, message=f"loading {source}")
        # A cancel stops the load between components (a real model takes seconds per component).
        base = load_base(source, options, base_dir=ctx.base_dir, is_cancelled=ctx.is_cancelled,
                         on_progress=lambda done, total, message: ctx.progress(done, total, message=message))
        loaded.append(base)
        return base

    base = ctx.memo("load_model", base_key, load)
    model = with_loras(base, options, ctx.base_dir, ctx.node_id)
    if loaded:
        log.info("Load Model '%s': %s (%s, %s %s) in %.1f s; %s", ctx.node_id, base.name, base.spec.label,
                 base.device, base.dtype, base.seconds, "; ".join(base.notes))
    if model.loras or not loaded:
        what = ", ".join(f"{a.path.name} @{a.strength:g}" for a in model.loras) or "none"
        log.info("Load Model '%s': LoRAs %s%s", ctx.node_id, what, "" if loaded else " (the model kept, not reloaded)")
    if model.is_placeholder:
        ctx.warn("the embedded model is not trained yet: this renders with random weights (noise)")
    return model


def _option_key(options) -> list:
    from dataclasses import astuple

    return list(astuple(options))


def _stamp(ctx, value: str) -> list:
    """A file's identity for the key: a replaced GGUF file (same name) loads again."""
    import os

    if not value:
        return []
    path = ctx.resolve_path(value)
    try:
        st = os.stat(path)
    except OSError:
        return [str(path)]
    return [str(path), st.st_size, st.st_mtime_ns, st.st_ino]
