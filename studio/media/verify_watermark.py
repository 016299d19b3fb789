"""Reading the watermark of a file from anyone for `studio verify`: a bounded number of frames, at reduced size."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from studio.errors import MediaError
from studio.media import watermark as wm
from studio.media.process_memory import memory_headroom
from studio.media.video_read import MAX_UNTRUSTED_PIXELS, UntrustedVideo

MAX_FRAMES = 96  # a vote over this many frames reads a clip re-encoded at CRF 35 (tests/media/test_export.py)
# Decoded pixels per check, all frames together: 96 frames of 1080p, 24 of 4K, 6 of 8K.
PIXEL_BUDGET = 96 * 1920 * 1080
READ_SECONDS = 8.0  # decoding stops after this; the report says how many frames it read
MIN_REDUCED_CELL = 12  # px; each reduced pixel is rounded to a level, so keep >= 144 of them per cell


@dataclass
class WatermarkRead:
    """What the child found, as plain data for the parent."""

    found: bool
    payload: str | None
    confidence: float
    p_value: float
    summary: str
    frames_read: int
    frames_total: int | None
    frames_planned: int
    width: int
    height: int
    scale: int
    stopped: str | None  # why reading ended before frames_planned, if it did


def watermark_scale(height: int, width: int) -> int:
    """The largest whole factor to shrink a frame by that keeps the watermark's cells exactly.

    The detector cuts the frame into cells sized from the frame (watermark.layout_for) and reads one
    mean per cell. When the shrunk frame's layout is the full one divided by the factor (same rows and
    columns, cell, top and left all scaled), each reduced cell is the box average of the same pixels,
    so the cell means, and the detection with them, are the full-size ones up to a rounding of each
    reduced pixel to a whole level. A 1280x720 frame reads at 1/4 (320x180), 3840x2160 at 1/12,
    7680x4320 at 1/24; 64x64 (cells of 8 px) is read as it is.
    """
    full = wm.layout_for(height, width)
    best = 1
    for factor in range(2, full.cell // MIN_REDUCED_CELL + 1):
        if full.cell % factor:
            continue
        try:
            small = wm.layout_for(height // factor, width // factor)
        except MediaError:
            continue
        scaled = (small.cell * factor, small.rows, small.cols, small.top * factor, small.left * factor)
        if scaled == (full.cell, full.rows, full.cols, full.top, full.left):
            best = factor
    return best


def read_watermark(
    path: str,
    *,
    max_frames: int = MAX_FRAMES,
    pixel_budget: int = PIXEL_BUDGET,
    seconds: float = READ_SECONDS,
    max_pixels: int = MAX_UNTRUSTED_PIXELS,
) -> dict[str, Any]:
    """Detect the watermark in the first frames of ``path`` (runs in the verify child; MediaError when the
    file cannot be read or is too large to check)."""
    deadline = time.monotonic() + seconds
    with UntrustedVideo(path, max_pixels=max_pixels) as video:
        shape = video.shape
        scale = watermark_scale(shape.height, shape.width)
        planned = max(1, min(max_frames, pixel_budget // (shape.width * shape.height)))
        if shape.frames:
            planned = min(planned, shape.frames)
        detector: wm.Detector | None = None
        try:
            for luma in video.luma(scale=scale, max_frames=planned, deadline=deadline):
                if detector is None:
                    detector = wm.Detector(luma.shape[0], luma.shape[1])
                detector.add_luma(luma)
        except MediaError:
            # ffmpeg reports an allocation that failed inside a decoder as "invalid data": when the
            # memory limit is within a few pictures, that is what happened.
            room = memory_headroom()
            if room is not None and room < 3 * shape.width * shape.height + (16 << 20):
                raise MemoryError from None
            raise
        stopped = video.stopped
    if detector is None:
        raise MediaError("the video has no decodable frames", path=path)
    found = detector.result()
    return asdict(
        WatermarkRead(
            found=found.found,
            payload=found.payload_hex,
            confidence=found.confidence,
            p_value=found.p_value,
            summary=found.describe(),
            frames_read=found.frames,
            frames_total=shape.frames,
            frames_planned=planned,
            width=shape.width,
            height=shape.height,
            scale=scale,
            stopped=stopped,
        )
    )
