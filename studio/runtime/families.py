"""The pipeline families Studio supports, as one table of FamilySpec entries read by a single generic adapter."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from studio.errors import ModelError

TASKS = ("t2v", "i2v", "v2v")
TASK_WORDS = {"t2v": "text-to-video", "i2v": "image-to-video", "v2v": "video-to-video"}


@dataclass(frozen=True)
class FamilySpec:
    """What differs between pipeline families; everything else is shared code.

    ``layout`` is how the pipeline hands latents to ``callback_on_step_end``: "bcfhw" (Wan),
    "bfchw" (CogVideoX: frames before channels) or "packed" (LTX: [B, tokens, C]).
    """

    name: str
    label: str
    pipelines: dict[str, str]  # task -> diffusers pipeline class used for it
    loadable: tuple[str, ...]  # model_index.json _class_name values that belong to this family
    layout: str
    prompt_outputs: tuple[str, ...]  # names of what pipe.encode_prompt returns, in order
    size_base: int  # the pipeline's own divisibility check on height and width
    defaults: dict[str, Any]
    max_sequence_length: Callable[[Any], int]
    to_vae_space: Callable[[Any, torch.Tensor], torch.Tensor]  # pipeline-space [B,C,F,H,W] -> VAE latents
    vae_decode_kwargs: Callable[[Any, torch.Tensor, int], dict] = field(default=lambda pipe, z, seed: {})
    v2v_arguments: Callable[[Any, list, float], dict] = field(default=lambda pipe, frames, strength: {})
    # True where the guide clip is a control video (Wan VACE): every step runs, the clip's length is the
    # request's, and "strength" is how strongly the control steers (its conditioning scale).
    v2v_is_control: bool = False
    takes_reference: bool = False  # reference images of the subject (VACE), apart from a first frame


# --- Wan -----------------------------------------------------------------------------------------------


def _wan_to_vae(pipe, latents: torch.Tensor) -> torch.Tensor:
    cfg = pipe.vae.config
    mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1).to(latents)
    std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1).to(latents)
    return latents * std + mean


def _wan_v2v(pipe, frames: list, strength: float) -> dict:
    return {"video": frames, "strength": strength}


def _vace_control(pipe, frames: list, strength: float) -> dict:
    # No mask: the whole clip is generated, steered by the guide as VACE's control video.
    return {"video": frames, "conditioning_scale": float(strength)}


# --- LTX-Video -----------------------------------------------------------------------------------------


def _ltx_to_vae(pipe, latents: torch.Tensor) -> torch.Tensor:
    vae = pipe.vae
    mean = vae.latents_mean.view(1, -1, 1, 1, 1).to(latents)
    std = vae.latents_std.view(1, -1, 1, 1, 1).to(latents)
    return latents * std / vae.config.scaling_factor + mean


# LTX 0.9.1+ VAEs are timestep-conditioned and decode best with a little noise, as the model card says.
_LTX_DECODE_TIMESTEP = 0.05
_LTX_DECODE_NOISE = 0.025


def _ltx_decode_kwargs(pipe, z: torch.Tensor, seed: int) -> dict:
    if not pipe.vae.config.timestep_conditioning:
        return {"temb": None}
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(z.shape, generator=generator, dtype=torch.float32).to(z)
    z.mul_(1 - _LTX_DECODE_NOISE).add_(noise * _LTX_DECODE_NOISE)
    return {"temb": torch.full((z.shape[0],), _LTX_DECODE_TIMESTEP, device=z.device, dtype=z.dtype)}


def _ltx_v2v(pipe, frames: list, strength: float) -> dict:
    # A whole-clip condition of strength s starts the clip at s * guide + (1 - s) * noise and denoises it
    # from sigma 1 - s on: the same thing as video-to-video with strength 1 - s in the other families.
    return {
        "video": frames,
        "frame_index": 0,
        "strength": float(1.0 - strength),
        "image_cond_noise_scale": 0.0,
    }


# --- CogVideoX ----------------------------------------------------------------------------------------


def _cog_to_vae(pipe, latents: torch.Tensor) -> torch.Tensor:
    return latents / pipe.vae.config.scaling_factor


def _cog_v2v(pipe, frames: list, strength: float) -> dict:
    return {"video": frames, "strength": strength}


FAMILIES: dict[str, FamilySpec] = {
    "wan": FamilySpec(
        name="wan",
        label="Wan",
        pipelines={"t2v": "WanPipeline", "i2v": "WanImageToVideoPipeline", "v2v": "WanVideoToVideoPipeline"},
        loadable=("WanPipeline", "WanImageToVideoPipeline", "WanVideoToVideoPipeline"),
        layout="bcfhw",
        prompt_outputs=("prompt_embeds", "negative_prompt_embeds"),
        size_base=16,
        defaults={"num_frames": 81, "height": 480, "width": 832, "fps": 16, "steps": 50, "guidance": 5.0},
        max_sequence_length=lambda pipe: 512,
        to_vae_space=_wan_to_vae,
        v2v_arguments=_wan_v2v,
    ),
    "ltx": FamilySpec(
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
        to_vae_space=_ltx_to_vae,
        vae_decode_kwargs=_ltx_decode_kwargs,
        v2v_arguments=_ltx_v2v,
    ),
    "cogvideox": FamilySpec(
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
        to_vae_space=_cog_to_vae,
        v2v_arguments=_cog_v2v,
    ),
}

# Wan VACE is Wan with a control input: the same latents, text and sizes; the guide clip is its control video.
FAMILIES["wan-vace"] = replace(
    FAMILIES["wan"],
    name="wan-vace",
    label="Wan VACE",
    pipelines={"t2v": "WanVACEPipeline", "v2v": "WanVACEPipeline"},
    loadable=("WanVACEPipeline",),
    v2v_arguments=_vace_control,
    v2v_is_control=True,
    takes_reference=True,
)

SUPPORTED_CLASSES: dict[str, str] = {cls: spec.name for spec in FAMILIES.values() for cls in spec.loadable}


def supported_classes_text() -> str:
    return "; ".join(f"{spec.label}: {', '.join(spec.loadable)}" for spec in FAMILIES.values())


def family_for_class(class_name: str) -> FamilySpec | None:
    name = SUPPORTED_CLASSES.get(class_name)
    return FAMILIES[name] if name else None


# --- geometry shared by all families ------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """How pixels map to latents for one loaded pipeline."""

    temporal: int  # frames per latent frame (after the first)
    spatial: int  # pixels per latent pixel
    size_multiple: int  # height and width must be multiples of this
    fixed_size: tuple[int, int] | None  # (height, width) when the model renders only at its trained size
    latent_frame_multiple: int  # CogVideoX 1.5 packs latent frames in pairs

    def latent_frames(self, num_frames: int) -> int:
        return (num_frames - 1) // self.temporal + 1


def geometry(spec: FamilySpec, pipe) -> Geometry:
    temporal = int(getattr(pipe, "vae_scale_factor_temporal", 0) or pipe.vae_temporal_compression_ratio)
    spatial = int(getattr(pipe, "vae_scale_factor_spatial", 0) or pipe.vae_spatial_compression_ratio)
    tcfg = pipe.transformer.config
    patch = tcfg.patch_size
    patch_hw = int(patch[1]) if isinstance(patch, (list, tuple)) else int(patch)
    multiple = math.lcm(spec.size_base, spatial * patch_hw)
    fixed = None
    if getattr(tcfg, "use_learned_positional_embeddings", False):
        fixed = (int(tcfg.sample_height) * spatial, int(tcfg.sample_width) * spatial)
    frame_multiple = int(getattr(tcfg, "patch_size_t", None) or 1) if spec.name == "cogvideox" else 1
    return Geometry(temporal, spatial, multiple, fixed, frame_multiple)


def capabilities(spec: FamilySpec, pipe) -> frozenset[str]:
    """What the loaded weights can do: an image-to-video transformer takes extra input channels."""
    in_channels = int(pipe.transformer.config.in_channels)
    if spec.name == "wan":
        z = int(pipe.vae.config.z_dim)
        if in_channels == z:
            # Wan 2.2 5B style: the same transformer does image-to-video through per-token timesteps.
            extra = {"i2v"} if pipe.config.get("expand_timesteps", False) else set()
            return frozenset({"t2v", "v2v"} | extra)
        if pipe.transformer.config.image_dim is not None and getattr(pipe, "image_encoder", None) is None:
            return frozenset()  # a Wan 2.1 i2v transformer without its CLIP image encoder cannot run
        return frozenset({"i2v"})
    if spec.name == "wan-vace":
        return frozenset({"t2v", "v2v"})  # v2v is the control video; the first frame goes through the control too
    if spec.name == "ltx":
        return frozenset(TASKS)  # LTX conditions by per-token timesteps, not extra channels
    latent = int(pipe.vae.config.latent_channels)
    return frozenset({"i2v"}) if in_channels == 2 * latent else frozenset({"t2v", "v2v"})


def model_defaults(spec: FamilySpec, pipe, overrides: dict | None) -> dict:
    """Recommended settings: the model's own config where it says, then the family's, then studio.json."""
    defaults = dict(spec.defaults)
    tcfg = pipe.transformer.config
    if spec.name == "cogvideox":
        geo = geometry(spec, pipe)
        defaults["height"] = int(tcfg.sample_height) * geo.spatial
        defaults["width"] = int(tcfg.sample_width) * geo.spatial
        if (int(tcfg.sample_frames) - 1) % geo.temporal == 0:
            defaults["num_frames"] = int(tcfg.sample_frames)
    if spec.name == "wan" and pipe.config.get("expand_timesteps", False):
        defaults.update(num_frames=121, height=704, width=1280, fps=24)  # Wan 2.2 TI2V-5B's card
    for key, value in (overrides or {}).items():
        if key in defaults:
            defaults[key] = type(defaults[key])(value)
    return defaults


# --- request rules ------------------------------------------------------------------------------------


def _nearest_multiples(value: int, multiple: int) -> str:
    low = max(multiple, value // multiple * multiple)
    high = low + multiple if low < value else low
    return str(low) if low == high or low == value else f"{low} or {high}"


def _nearest_frames(value: int, step: int) -> str:
    low = max(1, (value - 1) // step * step + 1)
    high = low + step
    return f"{low} or {high}"


def check_geometry(
    label: str, geo: Geometry, num_frames: int, height: int, width: int, *, path: str | None = None
) -> None:
    """Raise ModelError naming the nearest valid values when frames or size break the family's rules."""
    problems = []
    if num_frames < 1 or (num_frames - 1) % geo.temporal != 0:
        problems.append(
            f"num_frames must be {geo.temporal}k+1 (got {num_frames}; nearest: {_nearest_frames(num_frames, geo.temporal)})"
        )
    elif geo.latent_frame_multiple > 1 and geo.latent_frames(num_frames) % geo.latent_frame_multiple != 0:
        step = geo.temporal * geo.latent_frame_multiple
        problems.append(f"num_frames must be {step}k+1 for this model (got {num_frames})")
    if geo.fixed_size is not None:
        if (height, width) != geo.fixed_size:
            h, w = geo.fixed_size
            problems.append(
                f"this model renders only at its trained size {w}x{h} (width x height); got {width}x{height}"
            )
    else:
        for name, value in (("height", height), ("width", width)):
            if value < geo.size_multiple or value % geo.size_multiple != 0:
                problems.append(
                    f"{name} must be a multiple of {geo.size_multiple} (got {value}; nearest: "
                    f"{_nearest_multiples(value, geo.size_multiple)})"
                )
    if problems:
        raise ModelError(f"{label} cannot render this request: " + "; ".join(problems), path=path)


# --- latent layouts -----------------------------------------------------------------------------------


def canonical_latents(spec: FamilySpec, latents: torch.Tensor, dims: tuple[int, int, int]) -> torch.Tensor:
    """Any family's latents (as the callback or output_type="latent" gives them) as [B, C, F, H, W].

    ``dims`` is the (frames, height, width) of the clip in latent units. Conditioning tokens some
    pipelines put in front (LTX extra conditions) and CogVideoX 1.5's padding frames are dropped.
    """
    f, h, w = dims
    if latents.ndim == 3:  # packed tokens [B, seq, C]; every LTX checkpoint in diffusers has patch size 1
        latents = latents[:, -(f * h * w) :]
        return latents.reshape(latents.shape[0], f, h, w, -1).permute(0, 4, 1, 2, 3)
    if spec.layout == "bfchw":
        return latents[:, -f:].permute(0, 2, 1, 3, 4)
    return latents[:, :, -f:]
