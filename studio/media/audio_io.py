"""Audio for export: validation, trimming to a frame range, padding, resampling and channel layouts."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from studio.errors import MediaError

MIN_RATE = 8_000
MAX_RATE = 192_000
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 6: "5.1", 8: "7.1"}


def layout_for(channels: int) -> str:
    try:
        return _LAYOUTS[channels]
    except KeyError:
        raise MediaError(
            f"audio with {channels} channels has no standard layout",
            hint="mix it down to mono or stereo",
        ) from None


def samples_for_frames(frames: int, fps: Fraction, rate: int) -> int:
    """The exact sample count that lasts as long as ``frames`` video frames (rounded to the nearest sample)."""
    return round(Fraction(frames) * rate / fps)


def check_audio(audio: np.ndarray, rate: int | None) -> tuple[np.ndarray, int]:
    """Return audio as float32 [samples, channels] in [-1, 1] with its rate; refuse what cannot be right."""
    if rate is None or int(rate) != rate or not MIN_RATE <= int(rate) <= MAX_RATE:
        raise MediaError(
            f"audio sample rate {rate!r} is not usable",
            hint=f"give an integer rate between {MIN_RATE} and {MAX_RATE} Hz",
        )
    data = np.asarray(audio)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] == 0 or data.shape[1] > 8:
        raise MediaError(f"audio must be [samples, channels] with 1 to 8 channels, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.integer):
        # Integer PCM: scale by the type's full range so 16-bit and 32-bit inputs both land in [-1, 1].
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    data = data.astype(np.float32, copy=False)
    if not np.all(np.isfinite(data)):
        raise MediaError("audio contains NaN or infinite samples", hint="check the node that made the audio")
    layout_for(data.shape[1])
    return np.clip(data, -1.0, 1.0), int(rate)


def fit_to_frames(
    audio: np.ndarray, rate: int, fps: Fraction, first_frame: int, frame_count: int
) -> np.ndarray:
    """Cut the audio that plays under frames [first_frame, first_frame + frame_count), padding with silence.

    Sample 0 of the audio plays with frame 0 of the clip, so the range is taken in the same time base.
    """
    start = samples_for_frames(first_frame, fps, rate)
    length = samples_for_frames(first_frame + frame_count, fps, rate) - start
    piece = audio[start : start + length]
    if piece.shape[0] < length:
        pad = np.zeros((length - piece.shape[0], audio.shape[1]), np.float32)
        piece = np.concatenate([piece, pad], axis=0)
    return np.ascontiguousarray(piece, dtype=np.float32)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling to ``target`` Hz, keeping the duration to the sample."""
    if rate == target:
        return audio
    ratio = Fraction(target, rate)
    out = resample_poly(audio, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
    expected = round(Fraction(audio.shape[0]) * ratio)
    if out.shape[0] > expected:
        out = out[:expected]
    elif out.shape[0] < expected:
        out = np.concatenate([out, np.zeros((expected - out.shape[0], audio.shape[1]), np.float32)])
    return np.clip(out, -1.0, 1.0)
