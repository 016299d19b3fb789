"""What a pipeline family is (FamilySpec: names, layout, hooks) and the rules every family shares."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from studio.errors import ModelError

TASKS = ("t2v", "i2v", "v2v")
TASK_WORDS = {"t2v": "text-to-video", "i2v": "image-to-video", "v2v": "video-to-video"}

# What a family's tiny_components(task) returns: the pipeline class, its components, its config settings.
TinyParts = tuple[type, dict, dict]


@dataclass(frozen=True)
class FamilySpec:
    """What differs between pipeline families; everything else is shared code.

    ``layout`` is how the pipeline hands latents to ``callback_on_step_end``: "bcfhw" (Wan),
    "bfchw" (CogVideoX: frames before channels) or "packed" (LTX: [B, tokens, C]). The hooks take the
    loaded pipeline (``pipe``) first; the defaults are what most families do.
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
    # What the loaded weights can do (a subset of TASKS); empty when the folder cannot run at all.
    capabilities: Callable[[Any], frozenset[str]]
    vae_decode_kwargs: Callable[[Any, torch.Tensor, int], dict] = field(default=lambda pipe, z, seed: {})
    # Keyword arguments of the pipeline call for a guide clip, already resampled to the request's length.
    v2v_arguments: Callable[[Any, list, float], dict] = field(default=lambda pipe, frames, strength: {})
    # True where video-to-video starts part way, as diffusers' strength does: steps * strength steps run.
    # False where every step runs (a whole-clip condition, a control video).
    v2v_skips_steps: bool = True
    takes_reference: bool = False  # reference images of the subject (VACE), apart from a first frame
    # Keyword arguments every sampling call adds, from the model's recommended settings (LTX: frame_rate);
    # the runtime puts the requested frame rate in 'fps'.
    sample_arguments: Callable[[dict], dict] = field(default=lambda defaults: {})
    # The noise schedule of one call: (pipe, task, latent (frames, height, width), steps) -> (extra call
    # arguments, a scheduler to use for this call alone or None). LTX's condition pipeline cannot shift its
    # schedule by the clip's size as the checkpoints' scheduler asks, so the family computes it.
    schedule: Callable[[Any, str, tuple[int, int, int], int], tuple[dict, Any]] = field(
        default=lambda pipe, task, dims, steps: ({}, None))
    # The recommended settings, adjusted to what the loaded model's own config says.
    adjust_defaults: Callable[[Any, dict], dict] = field(default=lambda pipe, defaults: defaults)
    latent_frame_multiple: Callable[[Any], int] = field(default=lambda pipe: 1)  # CogVideoX 1.5 pairs frames
    vae_in_float32: bool = False  # the VAE stays float32 whatever the model's dtype (Wan's bands colours)
    # The transformer's cross-attention sees text alone, so several prompts can sit side by side with
    # per-frame weights: one-pass prompt schedules (the timed-text recipe).
    supports_timed_text: bool = False
    # Tiny random-weight components for tests and examples (task -> TinyParts), and the tasks they take.
    tiny_components: Callable[[str], TinyParts] | None = None
    tiny_tasks: tuple[str, ...] = ("t2v", "i2v")


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
    return Geometry(temporal, spatial, multiple, fixed, int(spec.latent_frame_multiple(pipe)))


def capabilities(spec: FamilySpec, pipe) -> frozenset[str]:
    """What the loaded weights can do: an image-to-video transformer takes extra input channels."""
    return frozenset(spec.capabilities(pipe))


def model_defaults(spec: FamilySpec, pipe, overrides: dict | None) -> dict:
    """Recommended settings: the model's own config where it says, then the family's, then studio.json."""
    defaults = spec.adjust_defaults(pipe, dict(spec.defaults))
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
