"""CogVideoX 1.0 / 1.5: frames-before-channels latents, trained sizes, hooks and tiny test components."""

from __future__ import annotations

import torch

from studio.runtime.families.spec import FamilySpec, TinyParts, geometry
from studio.runtime.families.tiny_text import TEXT_DIM, tiny_text_parts


def _to_vae(pipe, latents: torch.Tensor) -> torch.Tensor:
    return latents / pipe.vae.config.scaling_factor


def _v2v(pipe, frames: list, strength: float) -> dict:
    return {"video": frames, "strength": strength}


def _capabilities(pipe) -> frozenset[str]:
    # Image-to-video concatenates the encoded first frame on the channel axis.
    in_channels = int(pipe.transformer.config.in_channels)
    latent = int(pipe.vae.config.latent_channels)
    return frozenset({"i2v"}) if in_channels == 2 * latent else frozenset({"t2v", "v2v"})


def _latent_frame_multiple(pipe) -> int:
    return int(getattr(pipe.transformer.config, "patch_size_t", None) or 1)


def _adjust_defaults(pipe, defaults: dict) -> dict:
    # The transformer says the size and length it was trained at.
    tcfg = pipe.transformer.config
    geo = geometry(SPEC, pipe)
    defaults["height"] = int(tcfg.sample_height) * geo.spatial
    defaults["width"] = int(tcfg.sample_width) * geo.spatial
    if (int(tcfg.sample_frames) - 1) % geo.temporal == 0:
        defaults["num_frames"] = int(tcfg.sample_frames)
    return defaults


def tiny_components(task: str) -> TinyParts:
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    tokenizer, text_encoder = tiny_text_parts("t5")
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    i2v = task == "i2v"
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        # Rotary embeddings split the head over time, height and width: 16 keeps every part even.
        attention_head_dim=16 if i2v else 8,
        # Image-to-video concatenates the encoded first frame on the channel axis.
        in_channels=8 if i2v else 4,
        out_channels=4,
        time_embed_dim=4,
        text_embed_dim=TEXT_DIM,
        num_layers=1,
        # 4x4 latents = 32x32 pixels: the size CogVideoX i2v's learned position embeddings are trained for.
        sample_width=4,
        sample_height=4,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        # CogVideoX-5b-I2V's layout: rotary and learned position embeddings together.
        use_rotary_positional_embeddings=i2v,
        use_learned_positional_embeddings=i2v,
    )
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": CogVideoXDDIMScheduler(),
        "transformer": transformer,
    }
    return (CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline), components, {}


SPEC = FamilySpec(
    name="cogvideox",
    label="CogVideoX",
    pipelines={
        "t2v": "CogVideoXPipeline",
        "i2v": "CogVideoXImageToVideoPipeline",
        "v2v": "CogVideoXVideoToVideoPipeline",
    },
    loadable=("CogVideoXPipeline", "CogVideoXImageToVideoPipeline", "CogVideoXVideoToVideoPipeline"),
    layout="bfchw",
    prompt_outputs=("prompt_embeds", "negative_prompt_embeds"),
    size_base=8,
    defaults={"num_frames": 49, "height": 480, "width": 720, "fps": 8, "steps": 50, "guidance": 6.0},
    # The transformer adds position embeddings over text and video tokens together: lengths must agree.
    max_sequence_length=lambda pipe: int(pipe.transformer.config.max_text_seq_length),
    to_vae_space=_to_vae,
    capabilities=_capabilities,
    v2v_arguments=_v2v,
    adjust_defaults=_adjust_defaults,
    latent_frame_multiple=_latent_frame_multiple,
    tiny_components=tiny_components,
)
