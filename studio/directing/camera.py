"""Camera paths: keyframes with per-segment easing, presets, handheld shake, signal modulation, per-frame transforms.

Conventions. Image coordinates have x to the right and y down. A frame's transform maps a point of the
reference picture (the first frame's content) to where it appears in that frame. Channels:

- ``pan_x``/``pan_y``: the camera turns right/down by that fraction of the frame (content moves left/up);
- ``zoom``: lens magnification (1 = none, 2 = twice as close), interpolated in log space;
- ``roll``: degrees, camera clockwise (content turns counter-clockwise);
- ``dolly``: fraction of the subject distance travelled forward (negative: backward);
- ``orbit``: degrees around the subject, positive to the right;
- ``crane``: the camera rises by that fraction of the frame height (content moves down).

With ``parallax`` > 0, a depth guess (far at the top of the picture, near at the bottom) makes dolly,
orbit and crane move near and far things by different amounts; pan, zoom and roll never have parallax,
as a turning camera has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from studio.directing import DirectingError
from studio.values import Signal

CHANNELS = ("pan_x", "pan_y", "zoom", "roll", "dolly", "orbit", "crane")
NEUTRAL = {"pan_x": 0.0, "pan_y": 0.0, "zoom": 1.0, "roll": 0.0, "dolly": 0.0, "orbit": 0.0, "crane": 0.0}
LIMITS = {"pan_x": (-10.0, 10.0), "pan_y": (-10.0, 10.0), "zoom": (0.05, 20.0), "roll": (-720.0, 720.0),
          "dolly": (-5.0, 0.9), "orbit": (-80.0, 80.0), "crane": (-10.0, 10.0)}
EASES = ("linear", "ease_in", "ease_out", "ease_in_out", "smooth", "hold")
PRESETS = ("static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out", "dolly_in",
           "dolly_out", "orbit_left", "orbit_right", "crane_up", "crane_down", "handheld")
FOV_DEGREES = 60.0  # horizontal field of view assumed for orbit's perspective
SHAKE_PAN = 0.015  # handheld shake at strength 1: fraction of the frame ...
SHAKE_ROLL = 1.2  # ... and degrees of roll
MAX_FRAMES_FROM_AUDIO = 1025  # the longest clip a soundtrack may ask a Camera Guide for


@dataclass(frozen=True)
class Keyframe:
    """Camera values at ``time`` seconds; ``ease`` shapes the segment that arrives at this keyframe."""

    time: float
    values: dict[str, float]
    ease: str = "linear"


def parse_keyframes(data: Any) -> list[Keyframe]:
    """Keyframes from JSON data: [{"time": 0, "pan_x": 0}, {"time": 2, "pan_x": -0.3, "ease": "smooth"}, ...].

    A channel a keyframe leaves out keeps the previous keyframe's value. Errors name the keyframe.
    """
    if not isinstance(data, list):
        raise DirectingError("camera keyframes must be a list of objects like {\"time\": 0, \"pan_x\": 0.1}")
    frames: list[Keyframe] = []
    current = dict(NEUTRAL)
    for index, item in enumerate(data):
        where = f"keyframe {index + 1}"
        if not isinstance(item, dict):
            raise DirectingError(f"{where} is not an object", hint='write it like {"time": 1.5, "zoom": 1.2}')
        unknown = set(item) - set(CHANNELS) - {"time", "ease"}
        if unknown:
            raise DirectingError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}",
                                 hint=f"fields are time, ease and {', '.join(CHANNELS)}")
        time = item.get("time")
        if isinstance(time, bool) or not isinstance(time, int | float) or not math.isfinite(time) or time < 0:
            raise DirectingError(f"{where} needs a 'time' in seconds, 0 or more (got {time!r})")
        if frames and time <= frames[-1].time:
            raise DirectingError(f"keyframes are out of order: {where} at {time:g} s does not come after "
                                 f"keyframe {index} at {frames[-1].time:g} s",
                                 hint="sort the keyframes by time; two keyframes cannot share a time")
        ease = item.get("ease", "linear")
        if ease not in EASES:
            raise DirectingError(f"{where} has unknown ease {ease!r}", hint=f"use one of {', '.join(EASES)}")
        for name in CHANNELS:
            if name in item:
                value = item[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise DirectingError(f"{where}: '{name}' must be a number (got {value!r})")
                low, high = LIMITS[name]
                if not low <= value <= high:
                    raise DirectingError(f"{where}: '{name}' = {value:g} is outside {low:g}..{high:g}")
                current[name] = float(value)
        frames.append(Keyframe(float(time), dict(current), ease))
    if not frames:
        raise DirectingError("the camera path is empty: it has no keyframes",
                             hint="add keyframes, or pick a preset other than 'keyframes'")
    return frames


def preset_keyframes(name: str, amount: float = 0.25, ease: str = "ease_in_out") -> tuple[list[Keyframe], float]:
    """A preset as keyframes over normalised time 0..1, and the handheld shake it adds."""
    if name not in PRESETS:
        raise DirectingError(f"unknown camera preset '{name}'", hint=f"use one of {', '.join(PRESETS)}")
    if ease not in EASES:
        raise DirectingError(f"unknown ease {ease!r}", hint=f"use one of {', '.join(EASES)}")
    a = float(amount)
    end: dict[str, float] = {
        "pan_left": {"pan_x": -a}, "pan_right": {"pan_x": a},
        "tilt_up": {"pan_y": -a}, "tilt_down": {"pan_y": a},
        "zoom_in": {"zoom": 1.0 + 2.0 * a}, "zoom_out": {"zoom": 1.0 / (1.0 + 2.0 * a)},
        "dolly_in": {"dolly": min(a, 0.9)}, "dolly_out": {"dolly": -a},
        "orbit_left": {"orbit": -60.0 * a}, "orbit_right": {"orbit": 60.0 * a},
        "crane_up": {"crane": a}, "crane_down": {"crane": -a},
    }.get(name, {})
    start = Keyframe(0.0, dict(NEUTRAL))
    if not end:
        # amount 0.25 (the default) is a gentle hand: about 1.5% of the frame at the widest swing
        return [start], (min(1.0, 2.0 * a) if name == "handheld" else 0.0)
    return [start, Keyframe(1.0, {**NEUTRAL, **end}, ease)], 0.0


def ease_fraction(ease: str, u: np.ndarray) -> np.ndarray:
    """Monotone easing curves on 0..1 (smooth is handled by the spline, which needs the neighbours)."""
    if ease == "ease_in":
        return u * u
    if ease == "ease_out":
        return 1.0 - (1.0 - u) ** 2
    if ease == "ease_in_out":
        return u * u * (3.0 - 2.0 * u)
    if ease == "hold":
        return np.where(u >= 1.0, 1.0, 0.0)
    return u


def _pchip_slopes(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson tangents: the cubic through the keyframes never overshoots them (no camera wobble)."""
    n = len(times)
    slopes = np.zeros(n)
    if n < 2:
        return slopes
    secant = np.diff(values) / np.diff(times)
    for i in range(1, n - 1):
        a, b = secant[i - 1], secant[i]
        if a * b > 0:
            wa = 2 * (times[i + 1] - times[i]) + (times[i] - times[i - 1])
            wb = (times[i + 1] - times[i]) + 2 * (times[i] - times[i - 1])
            slopes[i] = (wa + wb) / (wa / a + wb / b)
    return slopes


def interpolate(keyframes: list[Keyframe], channel: str, times: np.ndarray) -> np.ndarray:
    """One channel at ``times`` (seconds): exact at keyframes, held before the first and after the last."""
    kt = np.array([k.time for k in keyframes])
    kv = np.array([k.values[channel] for k in keyframes], dtype=np.float64)
    log_space = channel == "zoom"  # a steady zoom multiplies, so interpolate its logarithm
    if log_space:
        kv = np.log(kv)
    out = np.full(times.shape, kv[0], dtype=np.float64)
    if len(keyframes) > 1:
        slopes = _pchip_slopes(kt, kv)
        for i in range(1, len(keyframes)):
            t0, t1 = kt[i - 1], kt[i]
            inside = (times > t0) & (times <= t1) if i > 1 else (times >= t0) & (times <= t1)
            if not inside.any():
                continue
            u = (times[inside] - t0) / (t1 - t0)
            ease = keyframes[i].ease
            if ease == "smooth":
                h = t1 - t0
                h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
                h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
                out[inside] = h00 * kv[i - 1] + h10 * h * slopes[i - 1] + h01 * kv[i] + h11 * h * slopes[i]
            else:
                out[inside] = kv[i - 1] + (kv[i] - kv[i - 1]) * ease_fraction(ease, u)
        out[times > kt[-1]] = kv[-1]
    return np.exp(out) if log_space else out


def shake_offsets(seed: int, times: np.ndarray) -> np.ndarray:
    """Smooth pseudo-random handheld motion [len(times), 3] (pan_x, pan_y, roll) at strength 1.

    A sum of a few slow sines with seeded frequencies and phases: continuous in time, so the same at any fps.
    """
    rng = np.random.default_rng(int(seed) & 0xFFFFFFFF)
    out = np.zeros((times.size, 3))
    for column, scale in enumerate((SHAKE_PAN, SHAKE_PAN, SHAKE_ROLL)):
        freqs = rng.uniform(0.4, 2.5, 4)
        phases = rng.uniform(0, 2 * math.pi, 4)
        weights = rng.uniform(0.5, 1.0, 4)
        wave = sum(w * np.sin(2 * math.pi * f * times + p) for f, p, w in zip(freqs, phases, weights, strict=True))
        out[:, column] = scale * wave / weights.sum() * 2.0
    return out


@dataclass(frozen=True, eq=False)
class CameraPath:
    """What a Camera Path node outputs: keyframes and modifiers, sampled at the render's frame count and fps."""

    keyframes: tuple[Keyframe, ...]
    fit_to_clip: bool = False  # preset keyframes span 0..1: stretch them over the whole clip
    shake: float = 0.0
    shake_seed: int = 0
    parallax: float = 0.0
    zoom_signal: Signal | None = None
    zoom_pulse: float = 0.0  # zoom multiplies by (1 + zoom_pulse * signal)
    shake_signal: Signal | None = None  # multiplies the shake strength per frame
    label: str = ""

    def __post_init__(self) -> None:
        if not self.keyframes:
            raise DirectingError("the camera path is empty: it has no keyframes")

    @property
    def nbytes(self) -> int:
        """Size for the engine's cache budget: small, apart from the signals it holds."""
        signals = sum(s.nbytes for s in (self.zoom_signal, self.shake_signal) if s is not None)
        return 256 * len(self.keyframes) + signals

    @property
    def duration(self) -> float | None:
        """Seconds the keyframes span (None when they stretch over whatever clip they meet)."""
        return None if self.fit_to_clip else self.keyframes[-1].time

    def track(self, num_frames: int, fps: float) -> CameraTrack:
        """Per-frame camera values for a clip of ``num_frames`` at ``fps``."""
        if num_frames < 1:
            raise DirectingError(f"a camera track needs at least one frame (got {num_frames})")
        if not fps > 0:
            raise DirectingError(f"a camera track needs a positive frame rate (got {fps})")
        times = np.arange(num_frames, dtype=np.float64) / fps
        keys = list(self.keyframes)
        if self.fit_to_clip:
            span = max((num_frames - 1) / fps, 1e-9)
            keys = [replace(k, time=k.time * span) for k in keys]
        values = np.stack([interpolate(keys, name, times) for name in CHANNELS], axis=1)
        if self.zoom_signal is not None and self.zoom_pulse:
            pulse = self.zoom_signal.for_frames(num_frames, fps).astype(np.float64)
            values[:, 2] *= np.maximum(1.0 + self.zoom_pulse * pulse, 0.05)
        if self.shake > 0:
            strength = np.full(num_frames, self.shake)
            if self.shake_signal is not None:
                strength = strength * self.shake_signal.for_frames(num_frames, fps)
            wobble = shake_offsets(self.shake_seed, times) * strength[:, None]
            values[:, 0] += wobble[:, 0]
            values[:, 1] += wobble[:, 1]
            values[:, 3] += wobble[:, 2]
        return CameraTrack(values.astype(np.float64), float(fps), float(self.parallax))


@dataclass(frozen=True, eq=False)
class CameraTrack:
    """Camera values per frame, [T, len(CHANNELS)], at ``fps``: what the warps and the adherence test read."""

    values: np.ndarray
    fps: float
    parallax: float = 0.0

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])

    def channel(self, name: str) -> np.ndarray:
        return self.values[:, CHANNELS.index(name)]

    def matrix(self, index: int, width: int, height: int) -> np.ndarray:
        """The 3x3 transform of frame ``index`` at the focal plane: reference pixel -> frame pixel."""
        pan_x, pan_y, zoom, roll, dolly, orbit, crane = self.values[index]
        f = focal_length(width)
        theta = math.radians(orbit)
        phi = math.radians(roll)
        cx, cy = width / 2.0, height / 2.0
        centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
        orbit_h = np.array([[math.cos(theta), 0, 0], [0, 1, 0], [-math.sin(theta) / f, 0, 1]])
        shift = np.array([[1, 0, -pan_x * width], [0, 1, (crane - pan_y) * height], [0, 0, 1]])
        s = zoom / (1.0 - dolly)
        scale = np.diag([s, s, 1.0])
        c, sn = math.cos(phi), math.sin(phi)
        rotate = np.array([[c, sn, 0], [-sn, c, 0], [0, 0, 1]])
        back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], dtype=np.float64)
        m = back @ rotate @ scale @ shift @ orbit_h @ centre
        return m / m[2, 2]

    def matrices(self, width: int, height: int) -> np.ndarray:
        return np.stack([self.matrix(i, width, height) for i in range(self.num_frames)])

    def steps(self, width: int, height: int) -> np.ndarray:
        """Frame-to-frame transforms [T-1, 3, 3]: frame t-1 pixel -> frame t pixel."""
        mats = self.matrices(width, height)
        return np.stack([mats[t] @ np.linalg.inv(mats[t - 1]) for t in range(1, len(mats))]) if len(mats) > 1 \
            else np.zeros((0, 3, 3))

    def source_coords(self, index: int, width: int, height: int, xs: np.ndarray, ys: np.ndarray,
                      iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Where frame pixels (xs, ys) come from in the reference picture, with parallax per pixel.

        The depth guess lives on the reference picture, so the lookup is a short fixed-point iteration.
        """
        pan_x, pan_y, zoom, roll, dolly, orbit, crane = self.values[index]
        f = focal_length(width)
        theta, phi = math.radians(orbit), math.radians(roll)
        cx, cy = width / 2.0, height / 2.0
        # undo roll, then the per-depth scale and shifts, then the orbit's plane rotation
        dx, dy = xs - cx, ys - cy
        vx = dx * math.cos(phi) - dy * math.sin(phi)
        vy = dx * math.sin(phi) + dy * math.cos(phi)
        rho = np.ones_like(xs, dtype=np.float64)
        src_x, src_y = xs, ys
        rounds = iterations if self.parallax > 0 else 1
        for _ in range(rounds):
            if self.parallax > 0:
                rho = depth_inverse(src_y, height, self.parallax)
            s = zoom / (1.0 - dolly * rho)
            ux = vx / s - (f * math.sin(theta) * (1.0 - rho) - pan_x * width)
            uy = vy / s - (crane * height * rho - pan_y * height)
            x = ux / (math.cos(theta) + ux * math.sin(theta) / f)
            y = uy * (1.0 - x * math.sin(theta) / f)
            src_x, src_y = x + cx, y + cy
        return src_x, src_y


def focal_length(width: int) -> float:
    return (width / 2.0) / math.tan(math.radians(FOV_DEGREES / 2.0))


def depth_inverse(y: np.ndarray, height: int, parallax: float) -> np.ndarray:
    """Inverse depth relative to the subject plane: 1 - p/2 at the top (far) to 1 + p/2 at the bottom (near)."""
    return 1.0 + parallax * (np.clip(y / max(height, 1), 0.0, 1.0) - 0.5)


def build_path(preset: str, keyframes: Any = None, *, amount: float = 0.25, ease: str = "ease_in_out",
               shake: float = 0.0, shake_seed: int = 0, parallax: float = 0.0,
               zoom_signal: Signal | None = None, zoom_pulse: float = 0.0,
               shake_signal: Signal | None = None) -> CameraPath:
    """A CameraPath from a preset (stretched over the clip) or, with preset 'keyframes', from keyframe data."""
    if preset == "keyframes":
        keys, extra = parse_keyframes(keyframes if keyframes is not None else []), 0.0
        fit = False
    else:
        keys, extra = preset_keyframes(preset, amount, ease)
        fit = True
    if not 0.0 <= parallax <= 1.0:
        raise DirectingError(f"parallax must be between 0 and 1 (got {parallax})")
    return CameraPath(tuple(keys), fit_to_clip=fit, shake=float(shake) + extra, shake_seed=int(shake_seed),
                      parallax=float(parallax), zoom_signal=zoom_signal, zoom_pulse=float(zoom_pulse),
                      shake_signal=shake_signal, label=preset)


def frames_for_seconds(seconds: float, fps: float, step: int) -> int:
    """The valid length (step*k + 1 frames) nearest to ``seconds`` at ``fps``: a clip that follows a soundtrack."""
    wanted = max(1.0, seconds * fps)
    k = max(0, int(round((wanted - 1) / step)))
    return min(k * step + 1, (MAX_FRAMES_FROM_AUDIO - 1) // step * step + 1)
