"""Plain image analysis of clips (no model): background, object mask, colour, shape, motion, flicker."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from studio.embedded.world import OBJECT_COLOURS

# A pixel this far (Euclidean, 0-255 RGB) from the background is object.
OBJECT_DISTANCE = 60.0
# Fewer object pixels than this per frame on average means no object was drawn.
MIN_OBJECT_PIXELS = 12.0
# A translation must cover at least this many pixels (64x64 frame) to count; the world moves 20-26.
MIN_TRAVEL = 6.0
# Grows/shrinks must change the area by at least this factor; the world changes it about 4x.
MIN_AREA_RATIO = 1.5

_PALETTE_NAMES = list(OBJECT_COLOURS)
_PALETTE = np.array([OBJECT_COLOURS[n] for n in _PALETTE_NAMES], dtype=np.float32)


@dataclass
class ClipAnalysis:
    """What a clip shows, read from its pixels."""

    colour: str | None
    shape: str | None
    motion: str | None
    displacement: tuple[float, float]
    area_ratio: float
    object_pixels: float
    background_flicker: float  # largest per-frame mean abs change of background pixels, 0-255
    centroids: list[tuple[float, float] | None]


def background_rows(video: np.ndarray) -> np.ndarray:
    """Per-row background colour [H, 3]: backgrounds are plain or vertical gradients, and the object never
    covers half of a row across the whole clip, so a median over time and columns is the background."""
    frames, height, width, _ = video.shape
    rows = video.astype(np.float32).transpose(1, 0, 2, 3).reshape(height, frames * width, 3)
    return np.median(rows, axis=1)


def object_masks(video: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    if background is None:
        background = background_rows(video)
    diff = video.astype(np.float32) - background[None, :, None, :]
    return np.sqrt((diff**2).sum(axis=-1)) > OBJECT_DISTANCE


def dominant_colour(video: np.ndarray, masks: np.ndarray) -> str | None:
    pixels = video[masks].astype(np.float32)
    if len(pixels) == 0:
        return None
    distances = ((pixels[:, None, :] - _PALETTE[None]) ** 2).sum(axis=-1)
    votes = np.bincount(distances.argmin(axis=1), minlength=len(_PALETTE_NAMES))
    return _PALETTE_NAMES[int(votes.argmax())]


def shape_of(mask: np.ndarray) -> str | None:
    """Fill ratio of the largest blob's bounding box: square ~1.0, circle ~0.79, triangle ~0.5."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    best = 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
    area = stats[best, cv2.CC_STAT_AREA]
    box = stats[best, cv2.CC_STAT_WIDTH] * stats[best, cv2.CC_STAT_HEIGHT]
    if area < MIN_OBJECT_PIXELS:
        return None
    fill = area / box
    if fill > 0.89:
        return "square"
    if fill > 0.64:
        return "circle"
    return "triangle"


def _mean_centroid(centroids: list[tuple[float, float] | None]) -> tuple[float, float] | None:
    found = [c for c in centroids if c is not None]
    if not found:
        return None
    return float(np.mean([c[0] for c in found])), float(np.mean([c[1] for c in found]))


def analyse(video: np.ndarray) -> ClipAnalysis:
    """Read colour, shape and motion of the one object in a uint8 [T, H, W, 3] clip."""
    background = background_rows(video)
    masks = object_masks(video, background)
    areas = masks.reshape(len(masks), -1).sum(axis=1).astype(np.float32)
    centroids: list[tuple[float, float] | None] = []
    for mask, area in zip(masks, areas, strict=True):
        if area < MIN_OBJECT_PIXELS / 2:
            centroids.append(None)
            continue
        ys, xs = np.nonzero(mask)
        centroids.append((float(xs.mean()), float(ys.mean())))
    object_pixels = float(areas.mean())
    colour = dominant_colour(video, masks) if object_pixels >= MIN_OBJECT_PIXELS else None
    shapes = [shape_of(m) for m in masks]
    found_shapes = [s for s in shapes if s is not None]
    shape = max(set(found_shapes), key=found_shapes.count) if found_shapes else None
    third = max(len(video) // 6, 1)
    start, end = _mean_centroid(centroids[:third]), _mean_centroid(centroids[-third:])
    displacement = (0.0, 0.0) if start is None or end is None else (end[0] - start[0], end[1] - start[1])
    area_ratio = float((areas[-third:].mean() + 1.0) / (areas[:third].mean() + 1.0))
    motion = None
    if object_pixels >= MIN_OBJECT_PIXELS:
        dx, dy = displacement
        if area_ratio >= MIN_AREA_RATIO:
            motion = "grows"
        elif area_ratio <= 1.0 / MIN_AREA_RATIO:
            motion = "shrinks"
        elif max(abs(dx), abs(dy)) >= MIN_TRAVEL:
            if abs(dx) >= abs(dy):
                motion = "right" if dx > 0 else "left"
            else:
                motion = "down" if dy > 0 else "up"
    # Background pixels: away from the object in both frames (dilated so edges of a moving blob don't count).
    kernel = np.ones((5, 5), np.uint8)
    flicker = 0.0
    frames = video.astype(np.float32)
    for t in range(len(video) - 1):
        near = cv2.dilate((masks[t] | masks[t + 1]).astype(np.uint8), kernel) > 0
        still = ~near
        if still.sum() == 0:
            continue
        change = np.abs(frames[t + 1] - frames[t]).mean(axis=-1)[still].mean()
        flicker = max(flicker, float(change))
    return ClipAnalysis(
        colour=colour,
        shape=shape,
        motion=motion,
        displacement=displacement,
        area_ratio=area_ratio,
        object_pixels=object_pixels,
        background_flicker=flicker,
        centroids=centroids,
    )
