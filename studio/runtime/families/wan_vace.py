"""Wan VACE: Wan with a control input (the guide clip as control video, reference images of the subject)."""

from __future__ import annotations

from dataclasses import replace

from studio.runtime.families import wan
from studio.runtime.families.spec import FamilySpec, TinyParts


def _control(pipe, frames: list, strength: float) -> dict:
    # No mask: the whole clip is generated, steered by the guide as VACE's control video, over the
    # request's length; "strength" is how strongly the control steers (its conditioning scale).
    return {"video": frames, "conditioning_scale": float(strength), "num_frames": len(frames)}


def tiny_components(task: str) -> TinyParts:
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    _, components, _ = wan.tiny_components("t2v")
    # VACE's control input: inactive and reactive latents (2 x 16) plus the 8x8 mask packed to 64 channels.
    components["transformer"] = WanVACETransformer3DModel(
        **wan.TINY_TRANSFORMER, in_channels=16, num_layers=2, vace_layers=[0, 1], vace_in_channels=96
    )
    return WanVACEPipeline, components, {}


# The same latents, text and sizes as Wan; what the control input changes is set here.
SPEC: FamilySpec = replace(
    wan.SPEC,
    name="wan-vace",
    label="Wan VACE",
    pipelines={"t2v": "WanVACEPipeline", "v2v": "WanVACEPipeline"},
    loadable=("WanVACEPipeline",),
    # v2v is the control video; the first frame goes through the control too.
    capabilities=lambda pipe: frozenset({"t2v", "v2v"}),
    v2v_arguments=_control,
    v2v_skips_steps=False,
    takes_reference=True,
    adjust_defaults=lambda pipe, defaults: defaults,
    # As before the family modules: the float32 VAE and timed text were switched on for "wan" alone.
    vae_in_float32=False,
    supports_timed_text=False,
    tiny_components=tiny_components,
    tiny_tasks=("t2v", "i2v"),
)
