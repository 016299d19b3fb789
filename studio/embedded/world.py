"""The procedural world: deterministic captioned clips of simple moving shapes, with ground truth."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import cv2
import numpy as np

# Object colours are saturated and far apart in hue so that plain image analysis can name them.
OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 30, 30),
    "green": (30, 200, 50),
    "blue": (40, 70, 235),
    "yellow": (240, 220, 30),
}
# Backgrounds are neutral or dark, so an object never shares its hue with the background.
BACKGROUND_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "white": (240, 240, 240),
    "navy": (20, 25, 80),
}
SHAPES = ("circle", "square", "triangle")
MOTIONS = ("left", "right", "up", "down", "grows", "shrinks")
MOTION_PHRASES = {
    "left": "moves left",
    "right": "moves right",
    "up": "moves up",
    "down": "moves down",
    "grows": "grows",
    "shrinks": "shrinks",
}
# (colour, shape, motion) triples never drawn for training, to test composition on unseen captions.
HELD_OUT_COMBOS: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("red", "triangle", "up"),
        ("green", "square", "left"),
        ("blue", "circle", "down"),
        ("yellow", "triangle", "right"),
    }
)
# Seeds at or above this value belong to the evaluation split and are never used for training.
EVAL_SEED_BASE = 1_000_000

SUPERSAMPLE = 4


@dataclass(frozen=True)
class ClipSpec:
    """Ground truth for one clip: what the caption says and how the clip was drawn."""

    seed: int
    shape: str
    colour: str
    motion: str
    background: str
    background_to: str | None  # second colour of a vertical gradient; None for a plain background
    camera: str
    x0: float
    y0: float
    x1: float
    y1: float
    size0: float  # half-extent in pixels at 64x64 at the first frame
    size1: float

    @property
    def caption(self) -> str:
        return caption_for(self.colour, self.shape, self.motion, self.background, self.background_to)

    def to_dict(self) -> dict:
        return asdict(self) | {"caption": self.caption}


def caption_for(
    colour: str, shape: str, motion: str, background: str, background_to: str | None = None
) -> str:
    if background_to is None:
        where = f"on a {background} background"
    else:
        where = f"on a {background} and {background_to} gradient background"
    return f"a {colour} {shape} {MOTION_PHRASES[motion]} {where}"


def vocabulary() -> list[str]:
    """Every word a caption can contain, in a fixed order (the tokenizer's vocabulary)."""
    words = ["a", "on", "and", "background", "gradient", "moves", "the", "camera", "is", "still"]
    words += list(OBJECT_COLOURS) + list(BACKGROUND_COLOURS) + list(SHAPES)
    words += ["left", "right", "up", "down", "grows", "shrinks"]
    seen: list[str] = []
    for word in words:
        if word not in seen:
            seen.append(word)
    return seen


def spec_for_seed(seed: int, split: str = "train") -> ClipSpec:
    """Draw a clip's ground truth from a seed; 'train' avoids held-out combos, 'eval' keeps everything."""
    rng = random.Random(seed)
    while True:
        colour = rng.choice(list(OBJECT_COLOURS))
        shape = rng.choice(SHAPES)
        motion = rng.choice(MOTIONS)
        if split != "train" or (colour, shape, motion) not in HELD_OUT_COMBOS:
            break
    backgrounds = list(BACKGROUND_COLOURS)
    background = rng.choice(backgrounds)
    background_to = None
    if rng.random() < 0.3:
        background_to = rng.choice([b for b in backgrounds if b != background])
    size = rng.uniform(8.0, 11.0)
    size0 = size1 = size
    travel = rng.uniform(20.0, 26.0)
    # Keep the whole path inside the frame with a margin so the object is never cut off.
    lo, hi = 14.0, 50.0
    x0 = rng.uniform(lo, hi)
    y0 = rng.uniform(lo, hi)
    x1, y1 = x0, y0
    if motion in ("left", "right"):
        x0 = rng.uniform(lo + travel, hi) if motion == "left" else rng.uniform(lo, hi - travel)
        x1 = x0 - travel if motion == "left" else x0 + travel
    elif motion in ("up", "down"):
        y0 = rng.uniform(lo + travel, hi) if motion == "up" else rng.uniform(lo, hi - travel)
        y1 = y0 - travel if motion == "up" else y0 + travel
    else:
        small, large = rng.uniform(5.0, 7.0), rng.uniform(12.0, 15.0)
        x0 = x1 = rng.uniform(18.0, 46.0)
        y0 = y1 = rng.uniform(18.0, 46.0)
        size0, size1 = (small, large) if motion == "grows" else (large, small)
    return ClipSpec(
        seed=seed,
        shape=shape,
        colour=colour,
        motion=motion,
        background=background,
        background_to=background_to,
        camera="static",
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
        size0=size0,
        size1=size1,
    )


def _background(spec: ClipSpec, size: int) -> np.ndarray:
    top = np.array(BACKGROUND_COLOURS[spec.background], dtype=np.float32)
    bottom = np.array(BACKGROUND_COLOURS[spec.background_to or spec.background], dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    image = top * (1.0 - ramp) + bottom * ramp
    return np.broadcast_to(image, (size, size, 3)).copy()


def _shape_mask(shape: str, cx: float, cy: float, half: float, size: int) -> np.ndarray:
    """Anti-aliased coverage in [0, 1], drawn at SUPERSAMPLE times the size and averaged down."""
    big = size * SUPERSAMPLE
    canvas = np.zeros((big, big), dtype=np.uint8)
    s = SUPERSAMPLE
    x, y, h = cx * s, cy * s, half * s
    if shape == "circle":
        cv2.circle(canvas, (round(x), round(y)), round(h), 255, -1)
    elif shape == "square":
        cv2.rectangle(canvas, (round(x - h), round(y - h)), (round(x + h), round(y + h)), 255, -1)
    else:
        pts = np.array([[x, y - h * 1.15], [x - h * 1.15, y + h * 0.85], [x + h * 1.15, y + h * 0.85]])
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 255)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def object_at(spec: ClipSpec, t: int, frames: int = 17, size: int = 64) -> tuple[float, float, float]:
    """The object's centre x, y and half-extent in pixels at frame t."""
    scale = size / 64.0
    a = t / max(frames - 1, 1)
    cx = (spec.x0 + (spec.x1 - spec.x0) * a) * scale
    cy = (spec.y0 + (spec.y1 - spec.y0) * a) * scale
    half = (spec.size0 + (spec.size1 - spec.size0) * a) * scale
    return cx, cy, half


def render_frame(spec: ClipSpec, t: int, frames: int = 17, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Draw frame t of a clip as uint8 [H, W, 3] with its object coverage float32 [H, W]."""
    cx, cy, half = object_at(spec, t, frames, size)
    cover = _shape_mask(spec.shape, cx, cy, half, size)
    colour = np.array(OBJECT_COLOURS[spec.colour], dtype=np.float32)
    image = _background(spec, size) * (1.0 - cover[..., None]) + colour * cover[..., None]
    return np.clip(np.round(image), 0, 255).astype(np.uint8), cover


def render(spec: ClipSpec, frames: int = 17, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Draw a clip as uint8 [T, H, W, 3] and its object coverage as float32 [T, H, W]."""
    video = np.empty((frames, size, size, 3), dtype=np.uint8)
    masks = np.empty((frames, size, size), dtype=np.float32)
    for t in range(frames):
        video[t], masks[t] = render_frame(spec, t, frames, size)
    return video, masks


def train_seed(index: int, base_seed: int = 0) -> int:
    """The seed of the index-th training clip for a run seed; always below EVAL_SEED_BASE."""
    return (base_seed * 100_003 + index) % EVAL_SEED_BASE


def eval_specs(count: int, offset: int = 0) -> list[ClipSpec]:
    """The held-out evaluation clips: fresh seeds, every combo (held-out ones included)."""
    return [spec_for_seed(EVAL_SEED_BASE + offset + i, split="eval") for i in range(count)]
