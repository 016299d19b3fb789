"""Small synthetic images and clips for image- and video-to-video tests."""

from __future__ import annotations

import numpy as np


def colour_image(height: int = 32, width: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), np.full_like(x, 128)], -1
    ).astype(np.uint8)


def guide_clip(frames: int = 9, height: int = 32, width: int = 32) -> np.ndarray:
    base = colour_image(height, width)
    return np.stack([np.roll(base, 2 * t, axis=1) for t in range(frames)]).astype(np.uint8)
