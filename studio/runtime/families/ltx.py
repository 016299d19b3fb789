"""LTX-Video: packed latents, per-token timesteps for every task, its hooks and its tiny test components."""

from __future__ import annotations

import torch

from studio.runtime.families.spec import TASKS, FamilySpec, TinyParts
from studio.runtime.families.tiny_text import TEXT_DIM, tiny_text_parts


def _to_vae(pipe, latents: torch.Tensor) -> torch.Tensor:
    vae = pipe.vae
    mean = vae.latents_mean.view(1, -1, 1, 1, 1).to(latents)
    std = vae.latents_std.view(1, -1, 1, 1, 1).to(latents)
    return latents * std / vae.config.scaling_factor + mean


# LTX 0.9.1+ VAEs are timestep-conditioned and decode best with a little noise, as the model card says.
_DECODE_TIMESTEP = 0.05
_DECODE_NOISE = 0.025


def _decode_kwargs(pipe, z: torch.Tensor, seed: int) -> dict:
    if not pipe.vae.config.timestep_conditioning:
        return {"temb": None}
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(z.shape, generator=generator, dtype=torch.float32).to(z)
    z.mul_(1 - _DECODE_NOISE).add_(noise * _DECODE_NOISE)
    return {"temb": torch.full((z.shape[0],), _DECODE_TIMESTEP, device=z.device, dtype=z.dtype)}


def _v2v(pipe, frames: list, strength: float) -> dict:
    # A whole-clip condition of strength s starts the clip at s * guide + (1 - s) * noise and denoises it
    # from sigma 1 - s on: the same thing as video-to-video with strength 1 - s in the other families.
    # LTXConditionPipeline takes the length from num_frames, not from the condition.
    return {
        "video": frames,
        "frame_index": 0,
        "strength": float(1.0 - strength),
        "image_cond_noise_scale": 0.0,
        "num_frames": len(frames),
    }


def tiny_components(task: str) -> TinyParts:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    tokenizer, text_encoder = tiny_text_parts("t5")
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=1,
        caption_channels=TEXT_DIM,
    )
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "transformer": transformer,
    }
    # LTX does image-to-video with the same transformer (per-token timesteps), so one class serves every task.
    return LTXPipeline, components, {}


SPEC = FamilySpec(
    name="ltx",
    label="LTX-Video",
    pipelines={"t2v": "LTXPipeline", "i2v": "LTXImageToVideoPipeline", "v2v": "LTXConditionPipeline"},
    loadable=("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
    layout="packed",
    prompt_outputs=(
        "prompt_embeds",
        "prompt_attention_mask",
        "negative_prompt_embeds",
        "negative_prompt_attention_mask",
    ),
    size_base=32,
    defaults={"num_frames": 121, "height": 512, "width": 704, "fps": 24, "steps": 50, "guidance": 3.0},
    max_sequence_length=lambda pipe: 128,
    to_vae_space=_to_vae,
    capabilities=lambda pipe: frozenset(TASKS),  # LTX conditions by per-token timesteps, not extra channels
    vae_decode_kwargs=_decode_kwargs,
    v2v_arguments=_v2v,
    v2v_skips_steps=False,  # the guide is a whole-clip condition: every step runs
    # The transformer's rotary positions are in seconds: it needs the clip's frame rate.
    sample_arguments=lambda defaults: {"frame_rate": defaults.get("fps", 25)},
    tiny_components=tiny_components,
)
