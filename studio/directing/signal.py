"""The Signal Math operations, smoothing and beat envelopes (the Signal value itself lives in studio.values)."""

from __future__ import annotations

import numpy as np

from studio.directing import DirectingError
from studio.values import Signal

SIGNAL_OPS = ("scale", "offset", "smooth", "threshold", "invert", "clamp")


def apply_op(signal: Signal, op: str, amount: float | np.ndarray) -> Signal:
    """One Signal Math operation; ``amount`` means: factor, offset, smoothing seconds, threshold level.
    Scale and offset also take one amount per frame (an array as long as the signal)."""
    v = signal.values.astype(np.float64)
    if isinstance(amount, np.ndarray):
        if op not in ("scale", "offset") or amount.shape != v.shape:
            raise DirectingError(f"signal operation '{op}' takes one number here, not a per-frame array")
        out = v * amount if op == "scale" else v + amount
        return Signal(out.astype(np.float32), signal.fps, label=f"{signal.label} {op} by signal".strip(),
                      events=signal.events)
    if op == "scale":
        out = v * amount
    elif op == "offset":
        out = v + amount
    elif op == "smooth":
        out = smooth(v, amount * signal.fps)
    elif op == "threshold":
        out = (v >= amount).astype(np.float64)
    elif op == "invert":
        out = 1.0 - v
    elif op == "clamp":
        out = np.clip(v, 0.0, 1.0)
    else:
        raise DirectingError(f"unknown signal operation '{op}'", hint=f"use one of {', '.join(SIGNAL_OPS)}")
    return Signal(out.astype(np.float32), signal.fps, label=f"{signal.label} {op} {amount:g}".strip(),
                  events=signal.events)


def smooth(values: np.ndarray, width_frames: float) -> np.ndarray:
    """Gaussian smoothing with sigma = width / 2 frames; the ends are reflected so they do not sag."""
    if width_frames <= 0.0 or values.size < 2:
        return np.asarray(values, dtype=np.float64)
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(values, dtype=np.float64), sigma=width_frames / 2.0, mode="nearest")


def pulses(events: tuple[int, ...] | list[int], num_frames: int, decay_frames: float = 2.0) -> np.ndarray:
    """1 at each event frame, falling off exponentially after it: a beat-driven envelope."""
    out = np.zeros(num_frames, np.float32)
    index = np.arange(num_frames)
    for frame in events:
        if 0 <= frame < num_frames:
            tail = index[frame:] - frame
            out[frame:] = np.maximum(out[frame:], np.exp(-tail / max(decay_frames, 1e-3)))
    return out
