"""Frame-accurate video encode and audio mux with PyAV: H.264/AAC MP4, FFV1 MKV masters, VP9/Opus WebM."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np

from studio.errors import Cancelled, MediaError
from studio.media import audio_io, segments

Format = Literal["mp4", "mkv-ffv1", "webm"]
FORMATS: tuple[str, ...] = ("mp4", "mkv-ffv1", "webm")
EXTENSIONS = {"mp4": ".mp4", "mkv-ffv1": ".mkv", "webm": ".webm"}
MIME_TYPES = {"mp4": "video/mp4", "mkv-ffv1": "video/x-matroska", "webm": "video/webm"}
ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]
FrameMark = Callable[[np.ndarray], None]  # changes an I420 frame [H * 3 / 2, W] in place (the watermark)

# Speed presets of our own, as (x264 preset, x264-params); any other name goes to x264 as it is.
# "fast": ultrafast's motion search and analysis, with CABAC, the deblocking filter and 3 B-frames put
# back. Measured on a 720p natural clip at CRF 23 on 2 cores: 3.90 Mbit/s at 40.6 dB Y-PSNR, 9.0 CPU-ms a
# frame, against superfast's 3.88 Mbit/s at 40.7 dB for 14.0 ms (both without adaptive quantisation) and
# veryfast's 2.97 Mbit/s at 39.5 dB for 17.7 ms: superfast's quality per bit at about 60% of its CPU;
# veryfast needs about 25% fewer bits for the same picture, at twice the CPU.
X264_PRESETS: dict[str, tuple[str, str]] = {
    "fast": ("ultrafast", "cabac=1:deblock=0,0:bframes=3:b-adapt=0"),
}
# MP4's default keyframe interval: a seek point every 5 seconds keeps scrubbing the file in an editor
# quick, and the pieces of the parallel encode start there (segments.py), so they add no keyframes.
KEYFRAME_SECONDS = 5


@dataclass(frozen=True)
class EncodeSettings:
    """How to encode; ``crf`` is ignored when ``bitrate`` (bits per second) is given, and by FFV1."""

    format: Format = "mp4"
    crf: int = 23
    bitrate: int | None = None
    # "fast" (X264_PRESETS): the signed, watermarked 720p export costs about 8.5-9.5 CPU-ms a frame (x264
    # about 7 of them; tests/benchmarks/bench_export.py), 200-250 fps on two cores in parallel pieces;
    # about 30% more bits than veryfast for the same picture is the price. Any x264 preset name works too.
    preset: str = "fast"
    # yuv420p needs even sizes: "pad" repeats the last row/column, "refuse" raises MediaError.
    odd_size: Literal["pad", "refuse"] = "pad"
    threads: int = 0  # cores to use in all; 0: every core this process may run on
    audio_bitrate: int = 192_000
    keyframe_interval: int | None = None  # frames; None: every KEYFRAME_SECONDS for MP4, the codec's own else
    comment: str | None = None  # the container's comment tag (Studio marks its own outputs there, media.outputs)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise MediaError(
                f"unknown export format '{self.format}'", hint=f"choose one of {', '.join(FORMATS)}"
            )
        if not 0 <= self.crf <= 63:
            raise MediaError(f"quality (CRF) {self.crf} is out of range", hint="use 0 (best) to 51 (worst)")
        if self.bitrate is not None and self.bitrate <= 0:
            raise MediaError(f"bitrate {self.bitrate} must be positive")


@dataclass
class EncodeInfo:
    """What was written: exact frame count, rate and duration, and what was changed to make it fit."""

    path: Path
    format: str
    frames: int
    fps: Fraction
    width: int
    height: int
    duration: Fraction
    audio_rate: int | None = None
    audio_samples: int = 0
    audio_codec: str | None = None
    notes: list[str] = field(default_factory=list)


def as_fps(fps: float | int | Fraction | str) -> Fraction:
    """A frame rate as an exact fraction; 23.976 and 29.97 become their NTSC ratios."""
    try:
        rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    except (TypeError, ValueError) as exc:
        raise MediaError(f"frame rate {fps!r} is not a number") from exc
    if not 1 <= rate <= 240:
        raise MediaError(f"frame rate {float(rate):g} fps is out of range", hint="use 1 to 240 fps")
    return rate


def check_frames(frames: Sequence[np.ndarray] | np.ndarray) -> tuple[int, int, int]:
    """Return (count, height, width) of uint8 RGB frames, or raise MediaError saying what is wrong."""
    count = len(frames)
    if count == 0:
        raise MediaError("the clip has no frames to export")
    first = np.asarray(frames[0])
    if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
        raise MediaError(
            f"frames must be uint8 [H, W, 3] RGB, got {first.dtype} {tuple(first.shape)}",
            hint="the export takes the clip as numpy uint8 [T, H, W, 3]",
        )
    height, width = first.shape[:2]
    if height < 2 or width < 2:
        raise MediaError(f"a {width}x{height} frame is too small to encode")
    return count, height, width


def encode_video(
    frames: Sequence[np.ndarray] | np.ndarray,
    fps: float | Fraction,
    path: str | Path,
    *,
    audio: np.ndarray | None = None,
    audio_rate: int | None = None,
    settings: EncodeSettings | None = None,
    on_progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
    mark: FrameMark | None = None,
) -> EncodeInfo:
    """Encode ``frames`` (and ``audio`` already cut to the clip) into ``path``; raise Cancelled when asked.

    ``audio`` is float32 [samples, channels] starting with frame 0; it is padded or trimmed to the video's
    exact duration. ``mark`` changes each frame's I420 planes in place just before encoding (MP4 and WebM
    only: the watermark, where it is cheapest). The caller owns ``path`` (normally a temp file from
    ``atomic_path``) and removes it on error.
    """
    settings = settings or EncodeSettings()
    if mark is not None and settings.format == "mkv-ffv1":
        raise MediaError("a lossless master is stored as RGB: mark its frames before encoding")
    rate = as_fps(fps)
    count, height, width = check_frames(frames)
    notes: list[str] = []
    out_w, out_h = width, height
    if settings.format in ("mp4", "webm") and (width % 2 or height % 2):
        if settings.odd_size == "refuse":
            raise MediaError(
                f"{width}x{height} has an odd side, which 4:2:0 video cannot store",
                hint="render at an even size, or let the export pad it",
            )
        out_w, out_h = width + width % 2, height + height % 2
        notes.append(f"padded {width}x{height} to {out_w}x{out_h} (4:2:0 needs even sizes)")

    if audio is not None:
        audio, audio_rate = audio_io.check_audio(audio, audio_rate)
        audio = audio_io.fit_to_frames(audio, audio_rate, rate, 0, count)

    fmt = {"mp4": "mp4", "mkv-ffv1": "matroska", "webm": "webm"}[settings.format]
    options = {"movflags": "+faststart"} if settings.format == "mp4" else {}
    try:
        container = av.open(str(path), mode="w", format=fmt, options=options)
    except OSError as exc:
        raise MediaError(f"cannot create the video file: {exc}", path=path) from exc
    if settings.comment:
        container.metadata["comment"] = settings.comment
    info = EncodeInfo(
        Path(path), settings.format, count, rate, out_w, out_h, Fraction(count) / rate, notes=notes
    )
    keyframes = _keyframe_interval(settings, rate)
    spans = segments.plan(count, keyframes) if settings.format == "mp4" else [(0, count)]
    budget = settings.threads or segments.cores()
    workers = min(budget, len(spans))
    # One encoder per worker, each given an equal share of the cores; alone, the codec's own choice.
    threads = max(1, budget // workers) if workers > 1 else settings.threads
    try:
        video = container.add_stream(_VIDEO_CODECS[settings.format], rate=rate)
        _configure_video(video.codec_context, settings, rate, out_w, out_h, keyframes, threads)
        sound = None
        if audio is not None:
            assert audio_rate is not None
            sound, audio, audio_rate = _add_audio_stream(container, settings, audio, audio_rate)
            info.audio_rate, info.audio_samples = audio_rate, int(audio.shape[0])
            info.audio_codec = sound.codec_context.name
        source = _Source(frames, (height, width), (out_h, out_w), settings.format, mark)
        audio_sent = 0

        def send_audio(upto_frame: int) -> None:
            # Interleave: the audio that plays up to the end of this frame, so players can stream the file
            # without seeking across long audio-free stretches.
            nonlocal audio_sent
            if sound is not None:
                upto = audio_io.samples_for_frames(upto_frame, rate, audio_rate)  # type: ignore[arg-type]
                audio_sent = _send_audio(container, sound, audio, audio_sent, upto)  # type: ignore[arg-type]

        if workers > 1:
            container.start_encoding()  # opens the stream's encoder (piece 0's) and writes the header
            first = video.codec_context

            def encode_piece(piece: int, start: int, stop: int, stopped, done: list[int]) -> list:
                ctx = first if piece == 0 else _encoder_like(first, settings, rate, keyframes, threads)
                planes = _I420Input(out_w, out_h)
                packets = []
                for index in range(start, stop):
                    if stopped.is_set():
                        raise Cancelled("stopped")
                    frame = source.frame(index, planes)
                    frame.pts = index
                    packets.extend(ctx.encode(frame))
                    done[piece] += 1
                packets.extend(ctx.encode(None))
                return packets

            def deliver(piece: int, packets: list) -> None:
                for packet in packets:
                    packet.stream = video
                    container.mux(packet)
                send_audio(spans[piece][1])

            segments.run_in_order(
                spans,
                workers,
                encode_piece,
                deliver,
                total=count,
                on_progress=on_progress,
                is_cancelled=is_cancelled,
            )
        else:
            planes = None if settings.format == "mkv-ffv1" else _I420Input(out_w, out_h)
            for index in range(count):
                if is_cancelled is not None and is_cancelled():
                    raise Cancelled(f"export cancelled at frame {index} of {count}")
                frame = source.frame(index, planes)
                frame.pts = index
                container.mux(video.encode(frame))
                send_audio(index + 1)
                if on_progress is not None:
                    on_progress(index + 1, count)
            container.mux(video.encode(None))
        if sound is not None:
            _send_audio(container, sound, audio, audio_sent, audio.shape[0])  # type: ignore[union-attr]
            container.mux(sound.encode(None))
    except BaseException:
        _close_quietly(container)
        raise
    try:
        container.close()
    except OSError as exc:
        raise MediaError(f"writing the video failed: {exc}", path=path) from exc
    return info


_VIDEO_CODECS = {"mp4": "libx264", "webm": "libvpx-vp9", "mkv-ffv1": "ffv1"}


def _keyframe_interval(settings: EncodeSettings, rate: Fraction) -> int | None:
    if settings.keyframe_interval:
        return settings.keyframe_interval
    return max(1, round(KEYFRAME_SECONDS * rate)) if settings.format == "mp4" else None


def _configure_video(ctx, settings: EncodeSettings, rate: Fraction, w: int, h: int, keyframes, threads: int):
    """Set up a video encoder; every piece of a parallel MP4 encode is set up the same (same headers)."""
    if settings.format == "mp4":
        ctx.pix_fmt = "yuv420p"
        preset, params = X264_PRESETS.get(settings.preset, (settings.preset, ""))
        opts = {"preset": preset}
        if params:
            opts["x264-params"] = params
        if settings.bitrate is None:
            opts["crf"] = str(settings.crf)
        else:
            ctx.bit_rate = settings.bitrate
    elif settings.format == "webm":
        ctx.pix_fmt = "yuv420p"
        # realtime + high cpu-used: VP9 is otherwise an order of magnitude slower than x264.
        opts = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
        if settings.bitrate is None:
            opts["crf"] = str(min(settings.crf + 8, 63))
            ctx.bit_rate = 0
        else:
            ctx.bit_rate = settings.bitrate
    else:
        ctx.pix_fmt = "bgr0"  # RGB stored losslessly: the master is bit-exact with the frames
        opts = {"level": "3", "slicecrc": "1"}
    if keyframes:
        opts["g"] = str(keyframes)
    ctx.options = opts
    ctx.width, ctx.height = w, h
    ctx.framerate = rate
    ctx.time_base = Fraction(1) / rate
    ctx.thread_count = threads
    ctx.thread_type = "AUTO" if settings.format != "mp4" else "FRAME"
    if settings.format != "mkv-ffv1":
        # Say how the pixels were converted, so players do not guess: BT.601 matrix, sRGB-like primaries.
        ctx.colorspace = 6  # smpte170m (BT.601)
        ctx.color_primaries = 1  # bt709 (same as sRGB)
        ctx.color_trc = 1
        ctx.color_range = 1  # limited (tv) range, what every player expects


def _encoder_like(first, settings: EncodeSettings, rate: Fraction, keyframes, threads: int):
    """A fresh encoder set up as the stream's own ``first``, opened, with the very same stream headers."""
    ctx = av.CodecContext.create(first.name, "w")
    _configure_video(ctx, settings, rate, first.width, first.height, keyframes, threads)
    ctx.flags = first.flags  # global header: SPS/PPS in the file's header, as the stream's encoder does
    ctx.open()
    if ctx.extradata != first.extradata:
        # Same settings give the same headers; this would be a bug, never the user's doing.
        raise MediaError(
            "the parallel encoders disagree on the stream headers (a bug in Studio: please report it)",
            hint="a lossless master or a WebM export is encoded in one piece and works meanwhile",
        )
    return ctx


class _Source:
    """The encoder's input frames: each checked, padded to even sizes, converted and watermarked."""

    def __init__(self, frames, size: tuple[int, int], out: tuple[int, int], fmt: str, mark) -> None:
        self.frames, self.size, self.out, self.mark = frames, size, out, mark
        self.rgb_format = "bgr0" if fmt == "mkv-ffv1" else None

    def frame(self, index: int, planes: _I420Input | None) -> av.VideoFrame:
        rgb = _fit(np.asarray(self.frames[index]), *self.size, *self.out)
        if planes is None:
            return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=self.rgb_format)
        return planes.fill(rgb, self.mark)


def _add_audio_stream(container, settings: EncodeSettings, audio: np.ndarray, rate: int):
    if settings.format == "mp4":
        codec, sample_format = "aac", "fltp"
        allowed = av.codec.Codec("aac", "w").audio_rates
    elif settings.format == "webm":
        codec, sample_format, allowed = "libopus", "flt", (48000, 24000, 16000, 12000, 8000)
    else:
        codec, sample_format, allowed = "pcm_f32le", "flt", None
    if allowed and rate not in allowed:
        target = 48000
        audio = audio_io.resample(audio, rate, target)
        rate = target
    stream = container.add_stream(codec, rate=rate)
    stream.layout = audio_io.layout_for(audio.shape[1])
    stream.format = sample_format
    if codec != "pcm_f32le":
        stream.bit_rate = settings.audio_bitrate
    stream.codec_context.time_base = Fraction(1, rate)
    return stream, audio, rate


def _send_audio(container, stream, audio: np.ndarray, start: int, stop: int) -> int:
    """Encode samples [start, stop) in the encoder's frame size; return where it stopped."""
    size = stream.codec_context.frame_size or 1024
    layout = audio_io.layout_for(audio.shape[1])
    planar = stream.format.is_planar
    last = audio.shape[0]
    while start < stop and (stop - start >= size or stop == last):
        end = min(start + size, stop)
        chunk = audio[start:end]
        data = np.ascontiguousarray(chunk.T) if planar else np.ascontiguousarray(chunk.reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(data, format=stream.format.name, layout=layout)
        frame.sample_rate = stream.rate
        frame.pts = start
        frame.time_base = Fraction(1, stream.rate)
        container.mux(stream.encode(frame))
        start = end
    return start


def _fit(rgb: np.ndarray, height: int, width: int, out_h: int, out_w: int) -> np.ndarray:
    if rgb.shape != (height, width, 3) or rgb.dtype != np.uint8:
        raise MediaError(
            f"frame size changed mid-clip: {rgb.shape} {rgb.dtype}, expected ({height}, {width}, 3) uint8"
        )
    if (out_h, out_w) != (height, width):
        rgb = np.pad(rgb, ((0, out_h - height), (0, out_w - width), (0, 0)), mode="edge")
    return np.ascontiguousarray(rgb)


def rgb_to_yuv420(rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """BT.601 limited-range I420 (planes stacked, [H*3/2, W]); exact luma, 4x faster than swscale here.

    The watermark is embedded in this luma, so the two must agree (see watermark.luma_of). ``out``, when
    given, is an array of that shape to write into.
    """
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420, dst=out)


class _I420Input:
    """The encoder's input: one I420 buffer, refilled for every picture.

    A new buffer per picture costs 1.4 MB at 720p (allocation and page faults, about as much as the
    colour conversion itself); encoders copy what they are sent (libx264 and libvpx into their own
    lookahead), so one buffer serves the whole clip. When the chroma planes lie row-aligned in it (height
    a multiple of 4) the frame wraps the buffer without a copy; otherwise the planes are copied into a
    frame of the encoder's layout, whose ``make_writable`` keeps that safe for an encoder that holds on.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.yuv = np.empty((height * 3 // 2, width), np.uint8)
        self.frame = None if height % 4 == 0 else av.VideoFrame(width, height, "yuv420p")

    def fill(self, rgb: np.ndarray, mark: FrameMark | None) -> av.VideoFrame:
        w, h = self.width, self.height
        yuv = rgb_to_yuv420(rgb, self.yuv)
        if mark is not None:
            mark(yuv)
        frame = self.frame
        if frame is None:
            return av.VideoFrame.from_numpy_buffer(yuv, format="yuv420p")
        frame.make_writable()
        # cv2's I420 is Y [h, w], then U and V [h/2, w/2] each, packed back to back (not row-aligned
        # when h/2 is odd).
        flat, luma, chroma = yuv.reshape(-1), h * w, (h // 2) * (w // 2)
        sources = (yuv[:h], flat[luma : luma + chroma], flat[luma + chroma :])
        for plane, source in zip(frame.planes, sources, strict=True):
            view = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            view[:, : plane.width] = source.reshape(plane.height, plane.width)
        return frame


def _close_quietly(container) -> None:
    try:
        container.close()
    except Exception:  # noqa: BLE001 - already failing; the original error is the one to report
        pass


# Reading lives in video_read.py (with the bounded reader for files from anyone); these names stay
# importable from here.
from studio.media.video_read import MediaInfo, probe, read_frames, read_luma  # noqa: E402, F401
