"""JPEG in and out for the frame store: whole frames, reduced decodes and the small proxy copies."""

from __future__ import annotations

import cv2
import numpy as np

PROXY_QUALITY = 80  # proxies are thumbnails and scrub drafts: a softer JPEG is not seen
_REDUCED_FLAGS = {
    1: cv2.IMREAD_COLOR_RGB,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def to_jpeg(frame: np.ndarray, quality: int) -> bytes | None:
    """uint8 RGB ``frame`` as JPEG bytes, or None when OpenCV could not compress it."""
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None


def from_jpeg(data: bytes, reduce: int = 1) -> np.ndarray:
    """JPEG bytes as uint8 RGB, decoded at 1/``reduce`` size (1, 2, 4 or 8: DCT scaling, so cheaper)."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED_FLAGS[reduce])
    if pixels is None:
        raise ValueError("a stored frame could not be decoded")
    if reduce != 1:  # the reduced modes only come in BGR
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    return pixels


def shrink(frame: np.ndarray, divisor: int) -> np.ndarray:
    """A proxy-sized copy of ``frame``: 1/``divisor`` in each side."""
    # every other pixel first: area-averaging all of them costs ~4x for the same look
    half = frame[::2, ::2] if divisor >= 2 else frame
    return cv2.resize(
        half,
        (max(1, frame.shape[1] // divisor), max(1, frame.shape[0] // divisor)),
        interpolation=cv2.INTER_AREA,
    )
