"""Audio for export and loading: validation, trimming to a frame range, padding, resampling, channel mixes."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from studio.errors import MediaError

MIN_RATE = 8_000
MAX_RATE = 192_000
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 6: "5.1", 8: "7.1"}
_FRONT = {"FL": "L", "FR": "R", "FC": "C"}
_LFE = {"LFE", "LFE2", "LFE3", "LOW_FREQUENCY", "LOW_FREQUENCY_2"}


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
    # Checked a block at a time and clipped only when needed: a loaded sound (float32 in -1..1 already)
    # passes through without a copy, however long it is.
    for start in range(0, data.shape[0], 1 << 20):
        if not np.all(np.isfinite(data[start : start + (1 << 20)])):
            raise MediaError("audio contains NaN or infinite samples", hint="check the node that made the audio")
    layout_for(data.shape[1])
    if data.size and (data.min() < -1.0 or data.max() > 1.0):
        data = np.clip(data, -1.0, 1.0)
    return data, int(rate)


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
    from scipy.signal import resample_poly  # scipy takes a noticeable time to import: only when resampling

    out = resample_poly(audio, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
    expected = round(Fraction(audio.shape[0]) * ratio)
    if out.shape[0] > expected:
        out = out[:expected]
    elif out.shape[0] < expected:
        out = np.concatenate([out, np.zeros((expected - out.shape[0], audio.shape[1]), np.float32)])
    return np.clip(out, -1.0, 1.0)


def mix_matrix(names: Sequence[str], channels: int) -> np.ndarray:
    """Weights [sources, channels] that mix the named source channels (FL, FR, FC, LFE, BL, ...) to mono or stereo.

    Front left and right count fully, centre, surround and back channels at -3 dB, the LFE not at all (it is
    bass the small speakers of the preview cannot play and that muddies beat detection). Each output's
    weights sum to 1, so a mix can never clip: loud multichannel files come out somewhat quieter instead.
    """
    if channels not in (1, 2):
        raise ValueError(f"mixes go to mono or stereo, not {channels} channels")
    weights = np.zeros((len(names), 2), np.float64)
    for i, name in enumerate(names):
        name = name.upper()
        if name in _LFE:
            continue
        side = _FRONT.get(name) or ("L" if name.endswith("L") or name == "FLC" else
                                    "R" if name.endswith("R") or name == "FRC" else "C")
        gain = 1.0 if name in _FRONT and side != "C" else np.sqrt(0.5)
        if side in ("L", "C"):
            weights[i, 0] = gain
        if side in ("R", "C"):
            weights[i, 1] = gain
    if len(names) == 1:
        weights[0] = 1.0  # a lone channel is the sound, whatever its name
    if channels == 1:
        weights = weights.sum(axis=1, keepdims=True)
    totals = weights.sum(axis=0)
    if not np.all(totals > 0):  # only LFE channels, say: fall back to an even mix
        weights = np.full((len(names), channels), 1.0)
        totals = weights.sum(axis=0)
    return (weights / totals).astype(np.float32)


def mix(block: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``block`` [n, sources] @ ``matrix`` [sources, channels], as float32.

    Done 4,096 rows at a time: products that small stay on one BLAS thread, while one large product wakes
    OpenBLAS's thread pool, which on a busy machine spins (measured 50 times slower on 2 shared cores).
    """
    out = np.empty((block.shape[0], matrix.shape[1]), np.float32)
    for start in range(0, block.shape[0], 4096):
        np.matmul(block[start : start + 4096], matrix, out=out[start : start + 4096])
    return out


class StreamResampler:
    """Float32 [n, channels] blocks at ``rate`` in, the same sound at ``target`` out, with no seams at the blocks.

    Long sounds are converted a block at a time so that only the output is ever held whole; swresample
    (through PyAV) carries its filter state from block to block, which a per-block polyphase filter would not.
    """

    def __init__(self, rate: int, target: int, channels: int) -> None:
        import av

        self.rate, self.target, self.channels = int(rate), int(target), int(channels)
        self._layout = "mono" if channels == 1 else "stereo"
        if channels not in (1, 2):
            raise ValueError("the stream resampler takes mono or stereo")
        self._resampler = None if rate == target else av.AudioResampler(format="flt", layout=self._layout,
                                                                        rate=self.target)
        self._av = av

    def push(self, block: np.ndarray) -> np.ndarray:
        """The output for ``block`` so far (the resampler holds back a few samples until the next block)."""
        if self._resampler is None:
            return block
        frame = self._av.AudioFrame.from_ndarray(np.ascontiguousarray(block, np.float32).reshape(1, -1),
                                                 format="flt", layout=self._layout)
        frame.sample_rate = self.rate
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        """What the resampler still holds once the input has ended."""
        if self._resampler is None:
            return np.zeros((0, self.channels), np.float32)
        return self._collect(self._resampler.resample(None))

    def _collect(self, frames) -> np.ndarray:
        parts = [f.to_ndarray().reshape(-1, self.channels) for f in frames]
        if not parts:
            return np.zeros((0, self.channels), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
