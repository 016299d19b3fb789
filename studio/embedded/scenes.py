"""The richer world: camera moves, two objects in one clip and textured backgrounds, each caption with its truth.

It extends ``world.py`` without changing it: a ``base`` scene is exactly the old world's clip (same seed, same
pixels, same caption), so the shipped model's figures stay comparable. The other conditions:

* ``textured``: one object on a ``striped``, ``checkered`` or ``noise`` background ("on a gray checkered
  background"); the texture is the named background colour brightened and darkened, never saturated, so an
  object's colour stays readable.
* ``camera``: one object on a checkered background while the camera pans, tilts or zooms ("... while the
  camera pans left"). Camera moves need a texture: on a plain background a pan is invisible, and stripes hide a
  move along them. "pans left" turns the view left, so the scene slides right in the frame; "tilts up" slides
  it down; "zooms in" enlarges it about the centre. An object's captioned motion is its motion in the scene,
  apart from the camera's (the analysis takes the camera's move out before reading it).
* ``two_objects``: two objects of different colours, each with its own motion, never touching ("a red circle
  moves left and a blue square grows on a black background").

Coordinates are in pixels of a 64x64 frame (as in ``world.py``) and scale with the frame size.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from studio.embedded import world as W

CONDITIONS = ("base", "textured", "camera", "two_objects")
TEXTURES = ("striped", "checkered", "noise")
# Camera moves use checks only: through the 8x-compressing VAE, noise this fine carries a pan far less surely.
CAMERA_TEXTURES = ("checkered",)
CAMERA_MOVES = ("pans left", "pans right", "tilts up", "tilts down", "zooms in", "zooms out")
STATIC = "static"
# Evaluation seeds per condition: base shares world.eval_specs' seeds (the shipped model's figures), the
# others sit apart from them and from the evaluator's video-to-video guides (offset 50,000).
CONDITION_OFFSETS = {"base": 0, "textured": 100_000, "camera": 200_000, "two_objects": 300_000}
# Share of each condition among training clips; base stays the largest so the old captions keep their weight.
TRAINING_MIX = {"base": 0.4, "textured": 0.2, "camera": 0.2, "two_objects": 0.2}
# Texture scales and strength the tiny VAE can carry (its latent cell covers 8x8 pixels at 64x64, 16x16 at 128x128).
# The first richer world (amplitude 30, 10-px checks, 8-px stripes) came out of the shipped VAE as plain
# backgrounds: its camera clips read 0/24 moves through it, and 600 fine-tuning steps did not change that. Checks of
# 40 px at amplitude 100 read 35/40 moves through the shipped VAE untouched, and 16/16 after 500 steps of
# fine-tuning with texture edges weighted (vae_training.vae_loss; finetune's vae stage).
TEXTURE_AMPLITUDE = 100.0  # 0-255, added to the background colour's channels alike (no hue)
CHECK_PERIOD = 40.0  # 64-px units: cells of 20
STRIPE_PERIOD = 16.0
STILL_PHRASE_RATE = 0.25  # static textured training clips that say "while the camera is still"
_NOISE_CELL = 8.0  # 64-px units between the noise field's random values
_NOISE_ORIGIN, _NOISE_EXTENT = -64.0, 192.0  # world region the noise field covers (views stay inside it)


@dataclass(frozen=True)
class ObjectSpec:
    """One object's truth: what it is and its path in scene coordinates (64x64 frame units)."""

    colour: str
    shape: str
    motion: str
    x0: float
    y0: float
    x1: float
    y1: float
    size0: float
    size1: float

    @property
    def phrase(self) -> str:
        return f"a {self.colour} {self.shape} {W.MOTION_PHRASES[self.motion]}"

    def at(self, t: int, frames: int) -> tuple[float, float, float]:
        a = t / max(frames - 1, 1)
        return (self.x0 + (self.x1 - self.x0) * a, self.y0 + (self.y1 - self.y0) * a,
                self.size0 + (self.size1 - self.size0) * a)


@dataclass(frozen=True)
class SceneSpec:
    """Ground truth for one clip of the richer world; ``caption`` states all of it."""

    seed: int
    condition: str
    objects: tuple[ObjectSpec, ...]
    background: str
    background_to: str | None = None  # second colour of a vertical gradient
    texture: str | None = None  # striped, checkered, noise; None for plain or gradient
    camera: str = STATIC  # one of CAMERA_MOVES, or static
    camera_shift: tuple[float, float] = (0.0, 0.0)  # the view centre's move over the clip, 64-px units
    camera_zoom: float = 1.0  # the view's magnification at the last frame (the first is 1)
    says_still: bool = False  # the caption says "while the camera is still"

    @property
    def caption(self) -> str:
        things = " and ".join(o.phrase for o in self.objects)
        if self.texture:
            where = f"on a {self.background} {self.texture} background"
        elif self.background_to:
            where = f"on a {self.background} and {self.background_to} gradient background"
        else:
            where = f"on a {self.background} background"
        text = f"{things} {where}"
        if self.camera != STATIC:
            text += f" while the camera {self.camera}"
        elif self.says_still:
            text += " while the camera is still"
        return text

    def to_dict(self) -> dict:
        return asdict(self) | {"caption": self.caption}


# ---- vocabulary


def vocabulary() -> list[str]:
    """Every caption word, the old world's first and in its order (so its token ids stay where they were)."""
    words = W.vocabulary() + ["while", "pans", "tilts", "zooms", "in", "out", *TEXTURES]
    return list(dict.fromkeys(words))


def vocabulary_groups() -> dict[str, list[str]]:
    """The words in named groups, for studio_vocabulary.json (`studio models` and the unknown-word warning)."""
    return {
        "colours": list(W.OBJECT_COLOURS),
        "shapes": list(W.SHAPES),
        "motion": ["moves", "left", "right", "up", "down", "grows", "shrinks"],
        "backgrounds": [*W.BACKGROUND_COLOURS, "gradient", *TEXTURES],
        "camera": ["camera", "pans", "tilts", "zooms", "in", "out", "is", "still"],
    }


# ---- drawing the truth from a seed


def _base_object(spec: W.ClipSpec) -> ObjectSpec:
    return ObjectSpec(spec.colour, spec.shape, spec.motion, spec.x0, spec.y0, spec.x1, spec.y1,
                      spec.size0, spec.size1)


def _draw_identity(rng: random.Random, split: str, avoid_colour: str | None = None) -> tuple[str, str, str]:
    while True:
        colour = rng.choice([c for c in W.OBJECT_COLOURS if c != avoid_colour])
        shape, motion = rng.choice(W.SHAPES), rng.choice(W.MOTIONS)
        if split != "train" or (colour, shape, motion) not in W.HELD_OUT_COMBOS:
            return colour, shape, motion


def _draw_path(rng: random.Random, motion: str, box: tuple[float, float, float, float], small: bool
               ) -> tuple[float, float, float, float, float, float]:
    """(x0, y0, x1, y1, size0, size1) inside ``box`` (x_lo, y_lo, x_hi, y_hi) for the centre's whole path."""
    lo_x, lo_y, hi_x, hi_y = box
    size = rng.uniform(6.0, 8.0) if small else rng.uniform(8.0, 11.0)
    size0 = size1 = size
    travel = rng.uniform(14.0, 18.0) if small else rng.uniform(16.0, 22.0)
    x0, y0 = rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)
    x1, y1 = x0, y0
    if motion in ("left", "right"):
        travel = min(travel, hi_x - lo_x)
        x0 = rng.uniform(lo_x + travel, hi_x) if motion == "left" else rng.uniform(lo_x, hi_x - travel)
        x1 = x0 - travel if motion == "left" else x0 + travel
    elif motion in ("up", "down"):
        travel = min(travel, hi_y - lo_y)
        y0 = rng.uniform(lo_y + travel, hi_y) if motion == "up" else rng.uniform(lo_y, hi_y - travel)
        y1 = y0 - travel if motion == "up" else y0 + travel
    else:
        small_size = rng.uniform(4.0, 5.0) if small else rng.uniform(5.0, 7.0)
        large_size = rng.uniform(9.0, 11.0) if small else rng.uniform(12.0, 14.0)
        size0, size1 = (small_size, large_size) if motion == "grows" else (large_size, small_size)
    return x0, y0, x1, y1, size0, size1


def _view(spec: SceneSpec, t: int, frames: int) -> tuple[float, float, float]:
    """The camera at frame t: the view centre (scene units) and its magnification."""
    a = t / max(frames - 1, 1)
    return (32.0 + spec.camera_shift[0] * a, 32.0 + spec.camera_shift[1] * a, spec.camera_zoom**a)


def object_in_frame(spec: SceneSpec, obj: ObjectSpec, t: int, frames: int = 17) -> tuple[float, float, float]:
    """An object's centre and half-extent in frame units (64x64) at frame t, through the camera."""
    x, y, half = obj.at(t, frames)
    cx, cy, zoom = _view(spec, t, frames)
    return 32.0 + (x - cx) * zoom, 32.0 + (y - cy) * zoom, half * zoom


def _fits(spec: SceneSpec, frames: int = 17, margin: float = 2.0, gap: float = 4.0) -> bool:
    """Every object whole inside every frame, and two objects never closer than ``gap`` pixels."""
    for t in range(frames):
        placed = [object_in_frame(spec, o, t, frames) for o in spec.objects]
        for x, y, half in placed:
            reach = half * 1.15 + margin  # a triangle reaches 1.15 half-extents from its centre
            if not (reach <= x <= 64 - reach and reach <= y <= 64 - reach):
                return False
        if len(placed) == 2:
            (xa, ya, ha), (xb, yb, hb) = placed
            if np.hypot(xa - xb, ya - yb) < 1.2 * (ha + hb) + gap:
                return False
    return True


def _camera(rng: random.Random) -> tuple[str, tuple[float, float], float]:
    move = rng.choice(CAMERA_MOVES)
    travel = rng.uniform(12.0, 16.0)
    shift = {"pans left": (-travel, 0.0), "pans right": (travel, 0.0),
             "tilts up": (0.0, -travel), "tilts down": (0.0, travel)}.get(move, (0.0, 0.0))
    zoom = {"zooms in": rng.uniform(1.45, 1.6), "zooms out": 1.0 / rng.uniform(1.45, 1.6)}.get(move, 1.0)
    return move, shift, zoom


def _background_choice(rng: random.Random) -> tuple[str, str | None]:
    backgrounds = list(W.BACKGROUND_COLOURS)
    background = rng.choice(backgrounds)
    to = rng.choice([b for b in backgrounds if b != background]) if rng.random() < 0.3 else None
    return background, to


def scene_for_condition(seed: int, condition: str, split: str = "train") -> SceneSpec:
    """A scene of ``condition`` drawn from ``seed``; 'train' avoids the held-out combinations per object."""
    if condition == "base":
        return from_world(W.spec_for_seed(seed, split))
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}: one of {', '.join(CONDITIONS)}")
    rng = random.Random(seed * 7 + CONDITIONS.index(condition))
    for _ in range(200):
        background, background_to = _background_choice(rng)
        texture, camera, shift, zoom, still = None, STATIC, (0.0, 0.0), 1.0, False
        if condition == "textured":
            texture, background_to = rng.choice(TEXTURES), None
            still = rng.random() < STILL_PHRASE_RATE and split == "train"
        elif condition == "camera":
            texture, background_to = rng.choice(CAMERA_TEXTURES), None
            camera, shift, zoom = _camera(rng)
        elif rng.random() < 0.4:  # two objects: on a texture now and then, so the conditions combine
            texture, background_to = rng.choice(TEXTURES), None
        if condition == "two_objects":
            first = _draw_identity(rng, split)
            second = _draw_identity(rng, split, avoid_colour=first[0])
            # Apart by construction: one object in each half (left/right or top/bottom), then checked.
            if rng.random() < 0.5:
                boxes = [(12.0, 12.0, 30.0, 52.0), (34.0, 12.0, 52.0, 52.0)]
            else:
                boxes = [(12.0, 12.0, 52.0, 30.0), (12.0, 34.0, 52.0, 52.0)]
            rng.shuffle(boxes)
            objects = tuple(ObjectSpec(c, s, m, *_draw_path(rng, m, box, small=True))
                            for (c, s, m), box in zip((first, second), boxes, strict=True))
        else:
            colour, shape, motion = _draw_identity(rng, split)
            box = (18.0, 18.0, 46.0, 46.0) if condition == "camera" else (14.0, 14.0, 50.0, 50.0)
            objects = (ObjectSpec(colour, shape, motion, *_draw_path(rng, motion, box, small=False)),)
        spec = SceneSpec(seed, condition, objects, background, background_to, texture, camera, shift, zoom,
                         still)
        if _fits(spec):
            return spec
    raise RuntimeError(f"no {condition} scene fits the frame for seed {seed}")  # not seen; a guard


def scene_for_seed(seed: int, split: str = "train") -> SceneSpec:
    """A training scene: its condition drawn by TRAINING_MIX from the seed, then the scene."""
    roll = random.Random(seed * 13 + 5).random()
    total = 0.0
    for condition, share in TRAINING_MIX.items():
        total += share
        if roll < total:
            return scene_for_condition(seed, condition, split)
    return scene_for_condition(seed, CONDITIONS[-1], split)


def eval_scenes(condition: str, count: int, offset: int = 0) -> list[SceneSpec]:
    """Held-out scenes of one condition: seeds from EVAL_SEED_BASE, every combination allowed."""
    base = W.EVAL_SEED_BASE + CONDITION_OFFSETS[condition] + offset
    return [scene_for_condition(base + i, condition, split="eval") for i in range(count)]


def from_world(spec: W.ClipSpec) -> SceneSpec:
    return SceneSpec(spec.seed, "base", (_base_object(spec),), spec.background, spec.background_to)


# ---- drawing the pixels


def _noise_field(seed: int) -> np.ndarray:
    """A smooth random field in [-1, 1] over the scene region views can reach, at 4 samples per unit."""
    cells = int(_NOISE_EXTENT / _NOISE_CELL) + 1
    grid = np.random.default_rng(seed).uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
    side = int(_NOISE_EXTENT * 4)
    field = cv2.resize(grid, (side, side), interpolation=cv2.INTER_CUBIC)
    return np.clip(field * 1.5, -1.0, 1.0)


def _texture(spec: SceneSpec, xs: np.ndarray, ys: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    """The texture's value in [-1, 1] at scene points (xs, ys)."""
    if spec.texture == "striped":
        return np.clip(1.6 * np.sin(2 * np.pi * xs / STRIPE_PERIOD), -1.0, 1.0)
    if spec.texture == "checkered":
        return np.clip(2.5 * np.sin(2 * np.pi * xs / CHECK_PERIOD) * np.sin(2 * np.pi * ys / CHECK_PERIOD), -1.0, 1.0)
    assert noise is not None
    map_x = ((xs - _NOISE_ORIGIN) * 4.0).astype(np.float32)
    map_y = ((ys - _NOISE_ORIGIN) * 4.0).astype(np.float32)
    return cv2.remap(noise, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _background(spec: SceneSpec, t: int, frames: int, size: int, noise: np.ndarray | None) -> np.ndarray:
    if spec.texture is None:
        flat = W.ClipSpec(spec.seed, "", "", "", spec.background, spec.background_to, STATIC,
                          0, 0, 0, 0, 0, 0)
        return W._background(flat, size)
    # Drawn at twice the size and averaged down, so stripe and check edges are anti-aliased as the objects are.
    fine = size * 2
    cx, cy, zoom = _view(spec, t, frames)
    pixel = (np.arange(fine, dtype=np.float32) + 0.5) * (64.0 / fine)  # frame units
    xs = cx + (pixel[None, :] - 32.0) / zoom
    ys = cy + (pixel[:, None] - 32.0) / zoom
    xs, ys = np.broadcast_to(xs, (fine, fine)), np.broadcast_to(ys, (fine, fine))
    value = _texture(spec, xs, ys, noise)
    colour = np.array(W.BACKGROUND_COLOURS[spec.background], dtype=np.float32)
    image = np.clip(colour + TEXTURE_AMPLITUDE * value[..., None], 0.0, 255.0)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def render_scene_frame(spec: SceneSpec, t: int, frames: int = 17, size: int = 64,
                       noise: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frame t as uint8 [H, W, 3] and the objects' summed coverage float32 [H, W]."""
    if spec.texture == "noise" and noise is None:
        noise = _noise_field(spec.seed)
    image = _background(spec, t, frames, size, noise)
    total = np.zeros((size, size), dtype=np.float32)
    scale = size / 64.0
    for obj in spec.objects:
        x, y, half = object_in_frame(spec, obj, t, frames)
        cover = W._shape_mask(obj.shape, x * scale, y * scale, half * scale, size)
        colour = np.array(W.OBJECT_COLOURS[obj.colour], dtype=np.float32)
        image = image * (1.0 - cover[..., None]) + colour * cover[..., None]
        total = np.maximum(total, cover)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), total


def render_scene(spec: SceneSpec, frames: int = 17, size: int = 64,
                 only: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The clip as uint8 [T, H, W, 3] and coverage [T, H, W]; ``only`` draws just those frames (in order)."""
    times = list(range(frames)) if only is None else list(only)
    noise = _noise_field(spec.seed) if spec.texture == "noise" else None
    video = np.empty((len(times), size, size, 3), dtype=np.uint8)
    masks = np.empty((len(times), size, size), dtype=np.float32)
    for i, t in enumerate(times):
        video[i], masks[i] = render_scene_frame(spec, t, frames, size, noise)
    return video, masks
