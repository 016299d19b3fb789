"""Signals: one number per video frame (0..1 by convention), resampling in time, and the Signal Math operations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from studio.directing import DirectingError

SIGNAL_OPS = ("scale", "offset", "smooth", "threshold", "invert", "clamp")


@dataclass(frozen=True, eq=False)
class Signal:
    """Per-frame values at ``fps``; frame i covers time i / fps. ``events`` marks frames with an onset/beat."""

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
