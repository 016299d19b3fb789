"""Audio in: loading WAV/FLAC/OGG/MP3 (and what PyAV reads) within a memory cap, and per-video-frame analysis."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import MediaError
from studio.media.audio_io import MAX_RATE, MIN_RATE, StreamResampler, mix, mix_matrix
from studio.values import Sound

ANALYSIS_RATE = 22_050
HOP = 256  # analysis hop: 11.6 ms at 22.05 kHz, well under a video frame
N_FFT = 1024
ENVELOPE_RANGE_DB = 48.0  # the envelope spans this many dB below the loudest frame

# What a loaded sound keeps: the export muxes it as the clip's soundtrack (AAC and Opus carry at most
# 48 kHz; the preview plays stereo) and analysis mixes it to mono, so a 192 kHz 8-channel master is
# decoded block by block and kept as 48 kHz stereo. Caps are in samples x channels, checked against the
# header before any decoding and again while decoding (a header may lie or say nothing).
KEEP_RATE = 48_000
KEEP_CHANNELS = 2
MAX_CHANNELS = 8
MAX_KEPT_SAMPLES = KEEP_RATE * 2 * 10 * 60  # 57.6 million: 230 MB of float32, 10 minutes of 48 kHz stereo
MAX_DECODED_SAMPLES = MAX_RATE * MAX_CHANNELS * 10 * 60  # the decoding work, kept or skipped: 10 minutes of the most
SEEK_AFTER = 30.0  # seconds: shorter offsets are decoded and dropped (exact to the sample), longer ones seek
BLOCK = 1 << 16  # source frames converted at a time: 2 MB at 192 kHz x 8 channels
_UNKNOWN_LENGTH = 1 << 62  # libsndfile's frame count when the header does not say (SF_COUNT_MAX)
# The channel order of WAV and FLAC files by count (their specifications' defaults), for the mix to stereo.
_FILE_ORDER = {1: ("FC",), 2: ("FL", "FR"), 3: ("FL", "FR", "FC"), 4: ("FL", "FR", "BL", "BR"),
               5: ("FL", "FR", "FC", "BL", "BR"), 6: ("FL", "FR", "FC", "LFE", "BL", "BR"),
               7: ("FL", "FR", "FC", "LFE", "BC", "SL", "SR"), 8: ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR")}
# Containers whose header gives the exact length; others (raw AAC, MP3 through PyAV) estimate it from the bit rate.
_EXACT_LENGTH = {"mov", "mp4", "m4a", "matroska", "webm", "ogg", "flac", "wav", "w64", "aiff", "caf"}


def load_audio(path: str | Path, *, offset: float = 0.0, duration: float = 0.0, rate: int = 0,
               mono: bool = False) -> Sound:
    """A sound file as float32 [samples, channels] in -1..1: ``offset`` seconds skipped, ``duration`` kept (0: all).

    ``rate`` 0 keeps the file's rate up to 48 kHz (higher rates come down to 48 kHz); more than two channels
    are mixed to stereo, or everything to one channel with ``mono``. The part kept may hold at most
    MAX_KEPT_SAMPLES samples x channels. soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus and MP3;
    anything else it refuses is tried with PyAV (AAC, M4A, MKA, ...). Files that are empty, not audio,
    truncated, too long or with an impossible sample rate raise MediaError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError("the audio file does not exist", path=path, hint="check the path or pick the file again")
    if path.stat().st_size == 0:
        raise MediaError("the audio file is empty (0 bytes)", path=path)
    if offset < 0 or duration < 0 or not math.isfinite(offset + duration):
        raise MediaError(f"offset and duration must be 0 or more (got {offset}, {duration})", path=path)
    if rate and not MIN_RATE <= rate <= MAX_RATE:
        raise MediaError(f"cannot resample to {rate} Hz", hint=f"use {MIN_RATE}-{MAX_RATE} Hz")
    _check_riff_complete(path)
    _check_ogg_complete(path)
    want = _Want(float(offset), float(duration), int(rate), bool(mono))
    try:
        keeper = _read_soundfile(path, want)
    except _NotForSoundfile:
        keeper = _read_pyav(path, want)
    samples = keeper.finish()
    if samples.shape[0] == 0:
        raise MediaError("no audio left after the offset" if offset else "the file holds no audio samples",
                         path=path, hint="lower the offset" if offset else "the file may be truncated")
    return Sound(samples, keeper.rate, source=str(path))


@dataclass(frozen=True)
class _Want:
    offset: float
    duration: float
    rate: int
    mono: bool


class _NotForSoundfile(Exception):
    pass


def _check_riff_complete(path: Path) -> None:
    """A WAV whose data chunk promises more bytes than the file holds is truncated.

    libsndfile quietly shortens such a file to what is there (a half-copied download plays as
    a shorter song), so the header is checked here. An RF64 file keeps the real length in its ds64 chunk.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return
        size = path.stat().st_size
        position, wide = 12, None
        while position + 8 <= size:
            f.seek(position)
            chunk = f.read(8)
            name, length = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if name == b"ds64" and length >= 16:
                wide = int.from_bytes(f.read(16)[8:16], "little")  # after the RIFF size: the data size
            if name == b"data":
                if head[:4] == b"RF64" and length == 0xFFFFFFFF and wide is not None:
                    length = wide
                if position + 8 + length > size:
                    raise MediaError(f"the file is truncated: its header promises {length} bytes of sound, "
                                     f"{size - position - 8} are there", path=path,
                                     hint="the download or copy may be incomplete")
                return
            position += 8 + length + (length & 1)


def _check_ogg_complete(path: Path) -> None:
    """An Ogg file must end with a whole page flagged end-of-stream.

    Ogg has no length in its header: libsndfile and FFmpeg both take a cut file's last page as its end
    and play a shorter sound without a word, so the end is checked here.
    """
    with open(path, "rb") as f:
        if f.read(4) != b"OggS":
            return
        size = f.seek(0, 2)
        f.seek(max(0, size - 70_000))  # a page holds at most 27 + 255 + 255 * 255 = 65,307 bytes
        tail = f.read()
    index = tail.rfind(b"OggS")
    while index >= 0:
        segments = tail[index + 26] if index + 27 <= len(tail) else -1
        body = index + 27 + segments
        if segments >= 0 and body <= len(tail) and body + sum(tail[index + 27:body]) == len(tail):
            if tail[index + 5] & 0x04:
                return
            break
        index = tail.rfind(b"OggS", 0, index)
    raise MediaError("the file is truncated: its last Ogg page is cut off or not marked as the end", path=path,
                     hint="the download or copy may be incomplete")


class _Keeper:
    """Decoded blocks at the file's rate and layout in; the wanted part kept, mixed and resampled, within the caps.

    The kept samples live in one array grown in place (``ndarray.resize`` reallocates, which for large arrays
    remaps pages instead of copying), so the peak is what is kept plus a block, not twice it.
    """

    def __init__(self, path: Path, native: int, names: tuple[str, ...], start: int, stop: int | None,
                 rate: int, channels: int, promised: int | None, length: int | None) -> None:
        self.path, self.native, self.rate, self.channels = path, native, rate, channels
        self.start, self.stop, self.promised = start, stop, promised
        plain = channels == len(names) and (channels == 1 or names == ("FL", "FR"))
        self.matrix = None if plain else mix_matrix(names, channels)
        self.resampler = StreamResampler(native, rate, channels)
        self.position = 0  # index (at the file's rate) of the next sample to come
        self.decoded = 0  # samples x channels decoded so far, kept or skipped
        # Room for what the header promises (a minute when it says nothing), grown if that was short.
        expected = self._kept_for(length) if length is not None else rate * 60
        self.data = np.empty((min(expected, MAX_KEPT_SAMPLES // channels) + 1, channels), np.float32)
        self.size = 0

    def _kept_for(self, frames: int) -> int:
        return round(frames * self.rate / self.native)

    @property
    def done(self) -> bool:
        return self.stop is not None and self.position >= self.stop

    def feed(self, block: np.ndarray, first: int | None = None) -> None:
        """Take float32 [n, source channels] whose first sample has index ``first`` (default: the next)."""
        self.decoded += block.size
        if self.decoded > MAX_DECODED_SAMPLES:
            raise MediaError(f"decoding the file takes more than {MAX_DECODED_SAMPLES / 1e6:.0f} million samples "
                             f"x channels (Studio's cap: 10 minutes at {MAX_RATE // 1000} kHz x {MAX_CHANNELS} "
                             "channels)", path=self.path, hint="use a shorter offset and duration, or a shorter file")
        first = self.position if first is None else first
        self.position = first + block.shape[0]
        low = max(self.start - first, 0)
        high = block.shape[0] if self.stop is None else min(block.shape[0], self.stop - first)
        if high <= low:
            return
        piece = block[low:high]
        if not np.all(np.isfinite(piece)):
            raise MediaError("the audio contains NaN or infinite samples", path=self.path)
        if self.matrix is not None:
            piece = mix(piece, self.matrix)
        self._keep(self.resampler.push(piece))

    def _keep(self, out: np.ndarray) -> None:
        need = self.size + out.shape[0]
        if need * self.channels > MAX_KEPT_SAMPLES:
            raise MediaError(f"the sound goes on past Studio's cap of {_cap_words()} (its header gave no "
                             "length, or a wrong one)", path=self.path,
                             hint="set the offset and duration to keep a part of it, or re-export the file")
        if need > self.data.shape[0]:
            grown = min(max(need, self.data.shape[0] * 3 // 2), MAX_KEPT_SAMPLES // self.channels + 1)
            self.data.resize((grown, self.channels), refcheck=False)
        np.clip(out, -1.0, 1.0, out=self.data[self.size:need])
        self.size = need

    def finish(self) -> np.ndarray:
        """The kept samples, exactly as long as the part of the file that was there (at the kept rate)."""
        self._keep(self.resampler.flush())
        seen = max(0, min(self.position, self.stop if self.stop is not None else self.position) - self.start)
        # A little slack for codecs' padding; a cut file misses far more than a tenth of a second.
        if self.promised is not None and self.promised - seen > max(self.native // 10, self.promised // 100):
            raise MediaError(f"the file is truncated: its header promises {_clock(self.promised / self.native)} "
                             f"of sound, {_clock(seen / self.native)} are there", path=self.path,
                             hint="the download or copy may be incomplete")
        length = self._kept_for(seen)
        if length > self.size:  # the resampler's last few samples: silence, as the polyphase filter gives
            self._keep(np.zeros((length - self.size, self.channels), np.float32))
        self.size = min(self.size, length)
        self.data.resize((self.size, self.channels), refcheck=False)
        return self.data


def _plan(path: Path, native: int, channels: int, names: tuple[str, ...], frames: int | None, want: _Want,
          exact: bool) -> _Keeper:
    """Check what the header says against the caps before anything is decoded, and set up the keeper.

    ``frames`` is the header's length (None: not given); ``exact`` says whether it is exact or an estimate
    from the bit rate, which may check the caps but must not cut the sound short.
    """
    if not MIN_RATE <= native <= MAX_RATE:
        raise MediaError(f"the file claims a sample rate of {native} Hz, which cannot be right", path=path,
                         hint=f"usable rates are {MIN_RATE}-{MAX_RATE} Hz; re-export the file")
    if not 1 <= channels <= MAX_CHANNELS or len(names) != channels:
        raise MediaError(f"the file has {channels} audio channels; Studio reads 1 to {MAX_CHANNELS}", path=path,
                         hint="mix it down to stereo first")
    start = round(want.offset * native)
    stop = start + round(want.duration * native) if want.duration else None
    promised = None
    if frames is not None and exact:
        if start >= frames:
            raise MediaError("no audio left after the offset", path=path, hint="lower the offset")
        stop = frames if stop is None else min(stop, frames)
        promised = stop - start
    rate = want.rate or min(native, KEEP_RATE)
    kept_channels = 1 if want.mono else min(channels, KEEP_CHANNELS)
    # The length to check is what the header says is there (a duration past the end asks for nothing);
    # with no length in the header the keeper enforces the caps while decoding.
    length = None if frames is None else max(0, frames - start)
    if length is not None and stop is not None:
        length = min(length, stop - start)
    if length is not None:
        kept = round(length * rate / native) * kept_channels
        if kept > MAX_KEPT_SAMPLES:
            longest = MAX_KEPT_SAMPLES // (rate * kept_channels)
            raise MediaError(
                f"the part to load lasts {_clock(length / native)}, which kept at {rate} Hz x {kept_channels} "
                f"channel(s) is {kept / 1e6:.1f} million samples, over Studio's cap of {_cap_words()}",
                path=path, hint=f"set a duration of at most {longest} s (and an offset) to use a part of it")
        if length * channels > MAX_DECODED_SAMPLES:
            raise MediaError(
                f"the part to load lasts {_clock(length / native)} at {native} Hz x {channels} channels, "
                f"{length * channels / 1e6:.0f} million samples to decode, over Studio's cap of "
                f"{MAX_DECODED_SAMPLES / 1e6:.0f} million (10 minutes at {MAX_RATE // 1000} kHz x {MAX_CHANNELS})",
                path=path, hint="set a shorter duration, or re-export the file at 48 kHz stereo")
    return _Keeper(path, native, names, start, stop, rate, kept_channels, promised, length)


def _cap_words() -> str:
    return (f"{MAX_KEPT_SAMPLES / 1e6:.1f} million samples x channels ({MAX_KEPT_SAMPLES // (KEEP_RATE * 120)} "
            f"minutes of {KEEP_RATE // 1000} kHz stereo)")


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}" if whole >= 3600 else \
        f"{whole // 60}:{whole % 60:02d}" if whole >= 60 else f"{seconds:.1f} s"


def _read_soundfile(path: Path, want: _Want) -> _Keeper:
    import soundfile as sf

    try:
        handle = sf.SoundFile(str(path))
    except sf.LibsndfileError as exc:
        # libsndfile's reasons are often misleading ("not a regular file" for text named .mp3):
        # let PyAV have a go, and word the refusal ourselves if it fails too.
        raise _NotForSoundfile() from exc
    except (RuntimeError, ValueError, OSError) as exc:
        raise MediaError(f"the audio cannot be read: {exc}", path=path) from None
    with handle as f:
        if f.frames >= _UNKNOWN_LENGTH:
            raise _NotForSoundfile()  # libsndfile cannot stream a file whose header leaves the length out
        keeper = _plan(path, int(f.samplerate), int(f.channels), _FILE_ORDER.get(int(f.channels), ()),
                       int(f.frames), want, exact=True)
        try:
            if keeper.start:
                f.seek(keeper.start)
            keeper.position = keeper.start
            while not keeper.done:
                block = f.read(min(BLOCK, keeper.stop - keeper.position), dtype="float32", always_2d=True)
                if not block.shape[0]:
                    break
                keeper.feed(block)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise MediaError(f"the sound is damaged or truncated (the decoder says: {exc})", path=path,
                             hint="the download or copy may be incomplete; re-export the file") from None
    return keeper


def _read_pyav(path: Path, want: _Want) -> _Keeper:
    import av

    keeper = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError("not an audio file (no sound stream found)", path=path,
                                 hint="use a WAV, FLAC, OGG or MP3 file")
            stream = container.streams.audio[0]
            context = stream.codec_context
            native, channels = int(context.sample_rate or 0), int(context.channels or 0)
            names = tuple(c.name for c in context.layout.channels) if channels else ()
            frames = _header_frames(container, stream, native)
            exact = bool(_EXACT_LENGTH & set(container.format.name.split(",")))
            keeper = _plan(path, native, channels, names, frames, want, exact)
            _decode(container, stream, keeper, seek=want.offset > SEEK_AFTER)
    except MediaError:
        raise
    except (av.error.FFmpegError, ValueError, OSError):
        if keeper is not None and keeper.decoded:
            raise MediaError("the sound is damaged or truncated: decoding failed part-way", path=path,
                             hint="the download or copy may be incomplete; re-export the file") from None
        raise MediaError("not a readable audio file: it is not sound in a format Studio knows, or it is damaged",
                         path=path, hint="use a WAV, FLAC, OGG or MP3 file") from None
    return keeper


def _header_frames(container, stream, native: int) -> int | None:
    if stream.duration and stream.time_base:
        return round(stream.duration * stream.time_base * native)
    if container.duration:
        return round(container.duration * native / 1_000_000)  # the container's clock: microseconds
    return None


def _decode(container, stream, keeper: _Keeper, *, seek: bool) -> None:
    """Decode into ``keeper`` a block of frames at a time, stopping at the end of the wanted part.

    After a seek, where decoding landed comes from the first frame's time: exact to the sample where the
    stream's clock counts samples (MP4, Ogg, FLAC), to the millisecond in Matroska.
    """
    import av

    channels = keeper.matrix.shape[0] if keeper.matrix is not None else keeper.channels
    base = stream.start_time or 0
    first: int | None = None  # -1: a seek happened, and the next frame's time says where it landed
    if seek:
        try:
            container.seek(base + int((keeper.start / keeper.native - 1.0) / stream.time_base), stream=stream,
                           backward=True)
            first = -1
        except av.error.FFmpegError:
            pass  # not seekable: decode from the start, dropping what comes before the offset
    pending: list[np.ndarray] = []
    pending_frames = 0
    for frame in container.decode(stream):
        if frame.sample_rate != keeper.native or frame.layout.nb_channels != channels:
            raise MediaError("the sound changes its sample rate or channel count part-way through", path=keeper.path,
                             hint="re-export the file as WAV or FLAC")
        if first == -1:
            if frame.pts is None:
                raise MediaError("the file cannot be read from an offset (its frames carry no times)",
                                 path=keeper.path, hint=f"use an offset under {SEEK_AFTER:.0f} s, or re-export it")
            first = max(0, round((frame.pts - base) * frame.time_base * keeper.native))
            if first > keeper.start:
                raise MediaError("the file cannot be read from this offset (seeking lands after it)",
                                 path=keeper.path, hint=f"use an offset under {SEEK_AFTER:.0f} s, or re-export it")
        pending.append(_frame_samples(frame, channels))
        pending_frames += pending[-1].shape[0]
        if pending_frames >= BLOCK:
            keeper.feed(np.concatenate(pending) if len(pending) > 1 else pending[0], first)
            pending, pending_frames, first = [], 0, None
            if keeper.done:
                return
    if pending:
        keeper.feed(np.concatenate(pending) if len(pending) > 1 else pending[0], first)


def _frame_samples(frame, channels: int) -> np.ndarray:
    """A decoded frame as float32 [n, channels] in -1..1, whatever its sample format."""
    data = frame.to_ndarray()
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    return data.astype(np.float32, copy=False)


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
    """Envelope, onsets, tempo and beats of ``sound`` for a clip at ``fps`` (``num_frames`` 0: the sound's length).

    Works a block at a time: besides the sound it holds one mono copy at 22.05 kHz (a quarter of a 48 kHz
    stereo sound) and the per-hop onset strength, never a spectrogram of the whole sound.
    """
    if not fps > 0:
        raise MediaError(f"frame rate must be positive (got {fps})")
    n = num_frames or frames_for(sound, fps)
    padded = _analysis_signal(sound)
    mono = padded[N_FFT // 2 : padded.size - N_FFT // 2]
    envelope = _envelope(mono, ANALYSIS_RATE, fps, n)
    flux, flux_rate = _spectral_flux(padded)
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


def _analysis_signal(sound: Sound) -> np.ndarray:
    """The sound mixed to mono at ANALYSIS_RATE, float32, with N_FFT // 2 samples of padding at each end.

    The padding mirrors the ends (zero padding would make the first sound look like an onset at time 0);
    a sound too short to mirror is padded with zeros.
    """
    samples = np.asarray(sound.samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    length = round(samples.shape[0] * ANALYSIS_RATE / sound.rate)
    half = N_FFT // 2
    padded = np.zeros(length + 2 * half, np.float32)
    resampler = StreamResampler(sound.rate, ANALYSIS_RATE, 1)
    at = half
    for begin in range(0, samples.shape[0], BLOCK * 4):
        block = samples[begin : begin + BLOCK * 4]
        mono = block.mean(axis=1, dtype=np.float32, keepdims=True) if block.shape[1] > 1 else block
        out = resampler.push(mono.astype(np.float32, copy=False))[: padded.size - half - at, 0]
        padded[at : at + out.size] = out
        at += out.size
    out = resampler.flush()[: padded.size - half - at, 0]
    padded[at : at + out.size] = out
    if length > half:
        padded[:half] = padded[2 * half : half : -1]
        padded[-half:] = padded[-half - 2 : -2 * half - 2 : -1]
    return padded


def _envelope(mono: np.ndarray, rate: int, fps: float, n: int) -> np.ndarray:
    edges = np.clip(np.round(np.arange(n + 1) / fps * rate).astype(np.int64), 0, mono.size)
    # The running sum of squares at each frame edge, summed a block at a time in float64.
    power = np.zeros(n + 1)
    total = 0.0
    for begin in range(0, mono.size, BLOCK * 4):
        block = mono[begin : begin + BLOCK * 4].astype(np.float64)
        running = np.cumsum(block * block) + total
        inside = (edges > begin) & (edges <= begin + block.size)
        power[inside] = running[edges[inside] - begin - 1]
        total = float(running[-1])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt(np.maximum(power[1:] - power[:-1], 0.0) / counts)
    loudest = rms.max()
    if loudest <= 1e-9:
        return np.zeros(n)
    db = 20 * np.log10(np.maximum(rms / loudest, 1e-12))
    return np.clip(1.0 + db / ENVELOPE_RANGE_DB, 0.0, 1.0)


def _spectral_flux(padded: np.ndarray, hops_per_block: int = 2048) -> tuple[np.ndarray, float]:
    """Half-wave rectified rise of log spectra between hops; index i is the time i * HOP (window centred).

    ``padded`` is the mono signal with N_FFT // 2 samples of padding at each end; the spectra are taken
    ``hops_per_block`` windows at a time (8 MB), each block's first rise measured from the last block's end.
    """
    count = 1 + (padded.size - N_FFT) // HOP
    if count < 2:
        return np.zeros(max(count, 1)), ANALYSIS_RATE / HOP
    from scipy import fft

    window = np.hanning(N_FFT).astype(np.float32)
    rise = np.empty(count - 1)
    previous = None
    for first in range(0, count, hops_per_block):
        last = min(count, first + hops_per_block)
        piece = padded[first * HOP : (last - 1) * HOP + N_FFT]
        frames = np.lib.stride_tricks.as_strided(piece, (last - first, N_FFT), (piece.strides[0] * HOP,
                                                                                  piece.strides[0]))
        spectra = np.abs(fft.rfft(frames * window, axis=1, workers=-1))
        spectra = np.log1p(spectra * np.float32(100.0), out=spectra)
        if previous is not None:
            spectra = np.concatenate([previous, spectra])
        rise[first - (previous is not None) : last - 1] = np.maximum(np.diff(spectra, axis=0), 0.0).sum(
            axis=1, dtype=np.float64)
        previous = spectra[-1:]
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
