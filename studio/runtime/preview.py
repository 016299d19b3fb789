"""Cheap per-step previews of the whole clip: a model's shipped preview decoder (a few convolutions to pixels)
where it has one, else a latent-to-RGB map (shipped, or fitted once per VAE) at latent resolution."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from studio import paths

_FORMAT = 1
# The fitting clip has two latent frames and a square latent grid just big enough for about four
# samples per unknown (C + 1 per colour): 6x6 for Wan's 16 channels, 17x17 for LTX's 128. The VAE
# encode and decode then stay small enough to run once, even on a CPU.
_SAMPLES_PER_UNKNOWN = 4
_FIT_MIN_LATENT_SIZE = 4
_RIDGE = 1e-3


@dataclass(frozen=True)
class LatentProjection:
    """rgb = latent @ matrix + bias, per latent pixel, with rgb in [0, 1]; with a hidden layer (a model's
    shipped preview map may have one) rgb = relu(latent @ hidden_weight + hidden_bias) @ matrix + bias."""

    matrix: np.ndarray  # [C, 3], or [H, 3] after a hidden layer
    bias: np.ndarray  # [3]
    hidden_weight: np.ndarray | None = None  # [C, H]
    hidden_bias: np.ndarray | None = None  # [H]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".preview-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, format=np.int64(_FORMAT), matrix=self.matrix, bias=self.bias)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path, channels: int) -> LatentProjection | None:
        """The cached projection, or None when absent, of another format or unreadable (then refit)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != _FORMAT:
                    return None
                matrix = np.asarray(data["matrix"], dtype=np.float32)
                bias = np.asarray(data["bias"], dtype=np.float32)
        except (OSError, KeyError, ValueError):
            return None
        if matrix.shape != (channels, 3) or bias.shape != (3,):
            return None
        return cls(matrix, bias)


SHIPPED_NAME = "studio_preview.json"


def shipped_projection(folder: Path, channels: int) -> LatentProjection | None:
    """A projection a model folder ships (``studio_preview.json``: {"matrix": [[r, g, b] per channel],
    "bias": [r, g, b]}), fitted on the model's own kind of pictures. Plain JSON numbers: data, not code.
    A VAE whose latents map to colour far from linearly outside its training pictures (Studio's embedded
    model) previews far better with it than with the generic fit."""
    try:
        data = json.loads((Path(folder) / SHIPPED_NAME).read_text(encoding="utf-8"))
        matrix = np.asarray(data["matrix"], dtype=np.float32)
        bias = np.asarray(data["bias"], dtype=np.float32)
        hidden = data.get("hidden")
        w1 = None if hidden is None else np.asarray(hidden["weight"], dtype=np.float32)
        b1 = None if hidden is None else np.asarray(hidden["bias"], dtype=np.float32)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    arrays = [a for a in (matrix, bias, w1, b1) if a is not None]
    if not all(np.isfinite(a).all() for a in arrays) or bias.shape != (3,):
        return None
    inner = channels if w1 is None else w1.shape[-1]
    if matrix.shape != (inner, 3):
        return None
    if w1 is not None and (w1.shape != (channels, inner) or b1 is None or b1.shape != (inner,)):
        return None
    return LatentProjection(matrix, bias, w1, b1)


def fit_from_pairs(latents: np.ndarray, rgb: np.ndarray, ridge: float = _RIDGE) -> LatentProjection:
    """Least squares rgb ([N, 3] in 0..1) from latents ([N, C]), ridge-regularised."""
    x1 = np.concatenate([latents.astype(np.float64), np.ones((latents.shape[0], 1))], axis=1)
    gram = x1.T @ x1 + ridge * x1.shape[0] * np.eye(x1.shape[1])
    solution = np.linalg.solve(gram, x1.T @ rgb.astype(np.float64))
    return LatentProjection(solution[:-1].astype(np.float32), solution[-1].astype(np.float32))


def cache_path(weights_id: str) -> Path:
    return paths.cache_dir() / "previews" / f"{weights_id}.npz"


def fit_latent_size(channels: int) -> int:
    return max(_FIT_MIN_LATENT_SIZE, math.ceil(math.sqrt(_SAMPLES_PER_UNKNOWN * (channels + 1) / 2)))


def _fitting_clips(frames: int, size: int, seed: int = 1234) -> torch.Tensor:
    """Smooth, saturated colour fields that move a little: [1, 3, T, H, W] in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 2, 4, 4, generator=gen) * 2 - 1
    clips = torch.nn.functional.interpolate(
        coarse, size=(frames, size, size), mode="trilinear", align_corners=True
    )
    # Add hard-edged blocks so the fit also sees saturated primaries, not only blends.
    blocks = (torch.rand(1, 3, 1, 8, 8, generator=gen) > 0.5).float() * 2 - 1
    blocks = torch.nn.functional.interpolate(blocks, size=(frames, size, size), mode="nearest")
    return (0.5 * clips + 0.5 * blocks).clamp(-1, 1)


def pool_to_latent_grid(
    video: torch.Tensor, temporal: int, spatial: int, latent_frames: int
) -> torch.Tensor:
    """Average a decoded [B, 3, T, H, W] video over the pixels each latent pixel stands for: what a preview
    of those latents should show, the target any latent-to-colour map is fitted to."""
    groups = [video[:, :, :1]]
    for i in range(1, latent_frames):
        groups.append(video[:, :, 1 + (i - 1) * temporal : 1 + i * temporal])
    frames = torch.cat([g.mean(dim=2, keepdim=True) for g in groups], dim=2)
    b, c, f, h, w = frames.shape
    pooled = torch.nn.functional.avg_pool2d(frames.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w), spatial)
    return pooled.reshape(b, f, c, h // spatial, w // spatial).permute(0, 2, 1, 3, 4)


@torch.no_grad()
def fit_projection(
    vae, channels: int, temporal: int, spatial: int, device: torch.device, decode_kwargs
) -> LatentProjection:
    """Least squares from VAE latents to the VAE's own decodes of them, pooled to the latent grid.

    The latents come from encoding synthetic colour clips, so they lie where real latents do.
    ``decode_kwargs(z)`` gives the family's extra decode arguments.
    """
    frames = temporal + 1
    size = fit_latent_size(channels) * spatial
    clips = _fitting_clips(frames, size).to(device=device, dtype=vae.dtype)
    dist = vae.encode(clips).latent_dist
    z = dist.mode() if hasattr(dist, "mode") else dist.mean
    video = vae.decode(z.clone(), **decode_kwargs(z.clone()), return_dict=False)[0].float()
    target = pool_to_latent_grid(video[:, :, :frames], temporal, spatial, z.shape[2])
    x = z.float().permute(0, 2, 3, 4, 1).reshape(-1, z.shape[1]).cpu().numpy()
    y = (target.permute(0, 2, 3, 4, 1).reshape(-1, 3).cpu().numpy() + 1.0) / 2.0
    # Ridge keeps channels the fitting clips barely excite from getting huge weights.
    return fit_from_pairs(x, y)


def frame_to_latent_index(num_frames: int, latent_frames: int, temporal: int) -> np.ndarray:
    """For each output frame, the latent frame that covers it (causal VAEs: frame 0 alone, then groups)."""
    t = np.arange(num_frames)
    index = np.where(t == 0, 0, (t - 1) // temporal + 1)
    return np.minimum(index, latent_frames - 1)


class ClipPreviewer:
    """A fitted projection on a device; ``for_clip`` specialises it for one sampling run."""

    def __init__(
        self, projection: LatentProjection, device: torch.device, temporal: int, spatial: int
    ) -> None:
        def on_device(array: np.ndarray | None) -> torch.Tensor | None:
            return None if array is None else torch.from_numpy(array).to(device=device, dtype=torch.float32)

        self.matrix = on_device(projection.matrix)
        self.bias = on_device(projection.bias)
        self.hidden_weight = on_device(projection.hidden_weight)
        self.hidden_bias = on_device(projection.hidden_bias)
        self.temporal = temporal
        self.spatial = spatial

    def for_clip(
        self, scale: torch.Tensor, shift: torch.Tensor, num_frames: int, latent_frames: int
    ) -> ClipRenderer:
        """Fold everything that does not change between steps into the matrix, bias and frame index.

        The pipeline-to-VAE latent affine (per channel), the scale to 0..255 and the rounding go into
        the matrix and bias, so a step is a matmul, a clamp, a cast and a gather of whole frames.
        """
        scale = scale.to(self.matrix)
        shift = shift.to(self.matrix)
        frames = torch.from_numpy(frame_to_latent_index(num_frames, latent_frames, self.temporal))
        if self.hidden_weight is not None:
            # The affine goes into the hidden layer; the output layer takes the 0..255 scale.
            w1 = scale[:, None] * self.hidden_weight
            b1 = shift @ self.hidden_weight + self.hidden_bias
            return ClipRenderer(self.matrix * 255.0, self.bias * 255.0 + 0.5, frames, w1, b1)
        matrix = scale[:, None] * self.matrix * 255.0
        bias = (shift @ self.matrix + self.bias) * 255.0 + 0.5  # +0.5: the uint8 cast then rounds
        return ClipRenderer(matrix, bias, frames)


@dataclass(frozen=True)
class ClipRenderer:
    """Pipeline-space latents [C, F, h, w] -> uint8 [T, h, w, 3]: the whole clip, at latent resolution.

    Latent resolution, not upscaled: a viewer scales with nearest-neighbour for free when it paints,
    while a gather of upscaled pixels here cost about 3% of a tiny model's step on its own.
    """

    matrix: torch.Tensor  # [C, 3] (or [H, 3]) on the sampling device, output scaled to 0..255
    bias: torch.Tensor  # [3]
    frames: torch.Tensor  # [T] on the CPU: the latent frame each output frame shows
    hidden_weight: torch.Tensor | None = None  # [C, H]
    hidden_bias: torch.Tensor | None = None  # [H]

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        channels, f, h, w = latents.shape
        x = latents.reshape(channels, -1).to(device=self.matrix.device, dtype=torch.float32).T
        if self.hidden_weight is not None:
            x = torch.addmm(self.hidden_bias, x, self.hidden_weight).relu_()
        small = torch.addmm(self.bias, x, self.matrix).clamp_(0, 255).to(torch.uint8).cpu()
        return small.reshape(f, h, w, 3).index_select(0, self.frames).numpy()


# ---- a shipped preview decoder: a few convolutions from latent frames to pictures at the clip's size ------

DECODER_FOLDER = "preview_decoder"
DECODER_CONFIG = "config.json"
DECODER_WEIGHTS = "model.safetensors"
_DECODER_FORMAT = 1
_LAYER_KINDS = ("conv", "relu", "shuffle")
# A decoder much bigger than this is not a preview any more (and would cost a real step's share).
_DECODER_MAX_PARAMETERS = 1_000_000


class PreviewDecoder(torch.nn.Module):
    """Normalised latent frames [N, C, h, w] -> pictures [N, 3 * frames_per_latent, h * up, w * up] in [-1, 1]
    (the VAE's own range), from a plain list of layers: ``{"conv": [in, out, kernel]}``, ``"relu"``,
    ``{"shuffle": factor}`` (pixel shuffle). Only these three kinds exist, so a config is data, never code."""

    def __init__(self, layers: list, channels: int) -> None:
        super().__init__()
        modules: list[torch.nn.Module] = []
        width, self.upscale = channels, 1
        for layer in layers:
            if layer == "relu":
                modules.append(torch.nn.ReLU(inplace=True))
            elif isinstance(layer, dict) and set(layer) == {"conv"}:
                c_in, c_out, kernel = (int(v) for v in layer["conv"])
                if c_in != width or kernel % 2 != 1 or min(c_in, c_out, kernel) < 1:
                    raise ValueError(f"conv {layer['conv']} does not fit {width} channels")
                modules.append(torch.nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2))
                width = c_out
            elif isinstance(layer, dict) and set(layer) == {"shuffle"}:
                factor = int(layer["shuffle"])
                if factor < 1 or width % (factor * factor):
                    raise ValueError(f"pixel shuffle by {factor} does not fit {width} channels")
                modules.append(torch.nn.PixelShuffle(factor))
                width, self.upscale = width // (factor * factor), self.upscale * factor
            else:
                raise ValueError(f"unknown layer {layer!r}: a preview decoder has only {', '.join(_LAYER_KINDS)}")
        if width % 3:
            raise ValueError(f"the last layer gives {width} channels, not 3 per frame")
        self.frames_per_latent = width // 3
        self.layers = torch.nn.Sequential(*modules)
        # Per-channel normalisation of VAE-space latents, fitted on the training latents.
        self.register_buffer("input_mean", torch.zeros(channels))
        self.register_buffer("input_std", torch.ones(channels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """VAE-space latent frames [N, C, h, w] -> [N, 3k, H, W] (training; the renderer folds the affine)."""
        x = (z - self.input_mean[:, None, None]) / self.input_std[:, None, None]
        return self.layers(x)


def vae_fingerprint(folder: Path) -> str:
    """The SHA-256 of a model folder's VAE weights: a decoder trained for another VAE would preview lies."""
    digest = hashlib.sha256()
    for path in sorted((Path(folder) / "vae").glob("*.safetensors")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def shipped_decoder(folder: Path, channels: int, device: torch.device, temporal: int) -> DecoderPreviewer | None:
    """The preview decoder a model folder ships (``preview_decoder/``: config.json and model.safetensors), or
    None when there is none or it does not fit this model (another VAE, other channels, a broken file): then
    the colour map previews, as for any model without one."""
    base = Path(folder) / DECODER_FOLDER
    try:
        config = json.loads((base / DECODER_CONFIG).read_text(encoding="utf-8"))
        if config.get("format") != _DECODER_FORMAT or int(config["latent_channels"]) != channels:
            return None
        if config.get("vae_sha256") != vae_fingerprint(folder):
            return None
        net = PreviewDecoder(config["layers"], channels)
        if net.frames_per_latent not in (1, temporal):
            return None
        if sum(p.numel() for p in net.parameters()) > _DECODER_MAX_PARAMETERS:
            return None
        state = load_file(str(base / DECODER_WEIGHTS))  # safetensors: tensors only, nothing runs
        expected = net.state_dict()
        if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
            return None
        if not all(torch.isfinite(t.float()).all() for t in state.values()):
            return None
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError, SafetensorError):
        return None
    return DecoderPreviewer(net.eval().to(device), temporal)


def decoded_frame_index(num_frames: int, latent_frames: int, temporal: int, per_latent: int) -> np.ndarray:
    """For each output frame, its row among the decoder's F * per_latent pictures: the latent frame that covers
    it (as the VAE does) and, when the decoder draws ``temporal`` pictures per latent frame, which of them."""
    latent = frame_to_latent_index(num_frames, latent_frames, temporal)
    if per_latent == 1:
        return latent
    t = np.arange(num_frames)
    within = np.where(t == 0, per_latent - 1, (t - 1) % temporal)
    # Frames past the last latent group (a clip longer than its latents) repeat that group's last picture.
    within = np.where((t - 1) // temporal + 1 > latent_frames - 1, per_latent - 1, within)
    return latent * per_latent + within


class DecoderPreviewer:
    """A loaded preview decoder; ``for_clip`` specialises it for one sampling run, like ClipPreviewer."""

    def __init__(self, net: PreviewDecoder, temporal: int) -> None:
        self.net = net
        self.temporal = temporal

    def for_clip(
        self, scale: torch.Tensor, shift: torch.Tensor, num_frames: int, latent_frames: int
    ) -> DecoderRenderer:
        # Pipeline latents -> VAE latents (x * scale + shift) -> the decoder's normalisation, as one affine.
        mean, std = self.net.input_mean, self.net.input_std
        a = (scale.to(mean) / std)[:, None, None]
        b = ((shift.to(mean) - mean) / std)[:, None, None]
        index = decoded_frame_index(num_frames, latent_frames, self.temporal, self.net.frames_per_latent)
        return DecoderRenderer(self.net, a, b, torch.from_numpy(index))


@dataclass(frozen=True)
class DecoderRenderer:
    """Pipeline-space latents [C, F, h, w] -> uint8 [T, H, W, 3]: the whole clip at the model's pixel size."""

    net: PreviewDecoder
    scale: torch.Tensor  # [C, 1, 1]
    shift: torch.Tensor  # [C, 1, 1]
    frames: torch.Tensor  # [T] on the CPU: the picture each output frame shows

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        x = latents.to(device=self.scale.device, dtype=torch.float32).transpose(0, 1)  # [F, C, h, w]
        y = self.net.layers(torch.addcmul(self.shift, x, self.scale))
        f, k3, h, w = y.shape
        # [-1, 1] -> 0..255, rounded by the +0.5 before the cast; frames last so the gather takes whole pictures.
        pictures = y.reshape(f * (k3 // 3), 3, h, w).permute(0, 2, 3, 1).mul_(127.5).add_(128.0).clamp_(0, 255)
        return pictures.to(torch.uint8).cpu().index_select(0, self.frames).numpy()
