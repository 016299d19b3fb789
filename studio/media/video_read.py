"""Reading video back with PyAV: probe and decode our own files, and a bounded luma reader for anyone's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np

from studio.errors import MediaError

ContainerKind = Literal["bmff", "matroska"]
# The first box of an ISO BMFF file (MP4, MOV, M4V): ftyp in anything written this century; older
# QuickTime files may start with the others.
_BMFF_FIRST_BOXES = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # Matroska and WebM
_DEMUXERS: dict[str, str] = {"bmff": "mov", "matroska": "matroska"}
# Decoders an untrusted file may reach: what Studio writes (H.264, VP9, FFV1) and what cameras and
# platforms deliver. Every other ffmpeg decoder (hundreds, some rarely audited) stays out of reach.
UNTRUSTED_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "ffv1", "mpeg4", "prores"})
# The largest picture an untrusted file may make us decode: 8K DCI, in pixels; any shape up to that.
MAX_UNTRUSTED_PIXELS = 8192 * 4352
MAX_UNTRUSTED_SIDE = 16384
MAX_DECODED_BYTES = 2 * 2**30  # what read_frames / read_luma may hold in memory (uint8 RGB counted)


def container_kind(path: str | Path) -> ContainerKind:
    """What the first bytes say the file is: ISO BMFF (MP4/MOV) or Matroska (MKV/WebM); MediaError else.

    Decided from the bytes, never the name, so a file that is not video is refused before any parser
    (ffmpeg's probing tries hundreds of formats) sees it.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror}", path=path) from exc
    if head[:4] == _EBML_MAGIC:
        return "matroska"
    if len(head) >= 8 and head[4:8] in _BMFF_FIRST_BOXES:
        size = int.from_bytes(head[:4], "big")
        if size in (0, 1) or size >= 8:
            return "bmff"
    raise MediaError(
        "this is not a video file Studio can verify: it does not start like an MP4, MOV, MKV or WebM file",
        path=path,
        hint="choose the video file itself; Studio exports .mp4, .mkv and .webm",
    )


@dataclass(frozen=True)
class StreamShape:
    """The video stream as its header describes it, before anything is decoded."""

    codec: str
    width: int
    height: int
    frames: int | None  # by the header; None when it does not say


class UntrustedVideo:
    """Decodes the first video stream of a file from anyone, within bounds: only the demuxer its first
    bytes name, only the decoders in UNTRUSTED_CODECS, one decoder thread, pictures of at most
    ``max_pixels``, a size that may not change mid-stream, and a frame count and deadline per read.

    Use as a context manager; the constructor raises MediaError for what it will not read at all.
    """

    def __init__(self, path: str | Path, *, max_pixels: int = MAX_UNTRUSTED_PIXELS) -> None:
        self.path = Path(path)
        kind = container_kind(self.path)
        try:
            self._container = av.open(str(self.path), format=_DEMUXERS[kind])
        except (OSError, av.error.FFmpegError) as exc:
            raise MediaError(f"cannot open the video: {_ffmpeg_reason(exc)}", path=path) from exc
        try:
            self.shape = self._check_stream(max_pixels)
        except BaseException:
            self._container.close()
            raise
        self.stopped: str | None = None  # why the last read stopped before its frame limit, if it did

    def _check_stream(self, max_pixels: int) -> StreamShape:
        if not self._container.streams.video:
            raise MediaError("the file has no video stream", path=self.path)
        stream = self._container.streams.video[0]
        ctx = stream.codec_context
        shape = StreamShape(ctx.name, ctx.width, ctx.height, stream.frames or None)
        if shape.codec not in UNTRUSTED_CODECS:
            raise MediaError(
                f"its video codec ({shape.codec}) is not one Studio decodes from untrusted files",
                path=self.path,
                hint="supported: " + ", ".join(sorted(UNTRUSTED_CODECS)),
            )
        pixels = shape.width * shape.height
        if shape.width <= 0 or shape.height <= 0:
            raise MediaError("the video stream does not say its picture size", path=self.path)
        if pixels > max_pixels or max(shape.width, shape.height) > MAX_UNTRUSTED_SIDE:
            raise MediaError(
                f"the clip is {shape.width}x{shape.height}, larger than the {max_pixels / 1e6:.1f} "
                "megapixels Studio decodes from a file it did not make",
                path=self.path,
            )
        ctx.thread_count = 1  # frame threads hold a picture each: memory grows with the core count
        # A stream that announces a small picture and switches to a huge one is refused by the decoder
        # (it counts the coded size, macroblocks and all, so the limit cannot be the exact header size).
        ctx.options = {"max_pixels": str(max_pixels)}
        self._stream = stream
        return shape

    def __enter__(self) -> UntrustedVideo:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - closing after a failure; the failure is what to report
            pass

    @property
    def fps(self) -> float:
        """The stream's frame rate as it says (0 when it does not)."""
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    def rgb(self, *, start: int = 0, max_frames: int, max_bytes: int = 1 << 30,
            deadline: float | None = None) -> np.ndarray:
        """RGB uint8 [T, H, W, 3] of frames ``start`` .. ``start + max_frames - 1``, within ``max_bytes`` of
        decoded pictures (refused from the header before decoding) and the deadline; ``stopped`` says why a
        read ended early. An undecodable stream raises MediaError."""
        shape = self.shape
        frame_bytes = shape.width * shape.height * 3
        if frame_bytes * max_frames > max_bytes:
            raise MediaError(f"{max_frames} frames of {shape.width}x{shape.height} would take "
                             f"{frame_bytes * max_frames / 2**20:.0f} MB; Studio reads at most "
                             f"{max_bytes / 2**20:.0f} MB of pictures from a clip", path=self.path,
                             hint="read fewer frames")
        out = [frame.to_ndarray(format="rgb24") for frame in self._decoded(start, max_frames, deadline)]
        if not out:
            return np.zeros((0, shape.height, shape.width, 3), np.uint8)
        return np.stack(out)

    def luma(self, *, scale: int = 1, max_frames: int, deadline: float | None = None) -> Iterator[np.ndarray]:
        """Full-range luma of the first ``max_frames`` frames, float32 [H // scale, W // scale], box-averaged
        over ``scale`` x ``scale`` pixels (the crop to a multiple of ``scale`` drops the last rows/columns).

        Stops early, setting ``stopped``, at ``deadline`` (time.monotonic()) or if the picture size
        changes. An undecodable stream raises MediaError.
        """
        shape = self.shape
        out_h, out_w = shape.height // scale, shape.width // scale
        for frame in self._decoded(0, max_frames, deadline):
            yield _reduced_luma(frame, scale, out_h, out_w)

    def _decoded(self, start: int, max_frames: int, deadline: float | None) -> Iterator[av.VideoFrame]:
        """Decoded frames ``start`` .. ``start + max_frames - 1``; stops early, setting ``stopped``, at the deadline
        or where the picture size changes. An undecodable stream raises MediaError."""
        shape = self.shape
        self.stopped = None
        count = 0
        try:
            for index, frame in enumerate(self._container.decode(self._stream)):
                if (frame.width, frame.height) != (shape.width, shape.height):
                    self.stopped = (
                        f"the picture size changes mid-clip ({shape.width}x{shape.height} to "
                        f"{frame.width}x{frame.height})"
                    )
                    return
                if index >= start:
                    yield frame
                    count += 1
                    if count >= max_frames:
                        return
                if deadline is not None and time.monotonic() >= deadline:
                    self.stopped = "the time limit"
                    return
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot decode the video: {_ffmpeg_reason(exc)}", path=self.path) from exc


def _ffmpeg_reason(exc: BaseException) -> str:
    # PyAV appends the C call and the file name; the person needs ffmpeg's reason only.
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).rstrip(".")


def _y_plane(frame: av.VideoFrame) -> tuple[np.ndarray, bool] | None:
    """The 8-bit Y plane as a view [H, W] and whether it is full range; None for other pixel formats."""
    name = frame.format.name
    if not name.startswith(("yuv", "yuvj", "gray", "nv12")) or "p1" in name or "le" in name:
        return None
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
    full = name.startswith("yuvj") or frame.color_range == 2 or name.startswith("gray")
    return y, full


def _reduced_luma(frame: av.VideoFrame, scale: int, out_h: int, out_w: int) -> np.ndarray:
    found = _y_plane(frame)
    if found is None:
        # RGB or high-bit-depth sources: 8-bit full-range luma the way the embedder computes it.
        y, full = cv2.cvtColor(frame.to_ndarray(format="rgb24"), cv2.COLOR_RGB2GRAY), True
    else:
        y, full = found
    if scale > 1:
        # INTER_AREA at a whole factor is the plain mean of each scale x scale block.
        y = cv2.resize(y[: out_h * scale, : out_w * scale], (out_w, out_h), interpolation=cv2.INTER_AREA)
    luma = y.astype(np.float32)
    return luma if full else (luma - 16.0) * np.float32(255.0 / 219.0)


# ---- our own files (tests, the export's checks): whole clips, trusted sizes


@dataclass
class MediaInfo:
    """What a video file holds, read back with PyAV (frames are counted by decoding, not trusted from headers)."""

    format: str
    video_codec: str
    frames: int
    fps: Fraction
    width: int
    height: int
    duration: float
    audio_codec: str | None = None
    audio_rate: int | None = None
    audio_channels: int = 0
    audio_samples: int = 0


def probe(path: str | Path, *, count_audio: bool = True) -> MediaInfo:
    """Decode ``path`` fully and report streams, exact frame count and audio sample count."""
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise MediaError(f"cannot open the video: {exc}", path=path) from exc
    with container:
        if not container.streams.video:
            raise MediaError("the file has no video stream", path=path)
        vs = container.streams.video[0]
        frames = sum(1 for _ in container.decode(vs))
        info = MediaInfo(
            format=container.format.name,
            video_codec=vs.codec_context.name,
            frames=frames,
            fps=Fraction(vs.average_rate or vs.guessed_rate or 0),
            width=vs.codec_context.width,
            height=vs.codec_context.height,
            duration=float(container.duration or 0) / av.time_base,
        )
    if count_audio:
        with av.open(str(path)) as container:
            if container.streams.audio:
                aus = container.streams.audio[0]
                info.audio_codec = aus.codec_context.name
                info.audio_rate = aus.codec_context.sample_rate
                info.audio_channels = aus.codec_context.channels
                info.audio_samples = sum(f.samples for f in container.decode(aus))
    return info


def read_frames(path: str | Path, *, max_frames: int | None = None, step: int = 1) -> np.ndarray:
    """Decode video frames as uint8 [T, H, W, 3] RGB (every ``step``-th, at most ``max_frames``)."""
    return _decode(path, lambda frame: frame.to_ndarray(format="rgb24"), max_frames, step)


def read_luma(path: str | Path, *, max_frames: int | None = None) -> np.ndarray:
    """Decode the Y plane of each frame as full-range float32 [T, H, W], without any RGB round trip.

    swscale's YUV->RGB path shifts brightness by about a level; reading Y directly keeps it exact.
    Whole frames, all kept: for our own clips. A file from anyone goes through UntrustedVideo.
    """
    return _decode(path, _frame_luma, max_frames, 1)


def _decode(path: str | Path, convert, max_frames: int | None, step: int,
            max_bytes: int = MAX_DECODED_BYTES) -> np.ndarray:
    """Decode into memory, refusing (from the header, and again while decoding, since a header may lie) a clip
    whose frames would take more than ``max_bytes``."""
    out: list[np.ndarray] = []
    held = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError("the file has no video stream", path=path)
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            width, height = vs.codec_context.width, vs.codec_context.height
            seconds = float(container.duration or 0) / av.time_base
            rate = float(vs.average_rate or vs.guessed_rate or 0)
            promised = (vs.frames or int(seconds * rate)) // max(step, 1)
            if max_frames is not None:
                promised = min(promised, max_frames)
            if promised * width * height * 3 > max_bytes:
                raise _too_large(path, width, height, promised, max_bytes)
            for index, frame in enumerate(container.decode(vs)):
                if index % step:
                    continue
                picture = convert(frame)
                held += picture.nbytes
                if held > max_bytes:
                    raise _too_large(path, frame.width, frame.height, len(out) + 1, max_bytes)
                out.append(picture)
                if max_frames is not None and len(out) >= max_frames:
                    break
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode the video: {exc}", path=path) from exc
    if not out:
        raise MediaError("the video has no decodable frames", path=path)
    return np.stack(out)


def _too_large(path: str | Path, width: int, height: int, frames: int, max_bytes: int) -> MediaError:
    return MediaError(
        f"the video decodes to more than {max_bytes // 2**20} MB ({frames} frames of {width}x{height} or more)",
        path=path,
        hint="use a shorter or smaller clip",
    )


def _frame_luma(frame: av.VideoFrame) -> np.ndarray:
    return _reduced_luma(frame, 1, frame.height, frame.width)
