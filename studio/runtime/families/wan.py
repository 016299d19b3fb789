"""Wan 2.1 / 2.2: text-, image- and video-to-video, its hooks and its tiny test components."""

from __future__ import annotations

import torch

from studio.runtime.families.spec import FamilySpec, TinyParts
from studio.runtime.families.tiny_text import TEXT_DIM, tiny_text_parts


def to_vae_space(pipe, latents: torch.Tensor) -> torch.Tensor:
    cfg = pipe.vae.config
    mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1).to(latents)
    std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1).to(latents)
    return latents * std + mean


def _v2v(pipe, frames: list, strength: float) -> dict:
    return {"video": frames, "strength": strength}


def _capabilities(pipe) -> frozenset[str]:
    in_channels = int(pipe.transformer.config.in_channels)
    if in_channels == int(pipe.vae.config.z_dim):
        # Wan 2.2 5B style: the same transformer does image-to-video through per-token timesteps.
        extra = {"i2v"} if pipe.config.get("expand_timesteps", False) else set()
        return frozenset({"t2v", "v2v"} | extra)
    if pipe.transformer.config.image_dim is not None and getattr(pipe, "image_encoder", None) is None:
        return frozenset()  # a Wan 2.1 i2v transformer without its CLIP image encoder cannot run
    return frozenset({"i2v"})


def _adjust_defaults(pipe, defaults: dict) -> dict:
    if pipe.config.get("expand_timesteps", False):
        defaults.update(num_frames=121, height=704, width=1280, fps=24)  # Wan 2.2 TI2V-5B's card
    return defaults


# --- tiny components ----------------------------------------------------------------------------------

TINY_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=8,
    out_channels=16,
    text_dim=TEXT_DIM,
    freq_dim=32,
    ffn_dim=32,
    rope_max_seq_len=32,
)


def tiny_components(task: str) -> TinyParts:
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )

    tokenizer, text_encoder = tiny_text_parts("umt5")
    vae = AutoencoderKLWan(
        base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    # Wan 2.1/2.2 A14B image-to-video: the transformer also takes the mask (4) and the encoded first frame (16).
    in_channels = 36 if task == "i2v" else 16
    transformer = WanTransformer3DModel(**TINY_TRANSFORMER, in_channels=in_channels, num_layers=1)
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
        "transformer": transformer,
        "transformer_2": None,
    }
    if task == "i2v":
        components.update(image_encoder=None, image_processor=None)
        return WanImageToVideoPipeline, components, {}
    # "ti2v" is the Wan 2.2 5B style: one transformer does text- and image-to-video via per-token timesteps.
    return WanPipeline, components, {"expand_timesteps": task == "ti2v"}


SPEC = FamilySpec(
    name="wan",
    label="Wan",
    pipelines={"t2v": "WanPipeline", "i2v": "WanImageToVideoPipeline", "v2v": "WanVideoToVideoPipeline"},
    loadable=("WanPipeline", "WanImageToVideoPipeline", "WanVideoToVideoPipeline"),
    layout="bcfhw",
    prompt_outputs=("prompt_embeds", "negative_prompt_embeds"),
    size_base=16,
    defaults={"num_frames": 81, "height": 480, "width": 832, "fps": 16, "steps": 50, "guidance": 5.0},
    max_sequence_length=lambda pipe: 512,
    to_vae_space=to_vae_space,
    capabilities=_capabilities,
    v2v_arguments=_v2v,
    adjust_defaults=_adjust_defaults,
    vae_in_float32=True,  # Wan's VAE is meant to run in float32: half precision bands colours
    supports_timed_text=True,
    tiny_components=tiny_components,
    tiny_tasks=("t2v", "i2v", "ti2v"),
)
