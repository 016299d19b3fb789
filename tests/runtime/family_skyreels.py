"""A family module written outside the package, as a plugin would: SkyReels-V2 text-to-video (Wan-like)."""

from __future__ import annotations

from studio.runtime.families import FamilySpec, TinyParts, wan
from studio.runtime.families.tiny_text import TEXT_DIM, tiny_text_parts


def tiny_components(task: str) -> TinyParts:
    from diffusers import (
        AutoencoderKLWan,
        SkyReelsV2Pipeline,
        SkyReelsV2Transformer3DModel,
        UniPCMultistepScheduler,
    )

    tokenizer, text_encoder = tiny_text_parts("umt5")
    vae = AutoencoderKLWan(
        base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    transformer = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=16, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=32, ffn_dim=32, num_layers=1, rope_max_seq_len=32,
    )
    # SkyReels-V2 samples with UniPC over flow-matching sigmas, as its pipeline expects.
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )
    components = {"tokenizer": tokenizer, "text_encoder": text_encoder, "vae": vae, "scheduler": scheduler,
                  "transformer": transformer}
    return SkyReelsV2Pipeline, components, {}


SPEC = FamilySpec(
    name="skyreels-v2",
    label="SkyReels-V2",
    pipelines={"t2v": "SkyReelsV2Pipeline"},
    loadable=("SkyReelsV2Pipeline",),
    layout="bcfhw",
    prompt_outputs=("prompt_embeds", "negative_prompt_embeds"),
    size_base=16,
    defaults={"num_frames": 97, "height": 544, "width": 960, "fps": 24, "steps": 30, "guidance": 6.0},
    max_sequence_length=lambda pipe: 512,
    to_vae_space=wan.to_vae_space,  # the Wan VAE, normalised the same way
    capabilities=lambda pipe: frozenset({"t2v"}),
    tiny_components=tiny_components,
    tiny_tasks=("t2v",),
)
