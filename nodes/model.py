"""Model nodes: load a local diffusers video pipeline."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, Roles, node


@node(
    "studio.LoadModel",
    title="Load Model",
    category="Model",
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
        ParamSpec("offload", "enum", "none", choices=("none", "model", "sequential"),
                  help="On a small GPU: 'model' keeps only the active part on the GPU (a little slower); "
                       "'sequential' moves layer by layer (slowest, least memory)."),
        ParamSpec("vae_tiling", "bool", False, help="Decode the video in tiles: less memory for large frames."),
        ParamSpec("vae_slicing", "bool", False, help="Decode one clip of a batch at a time: less memory."),
        ParamSpec("lora", "path", "", file_filter="LoRA (*.safetensors)",
                  help="A LoRA for this model, in diffusers' format (.safetensors only); empty for none."),
        ParamSpec("lora_scale", "float", 1.0, minimum=-4, maximum=4, soft_maximum=2,
                  help="How strongly the LoRA applies: 0 renders the base model, 1 as trained."),
    ],
)
def load_model(ctx, source: str, device: str, dtype: str, offload: str, vae_tiling: bool, vae_slicing: bool,
               lora: str = "", lora_scale: float = 1.0):
    """Load a diffusers video pipeline (safetensors only, offline, no remote code)."""
    from studio.runtime import LoadOptions
    from studio.runtime import load_model as load
    from studio.runtime.loading import fit_cpu_threads, resolve_device

    if resolve_device(device) == "cpu":
        fit_cpu_threads()  # on a busy machine, torch threads waiting on each other made a render 10x slower
    options = LoadOptions(device=device, dtype=dtype, offload=offload, vae_tiling=vae_tiling,
                          vae_slicing=vae_slicing, lora=lora, lora_scale=lora_scale)
    ctx.progress(0, 1, message=f"loading {source}")
    # A cancel stops the load between components (a real model takes seconds per component).
    model = load(source, options, base_dir=ctx.base_dir, is_cancelled=ctx.is_cancelled,
                 on_progress=lambda done, total, message: ctx.progress(done, total, message=message))
    if getattr(model, "is_placeholder", False):
        ctx.warn("the embedded model is not trained yet: this renders with random weights (noise)")
    return model
