"""Audio in: loading WAV/FLAC/OGG/MP3 with checks, trimming and resampling, and per-video-frame analysis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import MediaError
from studio.media.audio_io import MAX_RATE, MIN_RATE, resample
from studio.values import Sound

ANALYSIS_RATE = 22_050
HOP = 256  # analysis hop: 11.6 ms at 22.05 kHz, well under a video frame
N_FFT = 1024
ENVELOPE_RANGE_DB = 48.0  # the envelope spans this many dB below the loudest frame
MAX_SECONDS = 60 * 60


def load_audio(path: str | Path, *, offset: float = 0.0, duration: float = 0.0, rate: int = 0,
               mono: bool = False) -> Sound:
    """A sound file as float32 [samples, channels] in -1..1: ``offset`` seconds skipped, ``duration`` kept (0: all).

    soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3; anything else it refuses is tried
    with PyAV (AAC, M4A, ...). Files that are empty, not audio, truncated or with an impossible sample
    rate raise MediaError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError("the audio file does not exist", path=path, hint="check the path or pick the file again")
    if path.stat().st_size == 0:
        raise MediaError("the audio file is empty (0 bytes)", path=path)
    if offset < 0 or duration < 0:
        raise MediaError(f"offset and duration must be 0 or more (got {offset}, {duration})", path=path)
    _check_riff_complete(path)
    try:
        samples, native = _read_soundfile(path, offset, duration)
    except _NotForSoundfile:
        samples, native = _read_pyav(path, offset, duration)
    if not MIN_RATE <= native <= MAX_RATE:
        raise MediaError(f"the file claims a sample rate of {native} Hz, which cannot be right", path=path,
                         hint=f"usable rates are {MIN_RATE}-{MAX_RATE} Hz; re-export the file")
    if samples.shape[0] == 0:
        raise MediaError("no audio left after the offset" if offset else "the file holds no audio samples",
                         path=path, hint="lower the offset" if offset else "the file may be truncated")
    if not np.all(np.isfinite(samples)):
        raise MediaError("the audio contains NaN or infinite samples", path=path)
    samples = np.clip(samples.astype(np.float32, copy=False), -1.0, 1.0)
    if mono and samples.shape[1] > 1:
        samples = samples.mean(axis=1, keepdims=True)
    if rate and rate != native:
        if not MIN_RATE <= rate <= MAX_RATE:
            raise MediaError(f"cannot resample to {rate} Hz", hint=f"use {MIN_RATE}-{MAX_RATE} Hz")
        samples, native = resample(samples, native, int(rate)), int(rate)
    return Sound(np.ascontiguousarray(samples), int(native), source=str(path))


class _NotForSoundfile(Exception):
    pass


def _check_riff_complete(path: Path) -> None:
    """A WAV whose data chunk promises more bytes than the file holds is truncated.

    libsndfile quietly shortens such a file to what is there (a half-copied download plays as
    a shorter song), so the header is checked here.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return
        size = path.stat().st_size
        position = 12
        while position + 8 <= size:
            f.seek(position)
            chunk = f.read(8)
            name, length = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if name == b"data":
                if head[:4] == b"RIFF" and position + 8 + length > size:
                    raise MediaError(f"the file is truncated: its header promises {length} bytes of sound, "
                                     f"{size - position - 8} are there", path=path,
                                     hint="the download or copy may be incomplete")
                return
            position += 8 + length + (length & 1)


def _read_soundfile(path: Path, offset: float, duration: float) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            native = int(f.samplerate)
            if not MIN_RATE <= native <= MAX_RATE:
                return np.zeros((0, max(1, f.channels)), np.float32), native
            if f.frames > MAX_SECONDS * native:
                raise MediaError(f"the audio is longer than {MAX_SECONDS // 60} minutes", path=path)
            start = int(round(offset * native))
            if start:
                if start >= f.frames:
                    return np.zeros((0, f.channels), np.float32), native
                f.seek(start)
            count = int(round(duration * native)) if duration else -1
            data = f.read(frames=count, dtype="float32", always_2d=True)
            return data, native
    except MediaError:
        raise
    except sf.LibsndfileError as exc:
        # libsndfile's reasons are often misleading ("not a regular file" for text named .mp3):
        # let PyAV have a go, and word the refusal ourselves if it fails too.
        raise _NotForSoundfile() from exc
    except (RuntimeError, ValueError, OSError) as exc:
        raise MediaError(f"the audio cannot be read: {exc}", path=path) from None


def _read_pyav(path: Path, offset: float, duration: float) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError("not an audio file (no sound stream found)", path=path,
                                 hint="use a WAV, FLAC, OGG or MP3 file")
            stream = container.streams.audio[0]
            native = int(stream.codec_context.sample_rate or 0)
            channels = int(stream.codec_context.channels or 1)
            chunks = [frame.to_ndarray().astype(np.float32).reshape(channels, -1).T
                      if frame.format.is_planar else frame.to_ndarray().astype(np.float32).reshape(-1, channels)
                      for frame in container.decode(stream)]
    except MediaError:
        raise
    except (av.error.InvalidDataError, av.error.FFmpegError, ValueError, OSError):
        raise MediaError("not a readable audio file: it is not sound in a format Studio knows, or it is damaged",
                         path=path, hint="use a WAV, FLAC, OGG or MP3 file") from None
    data = np.concatenate(chunks) if chunks else np.zeros((0, channels), np.float32)
    if np.issubdtype(data.dtype, np.floating) and data.size and np.abs(data).max() > 1.5:
        data = data / 32768.0  # integer sample formats come through as their raw values
    start = int(round(offset * native)) if native else 0
    stop = start + int(round(duration * native)) if duration else None
    return data[start:stop], native


# --- analysis per video frame ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AudioAnalysis:
    """Loudness and rhythm of a sound, one value per video frame at ``fps``."""

    fps: float
    envelope: np.ndarray  # [N] 0..1, loudness relative to the loudest frame (dB scale)
    onset_strength: np.ndarray  # [N] 0..1, how sharply the sound rises in each frame
    onsets: tuple[int, ...]  # frames where a sound starts
    beats: tuple[int, ...]  # frames on the beat grid (snapped to onsets)
    tempo: float  # beats per minute, 0 when none is found

    @property
    def num_frames(self) -> int:
        return int(self.envelope.size)


def frames_for(sound: Sound, fps: float) -> int:
    return max(1, int(round(sound.seconds * fps)))


def analyse(sound: Sound, fps: float, num_frames: int = 0) -> AudioAnalysis:
    """Envelope, onsets, tempo and beats of ``sound`` for a clip at ``fps`` (``num_frames`` 0: the sound's length)."""
    if not fps > 0:
        raise MediaError(f"frame rate must be positive (got {fps})")
    n = num_frames or frames_for(sound, fps)
    mono = sound.samples.mean(axis=1) if sound.samples.ndim == 2 else np.asarray(sound.samples)
    mono = resample(mono[:, None].astype(np.float32), sound.rate, ANALYSIS_RATE)[:, 0].astype(np.float64)
    envelope = _envelope(mono, ANALYSIS_RATE, fps, n)
    flux, flux_rate = _spectral_flux(mono)
    onset_times = _pick_peaks(flux, flux_rate)
    onsets = _to_frames(onset_times, fps, n)
    tempo, beat_times = _beats(flux, flux_rate, onset_times)
    beats = _to_frames(beat_times, fps, n)
    strength = np.zeros(n)
    frame_of = np.minimum((np.arange(flux.size) / flux_rate * fps + 0.5).astype(int), n)
    np.maximum.at(strength, np.minimum(frame_of, n - 1)[frame_of < n], flux[frame_of < n])
    peak = strength.max()
    strength = strength / peak if peak > 0 else strength
    return AudioAnalysis(float(fps), envelope.astype(np.float32), strength.astype(np.float32), onsets, beats,
                         float(tempo))


def _envelope(mono: np.ndarray, rate: int, fps: float, n: int) -> np.ndarray:
    edges = np.round(np.arange(n + 1) / fps * rate).astype(int)
    power = np.concatenate([[0.0], np.cumsum(mono * mono)])
    edges = np.clip(edges, 0, mono.size)
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt(np.maximum(power[edges[1:]] - power[edges[:-1]], 0.0) / counts)
    loudest = rms.max()
    if loudest <= 1e-9:
        return np.zeros(n)
    db = 20 * np.log10(np.maximum(rms / loudest, 1e-12))
    return np.clip(1.0 + db / ENVELOPE_RANGE_DB, 0.0, 1.0)


def _spectral_flux(mono: np.ndarray) -> tuple[np.ndarray, float]:
    """Half-wave rectified rise of log spectra between hops; index i is the time i * HOP (window centred)."""
    # Reflected ends: zero padding would make the first sound look like an onset at time 0.
    padded = np.pad(mono, N_FFT // 2, mode="reflect") if mono.size > N_FFT // 2 else np.pad(mono, N_FFT // 2)
    count = 1 + (padded.size - N_FFT) // HOP
    if count < 2:
        return np.zeros(max(count, 1)), ANALYSIS_RATE / HOP
    from scipy import fft

    padded = padded.astype(np.float32)
    frames = np.lib.stride_tricks.as_strided(padded, (count, N_FFT), (padded.strides[0] * HOP, padded.strides[0]))
    spectra = np.abs(fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1, workers=-1))
    spectra = np.log1p(spectra * np.float32(100.0), out=spectra)
    rise = np.maximum(np.diff(spectra, axis=0), 0.0).sum(axis=1, dtype=np.float64)
    if rise.size > 1:
        rise[0] = rise[1]  # the first window straddles the mirrored edge: its rise means nothing
    return np.concatenate([[rise[0]], rise]), ANALYSIS_RATE / HOP


def _pick_peaks(flux: np.ndarray, rate: float, min_gap: float = 0.07) -> np.ndarray:
    """Local maxima above an adaptive threshold (a running median plus a share of the overall spread)."""
    if flux.size < 3 or flux.max() <= 0:
        return np.zeros(0)
    from scipy.ndimage import maximum_filter1d, median_filter

    width = max(3, int(0.4 * rate) | 1)
    floor = median_filter(flux, size=width, mode="nearest")
    threshold = floor + 0.1 * flux.max() + 0.5 * flux.std()
    local_max = flux == maximum_filter1d(flux, size=max(3, int(min_gap * rate) | 1), mode="nearest")
    index = np.flatnonzero(local_max & (flux > threshold))
    kept: list[int] = []
    for i in index:
        if not kept or (i - kept[-1]) / rate >= min_gap:
            kept.append(int(i))
    return np.array(kept, dtype=np.float64) / rate


def _beats(flux: np.ndarray, rate: float, onset_times: np.ndarray) -> tuple[float, np.ndarray]:
    """Tempo from the autocorrelation of the onset strength (40-220 BPM), and a beat grid snapped to onsets."""
    if onset_times.size < 2:
        return 0.0, onset_times
    centred = flux - flux.mean()
    low, high = int(rate * 60 / 220), min(int(rate * 60 / 40), centred.size - 1)
    if high <= low:
        return 0.0, onset_times
    # Only the lags of plausible tempi: a full autocorrelation of a long song is quadratic.
    corr = np.array([centred[:-lag] @ centred[lag:] for lag in range(low, high)])
    lag = low + int(np.argmax(corr))
    period = lag / rate
    # The grid's phase: the onset that most other onsets agree with (land near a whole number of periods).
    best_phase, best_score = onset_times[0], -1.0
    for candidate in onset_times:
        offsets = (onset_times - candidate) / period
        score = float(np.sum(np.abs(offsets - np.round(offsets)) < 0.1))
        if score > best_score:
            best_phase, best_score = candidate, score
    duration = flux.size / rate
    grid = best_phase + period * np.arange(-int(best_phase / period), int((duration - best_phase) / period) + 1)
    grid = grid[(grid >= 0) & (grid < duration)]
    snapped = []
    for t in grid:
        near = onset_times[np.abs(onset_times - t) <= 0.1 * period]
        snapped.append(float(near[np.argmin(np.abs(near - t))]) if near.size else float(t))
    return 60.0 / period, np.array(snapped)


def _to_frames(times: np.ndarray, fps: float, n: int) -> tuple[int, ...]:
    frames = sorted({int(round(t * fps)) for t in times})
    return tuple(f for f in frames if 0 <= f < n)
