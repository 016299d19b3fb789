"""Plain values that flow along links between nodes (numpy at the boundaries, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the one import of ours: values sit at the bottom of the layers, beside the shared errors
from studio.errors import DirectingError


@dataclass(frozen=True)
class Prompt:
    """What a Text node says: the prompt and the negative prompt."""

    text: str
    negative: str = ""


@dataclass(frozen=True)
class PromptSchedule(Prompt):
    """A Prompt whose text changes over time. ``text`` is the first section's, so plain consumers still work.

    ``sections`` are (start seconds, prompt) pairs, the first at 0; ``blend`` is how many seconds a
    change takes.
    """

    sections: tuple[tuple[float, str], ...] = field(default=())
    blend: float = 0.0


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
class ShotRecord:
    """One shot of a sequence as its clip's credentials record it."""

    name: str
    start: float  # seconds into the sequence
    prompt: str
    seed: int | None = None
    transition: str = "cut"  # cut | continue
    character: str | None = None  # the character slot it shows (a, b), if any


@dataclass(frozen=True)
class Generation:
    """What made a clip: the typed record that provenance (C2PA), the OTIO export and the timeline read.

    Written by the node that makes the clip; a misspelt field fails where it is written (TypeError) or read
    (AttributeError), never silently as a missing entry in a signed manifest.
    """

    model: str = ""
    model_hash: str | None = None  # the weights' id (a hash of the files)
    adapters: tuple[str, ...] = ()  # LoRAs and other adapters applied to the model, by name
    prompt: str = ""
    negative: str = ""
    sections: tuple[tuple[float, str], ...] = ()  # a prompt schedule: (start seconds, prompt) pairs
    blend: float = 0.0  # seconds a change of section takes
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    fps: float | None = None
    mode: str | None = None  # t2v | i2v | v2v | camera-guide | sequence
    reference_image: str | None = None  # the picture's file: an ingredient
    reference_use: str | None = None  # first_frame | reference
    camera: str | None = None  # the camera path's label
    camera_mode: str | None = None  # how the camera steered: guide | noise | none
    shots: tuple[ShotRecord, ...] = ()  # a sequence's shots (mode "sequence")
    speed: str | None = None  # how the render was sped up at some cost in fidelity (e.g. first_block@0.06)
    character_images: tuple[str, ...] = ()  # a sequence's character pictures: ingredients beside reference_image

    @property
    def size(self) -> str | None:
        """"WxH", as the manifest records it (None when unknown)."""
        return None if self.width is None or self.height is None else f"{self.width}x{self.height}"

    @property
    def prompts(self) -> list[str]:
        """The prompt and the negative prompt, those that are set."""
        return [p for p in (self.prompt, self.negative) if p]

    @property
    def ingredients(self) -> list[str]:
        """The files the clip was made from (the reference picture, a sequence's character pictures)."""
        files = [self.reference_image] if self.reference_image else []
        return files + [f for f in self.character_images if f not in files]

    def settings(self) -> dict[str, Any]:
        """The generation settings a manifest records, those that are known."""
        values = {"steps": self.steps, "guidance": self.guidance, "size": self.size,
                  "num_frames": self.num_frames, "fps": self.fps, "mode": self.mode, "speed": self.speed}
        return {k: v for k, v in values.items() if v is not None}


def file_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is a view of a memory-mapped file (its base chain ends in an mmap, directly or
    through the memoryview numpy keeps of it)."""
    import mmap

    base = array
    for _ in range(64):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
        if base is None:
            return False
        if isinstance(base, mmap.mmap):
            return True
    return False


@dataclass(frozen=True)
class Video:
    """A clip: frames uint8 [T, H, W, 3] at ``fps``, with what made it (for provenance; None: not known)."""

    frames: np.ndarray
    fps: float
    generation: Generation | None = None

    @property
    def nbytes(self) -> int:
        return int(self.frames.nbytes)

    @property
    def resident_nbytes(self) -> int:
        """What the frames hold in memory: nothing for frames mapped from a file (a long sequence's clip is
        spooled to disk), whose pages the system keeps or drops as it needs."""
        return 0 if file_mapped(self.frames) else self.nbytes

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


@dataclass(frozen=True, eq=False)
class CameraGuide:
    """A camera instruction for a generator (what travels through a CAMERA_GUIDE port).

    Not a clip: Generate Video warps ``picture`` (or a first frame it draws from the prompt when there is
    none) along ``camera`` at its own frame count, size and fps, then steers with it as ``steer`` says. The
    Camera Guide node shows the move separately, as a preview Video.
    """

    # a studio.directing.camera.CameraPath; not imported, so that values stay below directing
    camera: Any
    picture: np.ndarray | None = None  # uint8 [H, W, 3], before fitting
    fit: str = "crop"
    steer: str = "guide"  # guide | noise | none (only the picture and the length)
    seconds: float | None = None  # the clip's length when it should follow a soundtrack
    source: str | None = None  # the picture's file, an ingredient of the clip it steers

    @property
    def label(self) -> str:
        """The camera path's name (a preset, or "keyframes")."""
        return str(getattr(self.camera, "label", "") or "")

    @property
    def nbytes(self) -> int:
        return 0 if self.picture is None else int(self.picture.nbytes)


@dataclass(frozen=True, eq=False)
class Signal:
    """Per-frame values at ``fps``; frame i covers time i / fps. ``events`` marks frames with an onset/beat.

    By convention 0..1; the operations on signals live in ``studio.directing.signal``.
    """

    values: np.ndarray  # float32 [N]
    fps: float
    label: str = ""
    events: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32).reshape(-1)
        if values.size == 0:
            raise DirectingError("a signal needs at least one value")
        if not np.all(np.isfinite(values)):
            raise DirectingError("a signal contains NaN or infinite values")
        if not self.fps > 0:
            raise DirectingError(f"a signal needs a positive frame rate (got {self.fps})")
        object.__setattr__(self, "values", values)

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)

    @property
    def num_frames(self) -> int:
        return int(self.values.size)

    @property
    def seconds(self) -> float:
        return self.values.size / self.fps

    @classmethod
    def constant(cls, value: float, num_frames: int, fps: float) -> Signal:
        return cls(np.full(max(1, num_frames), float(value), np.float32), fps)

    def at_times(self, times: np.ndarray) -> np.ndarray:
        """Values at arbitrary times in seconds (linear between frames; the ends hold)."""
        frames = np.asarray(times, dtype=np.float64) * self.fps
        return np.interp(frames, np.arange(self.values.size), self.values).astype(np.float32)

    def for_frames(self, num_frames: int, fps: float) -> np.ndarray:
        """The signal resampled onto a clip of ``num_frames`` at ``fps`` (exact copy when the rates agree)."""
        if abs(fps - self.fps) < 1e-9:
            out = self.values[:num_frames]
            if out.size < num_frames:
                out = np.concatenate([out, np.full(num_frames - out.size, self.values[-1], np.float32)])
            return out.astype(np.float32)
        return self.at_times(np.arange(num_frames) / fps)


def as_signal(value: object) -> Signal | None:
    """A SIGNAL input as a Signal: a plain number (a FLOAT link) becomes a constant; None stays None."""
    if value is None or isinstance(value, Signal):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Signal.constant(float(value), 1, 1.0)
    raise DirectingError(f"expected a signal, got {type(value).__name__}")
