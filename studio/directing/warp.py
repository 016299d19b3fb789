"""Warping along a camera track: a picture into a guide clip, and starting noise into motion-following noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from studio.directing import DirectingError
from studio.directing.camera import CameraTrack


def grid_picture(width: int, height: int, cells: int = 8) -> np.ndarray:
    """A chequered grid with a bright centre cross: what a camera preview shows when there is no picture."""
    ys, xs = np.mgrid[0:height, 0:width]
    size = max(2, min(width, height) // cells)
    board = ((xs // size + ys // size) % 2).astype(np.uint8)
    pixels = np.stack([60 + 80 * board, 70 + 80 * board, 90 + 80 * board], axis=-1).astype(np.uint8)
    pixels[height // 2 - 1: height // 2 + 1, :] = (230, 200, 40)
    pixels[:, width // 2 - 1: width // 2 + 1] = (230, 200, 40)
    return pixels


def guide_clip(image: np.ndarray, track: CameraTrack,
               is_cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
    """The picture seen through the moving camera: uint8 [T, H, W, 3] at the picture's own size.

    Areas the picture does not cover (a pan past its edge, a zoom out) repeat its edge pixels: the
    video model repaints a smear more gracefully than black bars, and unlike a mirror it does not
    invent a second copy of a subject near the edge for the model to keep.
    """
    import cv2

    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DirectingError("the picture to warp must be uint8 [H, W, 3]")
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64) if track.parallax > 0 else (None, None)
    frames = np.empty((track.num_frames, height, width, 3), np.uint8)
    for t in range(track.num_frames):
        if is_cancelled():
            from studio.errors import Cancelled

            raise Cancelled()
        if track.parallax == 0:
            # one plane: a single homography, an order of magnitude faster than a per-pixel map
            frames[t] = cv2.warpPerspective(image, track.matrix(t, width, height), (width, height),
                                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            continue
        sx, sy = track.source_coords(t, width, height, xs, ys)
        frames[t] = cv2.remap(image, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    return frames


def latent_frame_sources(num_latent_frames: int, temporal: int, num_frames: int) -> np.ndarray:
    """The video frame each latent frame stands for: the first alone, then the last of each group of ``temporal``."""
    index = np.arange(num_latent_frames) * temporal
    return np.clip(index, 0, num_frames - 1)


def warped_noise(track: CameraTrack, channels: int, latent_frames: int, latent_height: int, latent_width: int,
                 temporal: int, seed: int, detail: int = 4) -> np.ndarray:
    """Gaussian starting noise [C, F, h, w] that moves with the camera ("Go-with-the-Flow" in spirit).

    One field of white noise at ``detail`` times the latent resolution is looked up (nearest, so no
    value is blurred) through each latent frame's camera transform, then each detail x detail block
    is summed. Dividing by sqrt(sum of squared multiplicities) keeps every latent value exactly
    N(0, 1) even where a zoom repeats samples; uncovered areas draw fresh noise.
    """
    if detail < 1:
        raise DirectingError("noise detail must be at least 1")
    rng = np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF)
    hi_h, hi_w = latent_height * detail, latent_width * detail
    base = rng.standard_normal((channels, hi_h * hi_w)).astype(np.float32)
    ys, xs = np.mgrid[0:hi_h, 0:hi_w].astype(np.float64) + 0.5
    sources = latent_frame_sources(latent_frames, temporal, track.num_frames)
    out = np.empty((channels, latent_frames, latent_height, latent_width), np.float32)
    k2 = detail * detail
    for j, frame in enumerate(sources):
        sx, sy = track.source_coords(int(frame), hi_w, hi_h, xs, ys)
        ix, iy = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
        inside = (ix >= 0) & (ix < hi_w) & (iy >= 0) & (iy < hi_h)
        index = np.where(inside, iy * hi_w + ix, -1 - np.arange(hi_h * hi_w).reshape(hi_h, hi_w))
        fresh = rng.standard_normal((channels, hi_h * hi_w)).astype(np.float32)
        flat = index.reshape(-1)
        values = np.where(flat >= 0, base[:, np.maximum(flat, 0)], fresh)
        # [C, h, d, w, d] -> blocks
        blocks = values.reshape(channels, latent_height, detail, latent_width, detail).sum(axis=(2, 4))
        ids = index.reshape(latent_height, detail, latent_width, detail).transpose(0, 2, 1, 3)
        ids = ids.reshape(latent_height, latent_width, k2)
        multiplicity_sq = (ids[..., :, None] == ids[..., None, :]).sum(axis=(2, 3)).astype(np.float32)
        out[:, j] = blocks / np.sqrt(multiplicity_sq)[None]
    return out
