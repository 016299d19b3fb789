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


def _shift(sequence_length: int, config: dict) -> float:
    """The schedule's shift for a clip of this many latent tokens, as LTX's text- and image-to-video pipelines
    compute it: linear in the length between (base_image_seq_len, base_shift) and (max_image_seq_len, max_shift)."""
    low_len, high_len = config.get("base_image_seq_len", 256), config.get("max_image_seq_len", 4096)
    low, high = config.get("base_shift", 0.5), config.get("max_shift", 1.15)
    slope = (high - low) / (high_len - low_len)
    return low + slope * (sequence_length - low_len)


def _schedule(pipe, task: str, dims: tuple[int, int, int], steps: int) -> tuple[dict, object]:
    """Video-to-video on a checkpoint whose scheduler shifts by the clip's size (LTX-Video 0.9.x: dynamic
    shifting, shift_terminal 0.1). LTXConditionPipeline asks that scheduler for its own timesteps without the
    shift (``mu``), which the scheduler refuses. The clip gets the schedule this model's text-to-video pipeline
    uses for the same size (shifted, stretched to the terminal value), handed over as timesteps to a copy of
    the scheduler that shifts nothing, so timesteps and noise levels agree."""
    config = dict(pipe.scheduler.config)
    if task != "v2v" or not config.get("use_dynamic_shifting"):
        return {}, None
    import numpy as np
    from diffusers import FlowMatchEulerDiscreteScheduler

    frames, height, width = dims
    shaped = FlowMatchEulerDiscreteScheduler.from_config(config)
    shaped.set_timesteps(sigmas=np.linspace(1.0, 1.0 / steps, steps), mu=_shift(frames * height * width, config))
    plain = FlowMatchEulerDiscreteScheduler.from_config(
        config, use_dynamic_shifting=False, shift=1.0, shift_terminal=None,
        use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False)
    return {"timesteps": [float(t) for t in shaped.timesteps]}, plain


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
    # The transformer's rotary positions are in seconds: it needs the clip's frame rate (the requested one;
    # the runtime puts it in 'fps').
    sample_arguments=lambda defaults: {"frame_rate": defaults.get("fps", 25)},
    schedule=_schedule,
    tiny_components=tiny_components,
)
