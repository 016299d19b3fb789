"""Plain values that flow along links between nodes (numpy at the boundaries, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Prompt:
    """What a Text node says: the prompt and the negative prompt."""

    text: str
    negative: str = ""


@dataclass(frozen=True)
class Picture:
    """A reference image, uint8 [H, W, 3], and how it wants to be fitted to a model's size."""

    pixels: np.ndarray
    fit: str = "crop"  # crop | pad | stretch
    source: str = ""  # the file it came from, for provenance
    role: str = "first_frame"  # first_frame (image-to-video) | reference (the subject to keep: Wan VACE)

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)


@dataclass(frozen=True)
class Video:
    """A clip: frames uint8 [T, H, W, 3] at ``fps``, with what made it (for provenance)."""

    frames: np.ndarray
    fps: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return int(self.frames.nbytes)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return int(self.frames.shape[2]), int(self.frames.shape[1])


@dataclass(frozen=True)
class Sound:
    """Audio: float32 samples [N, channels] in -1..1 at ``rate`` Hz, and the file it came from."""

    samples: np.ndarray
    rate: int
    source: str = ""

    @property
    def nbytes(self) -> int:
        return int(self.samples.nbytes)

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.rate
