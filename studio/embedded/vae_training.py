"""Training pieces for the tiny Wan VAE: world batches, unclamped decode, object-weighted loss, 2D fast path."""

from __future__ import annotations

import copy
import random

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan
from diffusers.models.autoencoders import autoencoder_kl_wan

from studio.embedded.world import object_at, render, render_frame, spec_for_seed, train_seed

# Object pixels weigh this much more than background: without it a tiny VAE settles on drawing background only.
OBJECT_WEIGHT = 16.0
KL_WEIGHT = 1e-5
# Background pixels on a texture's edges weigh this much more than the rest of the background: weighted to objects
# alone, the VAE learned to draw every background plain, and a camera move over a plain background cannot be seen
# (richer-world camera clips read 0/24 moves through the shipped VAE; 16/16 after 500 fine-tuning steps with it).
TEXTURE_EDGE_WEIGHT = 8.0
# A brightness step to the next pixel ([-1, 1] units, about 6/255) above any gradient background's ramp (black to
# white: 4/255 a pixel), so plain and gradient backgrounds get no extra weight.
TEXTURE_EDGE_STEP = 0.05

_original_causal_forward = autoencoder_kl_wan.WanCausalConv3d.forward


def _causal_forward_2d_fast(self, x, cache_x=None):  # type: ignore[no-untyped-def]
    # A causal conv on one frame with no cache sees only zero padding before it: that is a 2D conv with the
    # kernel's last temporal slice, about 3x cheaper. Same numbers, so inference code is unaffected.
    if (
        x.shape[2] == 1
        and cache_x is None
        and self.kernel_size[0] > 1
        and self._padding[4] == self.kernel_size[0] - 1
    ):
        pad = self._padding[:4]
        y = F.conv2d(F.pad(x[:, :, 0], pad), self.weight[:, :, -1], self.bias, self.stride[1:])
        return y.unsqueeze(2)
    return _original_causal_forward(self, x, cache_x)


def enable_fast_single_frames() -> None:
    autoencoder_kl_wan.WanCausalConv3d.forward = _causal_forward_2d_fast


def init_temporal_layers(vae: AutoencoderKLWan) -> None:
    """Start the clip stage from a per-frame VAE: the single-frame stage used only the last temporal tap of
    every causal conv, so zero the earlier taps, and make the temporal down/upsamplers keep the later frame and
    repeat it. The VAE then already reconstructs clips as steps of frames, and the clip stage only refines."""
    with torch.no_grad():
        for module in vae.modules():
            if isinstance(module, autoencoder_kl_wan.WanResample) and hasattr(module, "time_conv"):
                conv = module.time_conv
                conv.weight.zero_()
                conv.bias.zero_()
                eye = torch.eye(conv.weight.shape[1])
                for half in range(conv.weight.shape[0] // conv.weight.shape[1]):
                    rows = slice(half * eye.shape[0], (half + 1) * eye.shape[0])
                    conv.weight[rows, :, 2, 0, 0] = eye
        for module in vae.modules():
            if isinstance(module, autoencoder_kl_wan.WanCausalConv3d) and module.kernel_size[0] == 3:
                if module.kernel_size[1:] != (1, 1):
                    module.weight[:, :, :2] = 0.0


def is_per_frame(vae: AutoencoderKLWan) -> bool:
    """True while the VAE is exactly the per-frame one init_temporal_layers makes (no clip training since)."""
    reference = copy.deepcopy(vae)
    init_temporal_layers(reference)
    return all(torch.equal(a, b) for a, b in zip(vae.parameters(), reference.parameters(), strict=True))


def encode_clip_means(vae: AutoencoderKLWan, x: torch.Tensor) -> torch.Tensor:
    """Posterior means of clips [B, 3, T, H, W]. For a per-frame VAE, latent frame k is the encoding of frame
    4k alone (earlier causal taps are zero and the temporal downsamplers keep the later frame), so encode just
    those frames as single images: the same numbers, about ten times cheaper on a CPU."""
    if not is_per_frame(vae):
        return encode_mean(vae, x)[0]
    batch, channels, frames = x.shape[:3]
    keep = list(range(0, frames, 4))
    singles = x[:, :, keep].transpose(1, 2).reshape(batch * len(keep), channels, 1, *x.shape[3:])
    means = encode_mean(vae, singles)[0]
    return means.reshape(batch, len(keep), *means.shape[1:]).squeeze(3).transpose(1, 2)


def to_tensor(video: np.ndarray) -> torch.Tensor:
    """uint8 [B, T, H, W, 3] to float [B, 3, T, H, W] in [-1, 1]."""
    return torch.from_numpy(video).permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def frame_batch(step: int, batch: int, base_seed: int, crop: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Single frames from fresh training clips: ([B, 3, 1, H, W], object coverage [B, 1, 1, H, W]).

    With crop > 0 each frame is cut to crop x crop, mostly around the object: the VAE is convolutional, so
    crops teach the same drawing at a quarter of the cost, and centring them spends it on the object.
    """
    rng = random.Random(base_seed * 7919 + step)
    images, covers = [], []
    for i in range(batch):
        spec = spec_for_seed(train_seed(step * batch + i, base_seed))
        t = rng.randrange(17)
        image, cover = render_frame(spec, t)
        if crop:
            size = image.shape[0]
            if rng.random() < 0.8:
                cx, cy, _ = object_at(spec, t)
                x0 = int(cx) - crop // 2 + rng.randint(-crop // 4, crop // 4)
                y0 = int(cy) - crop // 2 + rng.randint(-crop // 4, crop // 4)
            else:
                x0, y0 = rng.randint(0, size - crop), rng.randint(0, size - crop)
            # Multiples of 8 keep the crop on the latent grid the full frame uses.
            x0 = min(max(x0 // 8 * 8, 0), size - crop)
            y0 = min(max(y0 // 8 * 8, 0), size - crop)
            image = image[y0 : y0 + crop, x0 : x0 + crop]
            cover = cover[y0 : y0 + crop, x0 : x0 + crop]
        images.append(image[None])
        covers.append(cover[None])
    x = to_tensor(np.stack(images))
    return x, torch.from_numpy(np.stack(covers))[:, None]


def _frame_arrays(job: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    step, batch, base_seed = job
    rng = random.Random(base_seed * 7919 + step)
    images, covers = [], []
    for i in range(batch):
        spec = spec_for_seed(train_seed(step * batch + i, base_seed))
        image, cover = render_frame(spec, rng.randrange(17))
        images.append(image[None])
        covers.append(cover[None])
    return np.stack(images), np.stack(covers)[:, None]


def frame_batches(batch: int, base_seed: int, workers: int = 0, first_step: int = 0):  # type: ignore[no-untyped-def]
    """Endless whole-frame batches ([B, 3, 1, H, W], coverage), drawn by `workers` processes when > 0 so a
    fast GPU is not left waiting on the world's drawing."""
    step = first_step
    if workers <= 0:
        while True:
            images, covers = _frame_arrays((step, batch, base_seed))
            step += 1
            yield to_tensor(images), torch.from_numpy(covers)
    import multiprocessing

    pool = multiprocessing.get_context("spawn").Pool(workers)
    try:
        while True:
            jobs = [(s, batch, base_seed) for s in range(step, step + 64)]
            step += 64
            for images, covers in pool.imap(_frame_arrays, jobs):
                yield to_tensor(images), torch.from_numpy(covers)
    finally:
        # close and join, not terminate (what ``with Pool`` does): terminating workers while imap still had
        # results on the way hung the pool's result thread for good now and then (a whole CI run stopped in
        # this test). The jobs already queued are a few draws each and finish in well under a second.
        pool.close()
        pool.join()


def clip_batch(
    step: int, batch: int, frames: int, base_seed: int, crop: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole clips ([B, 3, T, H, W], object coverage [B, 1, T, H, W]); seeds apart from the frame stage's.

    With crop > 0 the clip is cut to crop x crop around the object's mean position over those frames, which
    trains the temporal layers at a fraction of the cost of full frames."""
    rng = random.Random(base_seed * 104729 + step)
    videos, covers = [], []
    for i in range(batch):
        spec = spec_for_seed(train_seed(500_000 + step * batch + i, base_seed))
        video, cover = render(spec, frames=17)
        # Shorter clips are the start of a 17-frame clip, so they move at the same speed.
        video, cover = video[:frames], cover[:frames]
        if crop:
            size = video.shape[1]
            centres = [object_at(spec, t) for t in range(frames)]
            cx = sum(c[0] for c in centres) / frames + rng.randint(-4, 4)
            cy = sum(c[1] for c in centres) / frames + rng.randint(-4, 4)
            x0 = min(max(int(cx - crop / 2) // 8 * 8, 0), size - crop)
            y0 = min(max(int(cy - crop / 2) // 8 * 8, 0), size - crop)
            video = video[:, y0 : y0 + crop, x0 : x0 + crop]
            cover = cover[:, y0 : y0 + crop, x0 : x0 + crop]
        videos.append(video)
        covers.append(cover)
    return to_tensor(np.stack(videos)), torch.from_numpy(np.stack(covers))[:, None]


def encode_mean(vae: AutoencoderKLWan, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h = vae._encode(x)
    mean, logvar = h.chunk(2, dim=1)
    return mean, logvar.clamp(-30.0, 20.0)


def decode_unclamped(vae: AutoencoderKLWan, z: torch.Tensor) -> torch.Tensor:
    """The VAE's own frame-by-frame decode, minus the final clamp (which would cut the gradient)."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    outs = []
    for i in range(z.shape[2]):
        vae._conv_idx = [0]
        outs.append(
            vae.decoder(
                x[:, :, i : i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx, first_chunk=(i == 0)
            )
        )
    vae.clear_cache()
    return torch.cat(outs, dim=2)


def texture_edges(x: torch.Tensor, cover: torch.Tensor) -> torch.Tensor:
    """1 on background pixels where brightness steps by more than TEXTURE_EDGE_STEP to a neighbour, else 0;
    x [B, 3, T, H, W] in [-1, 1], cover [B, 1, T, H, W]."""
    gray = x.mean(dim=1, keepdim=True)
    step = torch.zeros_like(gray)
    step[..., :, 1:] += (gray[..., :, 1:] - gray[..., :, :-1]).abs()
    step[..., 1:, :] += (gray[..., 1:, :] - gray[..., :-1, :]).abs()
    return (step > TEXTURE_EDGE_STEP).to(x.dtype) * (1.0 - cover)


def vae_loss(
    vae: AutoencoderKLWan, x: torch.Tensor, cover: torch.Tensor,
    keep: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Object- and texture-weighted reconstruction of x from its posterior mean. ``keep`` (a mask over the batch,
    the latents those samples must keep) holds them to another encoder's latents, so a fine-tune changes what is
    new to it without moving the latents a trained transformer reads."""
    mean, logvar = encode_mean(vae, x)
    # Posterior mean only: the transformer trains on means and the pipelines encode with argmax.
    recon = decode_unclamped(vae, mean)
    weight = 1.0 + (OBJECT_WEIGHT - 1.0) * cover + TEXTURE_EDGE_WEIGHT * texture_edges(x, cover)
    mse = (weight * (recon - x).pow(2)).sum() / (weight.sum() * x.shape[1])
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    loss = mse + KL_WEIGHT * kl
    parts = {"mse": float(mse.detach()), "kl": float(kl.detach())}
    if keep is not None and bool(keep[0].any()):
        held = (mean[keep[0]] - keep[1]).pow(2).mean()
        loss = loss + held
        parts["held"] = float(held.detach())
    return loss, parts
