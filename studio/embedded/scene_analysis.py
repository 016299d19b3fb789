"""Plain image analysis of richer-world clips (no model): objects by colour, the camera's move, motion in the scene.

The old analysis (``analysis.py``) finds the one object against a plain or gradient background by its distance
from the background's colour; a texture moving with the camera defeats that. Here an object is found by its
colour instead: objects are saturated palette colours, backgrounds (textured or not) are neutral or navy, so a
pixel both saturated and near a palette colour belongs to that colour's object. The camera's move is a
similarity (shift and zoom about the centre) fitted to the optical flow of the background between consecutive
frames; each object's motion is read after taking that move out, so "moves left while the camera pans left"
reads as the object's own motion. Clips are read at 64x64 (bigger ones are averaged down first), the size
every threshold here and in ``analysis.py`` is set for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from studio.embedded.analysis import MIN_AREA_RATIO, MIN_OBJECT_PIXELS, MIN_TRAVEL, shape_of
from studio.embedded.world import OBJECT_COLOURS

SIZE = 64
MIN_CHROMA = 90.0  # max - min channel; the palette's colours have 170-210, backgrounds at most 60 (navy)
MAX_PALETTE_DISTANCE = 120.0  # 0-255 RGB, Euclidean
# A camera move must shift the scene this far (64x64 pixels, over the clip) or zoom it this much to count.
MIN_CAMERA_SHIFT = 4.0
MIN_CAMERA_ZOOM = 1.2
MIN_TEXTURED_SHARE = 0.1  # of background pixels with visible texture; fewer and the camera reads as static
# Mean absolute Laplacian (0-255 brightness) of background pixels from which a background counts as textured.
MIN_TEXTURE = 1.5  # the world: plain and gradient backgrounds at most 1.1, textures from 1.8

_NAMES = list(OBJECT_COLOURS)
_PALETTE = np.array([OBJECT_COLOURS[n] for n in _NAMES], dtype=np.float32)


@dataclass
class ObjectTrack:
    """One colour's object: its shape, its motion in the scene (camera taken out) and its size on screen."""

    colour: str
    shape: str | None
    motion: str | None
    pixels: float  # mean object pixels per frame
    displacement: tuple[float, float]
    area_ratio: float


@dataclass
class SceneAnalysis:
    """What a clip shows: its objects, largest first, and the camera's move."""

    objects: list[ObjectTrack]
    camera: str  # one of scenes.CAMERA_MOVES or "static"
    camera_shift: tuple[float, float]  # how far the scene slid on screen over the clip (64x64 pixels)
    camera_zoom: float  # how much it grew on screen over the clip
    texture: float = 0.0  # mean absolute Laplacian of background brightness (MIN_TEXTURE and up: textured)
    tracks: dict[str, ObjectTrack] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tracks = {o.colour: o for o in self.objects}


def at_analysis_size(video: np.ndarray) -> np.ndarray:
    if video.shape[1] == SIZE and video.shape[2] == SIZE:
        return video
    return np.stack([cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_AREA) for f in video])


def colour_masks(video: np.ndarray) -> dict[str, np.ndarray]:
    """Per palette colour, the pixels [T, H, W] that are saturated and nearest that colour."""
    pixels = video.astype(np.float32)
    chroma = pixels.max(axis=-1) - pixels.min(axis=-1)
    distances = np.sqrt(((pixels[..., None, :] - _PALETTE) ** 2).sum(axis=-1))
    nearest = distances.argmin(axis=-1)
    found = (chroma > MIN_CHROMA) & (distances.min(axis=-1) < MAX_PALETTE_DISTANCE)
    return {name: found & (nearest == i) for i, name in enumerate(_NAMES)}


def _pair_motion(a: np.ndarray, b: np.ndarray, background: np.ndarray) -> tuple[float, float, float] | None:
    """(shift x, shift y, k) of b against a on textured background pixels: flow = shift + k (p - centre)."""
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)
    gy, gx = np.gradient(a.astype(np.float32))
    textured = background & (np.hypot(gx, gy) > 2.0)
    if textured.sum() < MIN_TEXTURED_SHARE * background.size:
        return None
    ys, xs = np.nonzero(textured)
    centre = (SIZE - 1) / 2.0
    rx, ry = xs - centre, ys - centre
    # Only the flow across an edge is seen (the aperture problem: along a stripe, flow is whatever the smoothing
    # brought in from elsewhere), so each pixel constrains the move along its gradient only. Unknowns (sx, sy,
    # k) of u = sx + k rx, v = sy + k ry; a move no pixel can see (along stripes) comes out as zero.
    norm = np.hypot(gx[ys, xs], gy[ys, xs])
    nx, ny = gx[ys, xs] / norm, gy[ys, xs] / norm
    design = np.stack([nx, ny, nx * rx + ny * ry], axis=1).astype(np.float64)
    target = nx * flow[ys, xs, 0] + ny * flow[ys, xs, 1]
    (sx, sy, k), *_ = np.linalg.lstsq(design, target, rcond=1e-3)
    return float(sx), float(sy), float(k)


def camera_path(video: np.ndarray, objects: np.ndarray) -> list[tuple[float, float, float]]:
    """Per frame t, the similarity from frame 0 to frame t as (zoom, shift x, shift y): a scene point p in frame 0
    is at centre + zoom (p - centre) + shift in frame t. ``objects`` [T, H, W] marks pixels to leave out."""
    gray = video.astype(np.float32).mean(axis=-1).astype(np.uint8)
    kernel = np.ones((11, 11), np.uint8)  # the flow's window reaches this far from an object
    away = [cv2.dilate(m.astype(np.uint8), kernel) == 0 for m in objects]
    border = np.zeros((SIZE, SIZE), dtype=bool)
    border[4:-4, 4:-4] = True
    path = [(1.0, 0.0, 0.0)]
    zoom, shift_x, shift_y = 1.0, 0.0, 0.0
    for t in range(len(video) - 1):
        step = _pair_motion(gray[t], gray[t + 1], away[t] & away[t + 1] & border)
        if step is not None:
            sx, sy, k = step
            zoom, shift_x, shift_y = zoom * (1 + k), shift_x * (1 + k) + sx, shift_y * (1 + k) + sy
        path.append((zoom, shift_x, shift_y))
    return path


def camera_move(zoom: float, shift_x: float, shift_y: float) -> str:
    """The caption's camera words for a whole-clip move: the scene sliding right means the camera panned left."""
    if zoom >= MIN_CAMERA_ZOOM:
        return "zooms in"
    if zoom <= 1.0 / MIN_CAMERA_ZOOM:
        return "zooms out"
    if max(abs(shift_x), abs(shift_y)) < MIN_CAMERA_SHIFT:
        return "static"
    if abs(shift_x) >= abs(shift_y):
        return "pans left" if shift_x > 0 else "pans right"
    return "tilts up" if shift_y > 0 else "tilts down"


def _motion(start: tuple[float, float], end: tuple[float, float], area_ratio: float) -> str | None:
    dx, dy = end[0] - start[0], end[1] - start[1]
    if area_ratio >= MIN_AREA_RATIO:
        return "grows"
    if area_ratio <= 1.0 / MIN_AREA_RATIO:
        return "shrinks"
    if max(abs(dx), abs(dy)) < MIN_TRAVEL:
        return None
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def _track(colour: str, masks: np.ndarray, path: list[tuple[float, float, float]]) -> ObjectTrack:
    """The object of one colour, its centroids and areas mapped back into frame 0's scene coordinates."""
    centre = (SIZE - 1) / 2.0
    points: list[tuple[float, float] | None] = []
    areas = []
    for mask, (zoom, sx, sy) in zip(masks, path, strict=True):
        area = float(mask.sum())
        areas.append(area / (zoom * zoom))
        if area < MIN_OBJECT_PIXELS / 2:
            points.append(None)
            continue
        ys, xs = np.nonzero(mask)
        points.append((centre + (xs.mean() - centre - sx) / zoom, centre + (ys.mean() - centre - sy) / zoom))
    third = max(len(masks) // 6, 1)

    def mean_point(part: list) -> tuple[float, float] | None:
        found = [p for p in part if p is not None]
        return (float(np.mean([p[0] for p in found])), float(np.mean([p[1] for p in found]))) if found else None

    start, end = mean_point(points[:third]), mean_point(points[-third:])
    area_ratio = float((np.mean(areas[-third:]) + 1.0) / (np.mean(areas[:third]) + 1.0))
    shapes = [s for s in (shape_of(m) for m in masks) if s is not None]
    shape = max(set(shapes), key=shapes.count) if shapes else None
    motion = _motion(start, end, area_ratio) if start and end else None
    displacement = (end[0] - start[0], end[1] - start[1]) if start and end else (0.0, 0.0)
    return ObjectTrack(colour, shape, motion, float(masks.reshape(len(masks), -1).sum(axis=1).mean()),
                       displacement, area_ratio)


def analyse_scene(video: np.ndarray) -> SceneAnalysis:
    """Read the objects (by colour), the camera's move and each object's own motion from uint8 [T, H, W, 3]."""
    video = at_analysis_size(video)
    masks = colour_masks(video)
    present = {name: m for name, m in masks.items() if m.reshape(len(m), -1).sum(axis=1).mean() >= MIN_OBJECT_PIXELS}
    anything = np.zeros(video.shape[:3], dtype=bool)
    for m in masks.values():
        anything |= m
    path = camera_path(video, anything)
    zoom, sx, sy = path[-1]
    objects = sorted((_track(name, m, path) for name, m in present.items()), key=lambda o: -o.pixels)
    return SceneAnalysis(objects, camera_move(zoom, sx, sy), (sx, sy), zoom, texture_strength(video, anything))


def texture_strength(video: np.ndarray, objects: np.ndarray) -> float:
    """Mean absolute Laplacian of the brightness away from every object, over the clip: a texture's edges give
    it, a gradient background (a ramp, whose second derivative is zero) does not."""
    gray = video.astype(np.float32).mean(axis=-1)
    curvature = np.abs(np.stack([cv2.Laplacian(frame, cv2.CV_32F) for frame in gray]))
    kernel = np.ones((5, 5), np.uint8)
    away = np.stack([cv2.dilate(m.astype(np.uint8), kernel) == 0 for m in objects])
    return float(curvature[away].mean()) if away.any() else 0.0
