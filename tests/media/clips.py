"""Synthetic test clips with natural-image statistics: a panning 1/f texture, moving shapes and grain."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Cycled(Sequence[np.ndarray]):
    """A long clip made by cycling a few frames, so a 10-second 720p or a 4K clip does not need gigabytes."""

    def __init__(self, frames: np.ndarray, length: int) -> None:
        self.frames, self.length = frames, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):  # type: ignore[override]
        if not 0 <= index < self.length:
            raise IndexError(index)
        return self.frames[index % len(self.frames)]


def natural_clip(
    frames: int, height: int, width: int, *, seed: int = 0, pan: float = 1.0, grain: float = 2.0
) -> np.ndarray:
    """uint8 [T, H, W, 3]: a camera panning over a 1/f^2 power landscape, with two moving blobs."""
    rng = np.random.default_rng(seed)
    big_h, big_w = height + 8, width + int(abs(pan) * frames) + 8
    fy = np.fft.fftfreq(big_h)[:, None]
    fx = np.fft.fftfreq(big_w)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    layers = []
    for _ in range(3):
        spectrum = (rng.normal(size=(big_h, big_w)) + 1j * rng.normal(size=(big_h, big_w))) / radius
        spectrum[0, 0] = 0
        layer = np.real(np.fft.ifft2(spectrum))
        layers.append((layer - layer.mean()) / (layer.std() + 1e-9))
    base = np.stack(layers, -1)
    # Correlated colours, like real scenes: a shared luminance plus weaker chroma.
    land = 0.8 * base[..., :1] + 0.3 * base
    land = 128 + 42 * land
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        x0 = int(round(t * abs(pan)))
        img = land[4 : 4 + height, 4 + x0 : 4 + x0 + width].copy()
        for k, colour in enumerate(([230, 60, 40], [30, 40, 200])):
            cy = height * (0.3 + 0.4 * k) + height * 0.1 * np.sin(t / 7 + k)
            cx = width * (0.2 + 0.6 * ((t / max(frames, 1) + 0.5 * k) % 1))
            blob = ((yy - cy) / (height * 0.12)) ** 2 + ((xx - cx) / (width * 0.1)) ** 2 < 1
            img[blob] = colour
        img += rng.normal(0, grain, img.shape)
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def tone(seconds: float, rate: int = 48000, channels: int = 2, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.25 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)
