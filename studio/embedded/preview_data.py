"""What the preview decoder learns from: the latents a preview is shown (the sampler's clean-clip estimate at
every step, as studio.runtime.sampling hands them to the preview, and world clips the VAE encodes) paired with
what the model's own VAE decodes from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.embedded import vae_training as V
from studio.embedded.world import EVAL_SEED_BASE, render, spec_for_seed, train_seed
from studio.runtime.preview import frame_to_latent_index

MAX_SEQUENCE_LENGTH = 32  # what the embedded model renders at (studio_defaults.json); 512 gives the same clip


@dataclass(frozen=True)
class ClipShape:
    """The clips a model renders by default (its studio_defaults.json) and its VAE's frames per latent frame."""

    frames: int = 17
    size: int = 64
    temporal: int = 4
    spatial: int = 8  # pixels per latent pixel: 16 for the 128x128 VAE with one more level

    @classmethod
    def of(cls, folder: Path) -> ClipShape:
        defaults = json.loads((Path(folder) / "studio_defaults.json").read_text())
        vae = json.loads((Path(folder) / "vae" / "config.json").read_text())
        return cls(int(defaults["num_frames"]), int(defaults["height"]), int(vae["scale_factor_temporal"]),
                   int(vae.get("scale_factor_spatial") or 8))


@dataclass
class Pairs:
    """Clips of VAE-space latents [N, C, F, h, w], the VAE's pictures for them as uint8 [N, P, 3, H, W], which
    picture each of the clip's frames is (``target_index`` [T]), and each clip's sampling progress in 0..1
    (1: final latents or an encoded clip)."""

    latents: torch.Tensor
    targets: torch.Tensor
    target_index: torch.Tensor
    progress: torch.Tensor

    def to_dict(self) -> dict:
        return {
            "latents": self.latents,
            "targets": self.targets,
            "target_index": self.target_index,
            "progress": self.progress,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Pairs:
        return cls(data["latents"], data["targets"], data["target_index"], data["progress"])

    @classmethod
    def join(cls, parts: list[Pairs]) -> Pairs:
        return cls(
            torch.cat([p.latents for p in parts]),
            torch.cat([p.targets for p in parts]),
            parts[0].target_index,
            torch.cat([p.progress for p in parts]),
        )


def vae_space(pipe, latents: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    cfg = pipe.vae.config
    mean = torch.tensor(cfg.latents_mean, device=latents.device).view(1, -1, 1, 1, 1)
    std = torch.tensor(cfg.latents_std, device=latents.device).view(1, -1, 1, 1, 1)
    return latents.float() * std + mean


@torch.no_grad()
def decode_pictures(vae, z: torch.Tensor, per_frame: bool, shape: ClipShape) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """uint8 pictures of VAE-space latents [N, C, F, h, w]: one per latent frame [N, F, 3, H, W] for a per-frame
    VAE (each latent frame decoded alone: the same numbers, ten times cheaper), else the whole decoded clip."""
    if per_frame:
        n, c, f, h, w = z.shape
        singles = z.transpose(1, 2).reshape(n * f, c, 1, h, w)
        video = torch.cat([vae.decode(chunk).sample for chunk in singles.split(64)])
        video = video[:, :, 0].reshape(n, f, 3, *video.shape[-2:])
    else:
        video = torch.cat([vae.decode(chunk).sample for chunk in z.split(8)]).transpose(1, 2)[:, : shape.frames]
    return ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def target_index(per_frame: bool, latent_frames: int, shape: ClipShape) -> torch.Tensor:
    if per_frame:
        return torch.from_numpy(frame_to_latent_index(shape.frames, latent_frames, shape.temporal))
    return torch.arange(shape.frames)


def captions(count: int, base_seed: int, offset: int, split: str = "train") -> list:
    if split == "eval":
        return [spec_for_seed(EVAL_SEED_BASE + 50_000 + offset + i, split="eval") for i in range(count)]
    return [spec_for_seed(train_seed(700_000 + offset + i, base_seed)) for i in range(count)]


@torch.no_grad()
def sampled_estimates(  # type: ignore[no-untyped-def]
    pipe, specs: list, steps: int, shape: ClipShape, keep_steps: list[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sampler's clean-clip estimate after every step (or the ``keep_steps``, 1-based) of text-to-video for
    ``specs`` at once: (VAE-space latents [N, C, F, h, w], progress [N]), ordered step-major."""
    estimates: list[torch.Tensor] = []
    kept: list[float] = []

    def on_step(step_pipe, index: int, _t, tensors: dict) -> dict:  # type: ignore[no-untyped-def]
        if keep_steps is None or index + 1 in keep_steps:
            # Exactly what sampling.denoised_estimate shows for UniPC: its last x0 prediction.
            estimates.append(step_pipe.scheduler.model_outputs[-1].detach().clone())
            kept.append((index + 1) / steps)
        return {}

    pipe(
        prompt=[s.caption for s in specs],
        height=shape.size,
        width=shape.size,
        num_frames=shape.frames,
        num_inference_steps=steps,
        guidance_scale=5.0,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        generator=[torch.Generator().manual_seed(s.seed) for s in specs],
        output_type="latent",
        callback_on_step_end=on_step,
    )
    latents = torch.cat([vae_space(pipe, e) for e in estimates])
    progress = torch.tensor([p for p in kept for _ in specs])
    return latents, progress


@torch.no_grad()
def encoded_clips(vae, specs: list, shape: ClipShape) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """VAE-space posterior means of world clips [N, C, F, h, w] (what the pipelines encode for v2v and i2v)."""
    videos = np.stack([render(s, shape.frames, shape.size)[0] for s in specs])
    return V.encode_clip_means(vae, V.to_tensor(videos).to(next(vae.parameters()).device))


def pairs_for(vae, latents: torch.Tensor, progress: torch.Tensor, per_frame: bool, shape: ClipShape) -> Pairs:  # type: ignore[no-untyped-def]
    targets = decode_pictures(vae, latents, per_frame, shape).cpu()  # the pipeline may sample on a GPU
    index = target_index(per_frame, latents.shape[2], shape)
    return Pairs(latents.cpu().contiguous(), targets.contiguous(), index, progress.cpu())
