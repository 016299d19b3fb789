"""Signed export, the one entry point for the Export node: watermark the frames, encode once, sign last."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from studio.errors import Cancelled, MediaError, SigningError
from studio.fileio import place_new, shareable_mode
from studio.media import outputs, partfiles
from studio.media import watermark as wm
from studio.media.encode import (
    EXTENSIONS,
    CancelCheck,
    EncodeInfo,
    EncodeSettings,
    Format,
    ProgressCallback,
    as_fps,
    check_frames,
    encode_video,
)
from studio.media.framestore_spool import drop_pages, mapped
from studio.media.provenance import Provenance, sign_mp4
from studio.media.signing import SigningIdentity, local_identity
from studio.values import Sound, Video

SIGNABLE_FORMATS = ("mp4",)


@dataclass(frozen=True)
class ExportOptions:
    """What the Export node and dialog choose. Frame range is [in_frame, out_frame), None meaning the ends."""

    format: Format = "mp4"
    crf: int = 23
    bitrate: int | None = None
    preset: str = "fast"  # see encode.X264_PRESETS
    in_frame: int = 0
    out_frame: int | None = None
    watermark: bool = True
    sign: bool = True
    odd_size: str = "pad"  # "pad" or "refuse"
    watermark_step: float = wm.DEFAULT_STEP
    timeline: bool = False  # also an editor timeline (.otio) beside the clip, see otio_export.py
    timeline_shots: bool = True  # a sequence's timeline: one clip per shot (False: the whole clip as one)
    # An existing file at the destination: False writes the next version (clip_0002.mp4); True replaces it when
    # it is an earlier output of Studio's (anything else is refused). A draft never replaces a full render.
    overwrite: bool = False
    draft: bool = False
    thumbnail: int = 256  # longest side of an ingredient's thumbnail in the manifest; 0: none

    def encode_settings(self) -> EncodeSettings:
        return EncodeSettings(
            format=self.format,
            crf=self.crf,
            bitrate=self.bitrate,
            preset=self.preset,
            odd_size=self.odd_size,  # type: ignore[arg-type]
            comment=outputs.comment_for(self.draft),
        )


@dataclass
class ExportResult:
    """What the export wrote and what it contains; ``notes`` lists anything changed to make it fit."""

    path: Path
    frames: int
    fps: Fraction
    width: int
    height: int
    duration: Fraction
    format: str
    signed: bool
    instance_id: str
    manifest_label: str | None = None
    signer: str | None = None
    watermark_payload: str | None = None  # hex
    watermark_psnr: float | None = None
    audio_samples: int = 0
    audio_rate: int | None = None
    encode_seconds: float = 0.0
    sign_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    timeline_path: Path | None = None  # the .otio beside the clip, when asked for


class _Frames(Sequence[np.ndarray]):
    """The clip as the encoder sees it: cut to the range, padded to even, and for the RGB master only,
    watermarked frame by frame (4:2:0 formats are marked in their Y plane by the encoder, see
    ``Embedder.mark_i420``). Lazy, so a long clip never exists twice in memory; a clip spooled on disk
    (``framestore_spool``) is read a frame at a time and never becomes resident as a whole.
    """

    def __init__(self, frames, first: int, count: int, pad: tuple[int, int], embedder: wm.Embedder | None):
        self.frames, self.first, self.count, self.pad, self.embedder = frames, first, count, pad, embedder
        self.spooled = isinstance(frames, np.ndarray) and mapped(frames) is not None

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            raise TypeError("frames are read one at a time")
        if not 0 <= index < self.count:
            raise IndexError(index)
        frame = np.asarray(self.frames[self.first + index])
        if self.spooled:
            # a clip on disk (a long sequence): copy the frame out and let its pages go again, so encoding
            # two minutes leaves as little resident as encoding two seconds
            view, frame = frame, np.array(frame)
            drop_pages(view)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise MediaError(
                f"frame {self.first + index} is not uint8 [H, W, 3]: {frame.dtype} {frame.shape}"
            )
        if self.pad != (0, 0):
            frame = np.pad(frame, ((0, self.pad[0]), (0, self.pad[1]), (0, 0)), mode="edge")
        return frame if self.embedder is None else self.embedder(frame)


def export_clip(
    frames: Sequence[np.ndarray] | np.ndarray,
    fps: float | Fraction,
    destination: str | Path,
    *,
    audio: np.ndarray | None = None,
    audio_rate: int | None = None,
    options: ExportOptions | None = None,
    provenance: Provenance | None = None,
    identity: SigningIdentity | None = None,
    on_progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
    sections: Sequence[Sequence] = (),
    shots: Sequence = (),
) -> ExportResult:
    """Export ``frames`` (uint8 [T, H, W, 3]) with optional ``audio`` (float32 [samples, channels]) to ``destination``.

    The file appears at ``destination`` only when it is complete (and signed, when ``options.sign``); a
    failure, a cancel (raises Cancelled) or a crash leaves nothing there. An existing file there is never
    replaced unless ``options.overwrite`` and it is an earlier output of Studio's: the clip goes to the next
    free version (clip_0002.mp4) instead; ``ExportResult.path`` says where it went. ``identity`` defaults to the
    user's local identity, created on first use. ``on_progress(done, total)`` counts encoded frames.
    With ``options.timeline`` an .otio follows the clip, marking the prompt schedule's ``sections``
    ([start seconds, prompt]) and the beats of the sound; a sequence's ``shots`` (``ShotRecord``s) become one
    clip each when ``options.timeline_shots``.
    """
    options = options or ExportOptions()
    settings = options.encode_settings()
    rate = as_fps(fps)
    total, height, width = check_frames(frames)
    first = options.in_frame
    last = total if options.out_frame is None else options.out_frame
    if not 0 <= first < last <= total:
        raise MediaError(
            f"the frame range [{first}, {last}) is outside the clip's {total} frames",
            hint="in must be before out, both within the clip",
        )
    count = last - first
    if options.sign and options.format not in SIGNABLE_FORMATS:
        raise MediaError(
            f"Content Credentials cannot be embedded in {options.format} files",
            hint="export MP4 to sign, or turn signing off for this format",
        )
    if options.sign:
        if provenance is None:
            raise MediaError("a signed export needs the clip's provenance (model, prompts, seed)")
        identity = identity or local_identity()

    notes: list[str] = []
    pad = (0, 0)
    if options.format != "mkv-ffv1" and (height % 2 or width % 2):
        if options.odd_size == "refuse":
            raise MediaError(
                f"{width}x{height} has an odd side, which 4:2:0 video cannot store",
                hint="render at an even size, or let the export pad it",
            )
        # Pad before the watermark so the detector sees the same picture size the embedder used.
        pad = (height % 2, width % 2)
    instance = uuid.uuid4()
    payload = instance.bytes[: wm.PAYLOAD_BITS // 8]
    embedder = None
    if options.watermark:
        embedder = wm.Embedder(payload, height + pad[0], width + pad[1], step=options.watermark_step)
    rgb_master = options.format == "mkv-ffv1"
    clip = _Frames(frames, first, count, pad, embedder if rgb_master else None)
    mark = embedder.mark_i420 if (embedder is not None and not rgb_master) else None
    clip_audio = None
    if audio is not None:
        from studio.media import audio_io

        clip_audio, audio_rate = audio_io.check_audio(audio, audio_rate)
        clip_audio = audio_io.fit_to_frames(clip_audio, audio_rate, rate, first, count)

    dest = Path(destination)
    suffix = EXTENSIONS[options.format]
    if dest.suffix.lower() != suffix:
        raise MediaError(
            f"the file name '{dest.name}' does not end in {suffix}, the extension of {options.format}",
            path=dest,
            hint=f"name it '{dest.stem}{suffix}', or choose the format that matches the name",
        )
    label = None
    sign_seconds = 0.0
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise MediaError(
            f"cannot write to {dest.parent}: a file is in the way of that folder",
            path=dest,
            hint="choose another folder",
        ) from None
    except OSError as exc:
        raise outputs.write_error(exc, dest) from exc
    # What an earlier export to this folder left when it was killed (never anything but our own part files).
    partfiles.sweep(dest.parent)
    with _scratch(dest, suffix, "part") as final_tmp:
        # Held while written: a sweep by another process (even in another container) leaves it alone.
        with partfiles.hold(final_tmp):
            started = time.perf_counter()

            def encode(target: Path) -> EncodeInfo:
                return encode_video(
                    clip,
                    rate,
                    target,
                    audio=clip_audio,
                    audio_rate=audio_rate,
                    settings=settings,
                    on_progress=on_progress,
                    is_cancelled=is_cancelled,
                    mark=mark,
                )

            if options.sign:
                with _scratch(dest, suffix, "unsigned") as unsigned, partfiles.hold(unsigned):
                    info = encode(unsigned)
                    encode_seconds = time.perf_counter() - started
                    _check_cancel(is_cancelled)
                    started = time.perf_counter()
                    assert provenance is not None and identity is not None
                    label = sign_mp4(
                        unsigned,
                        final_tmp,
                        provenance,
                        identity,
                        instance_id=f"xmp:iid:{instance}",
                        watermark_payload=payload if embedder else None,
                        thumbnail=options.thumbnail,
                    )
                    sign_seconds = time.perf_counter() - started
            else:
                info = encode(final_tmp)
                encode_seconds = time.perf_counter() - started
            _check_cancel(is_cancelled)
        # mkstemp made the temp file 0600; a clip is for sharing, so give it the user's usual mode.
        os.chmod(final_tmp, shareable_mode())
        _fsync(final_tmp)
        dest = outputs.place_output(
            final_tmp,
            dest,
            overwrite=options.overwrite,
            draft=options.draft,
            companions=(".otio",) if options.timeline else (),
        )
    if pad != (0, 0):
        notes.append(
            f"padded {width}x{height} to {width + pad[1]}x{height + pad[0]} (4:2:0 needs even sizes)"
        )
    result = _result(
        dest,
        info,
        options,
        instance,
        label,
        identity,
        payload if embedder else None,
        embedder.psnr if embedder is not None else None,
        encode_seconds,
        sign_seconds,
        notes + info.notes,
    )
    if options.timeline:
        result.timeline_path = _write_timeline(
            result, provenance, sections, first, clip_audio, audio_rate, options,
            shots if options.timeline_shots else (),
        )
    return result


def export_video(
    video: Video,
    destination: str | Path,
    *,
    audio: Sound | None = None,
    options: ExportOptions | None = None,
    graph_hash: str | None = None,
    identity: SigningIdentity | None = None,
    on_progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
    graph_document: str | None = None,
) -> ExportResult:
    """Export a rendered clip with the sound it plays with: the Export node's and the editor's Export
    dialog's way in. What made it (``video.generation``, the graph ``graph_hash``, the sound's file) is its
    provenance; its prompt schedule marks the editor timeline."""
    provenance = Provenance.from_generation(
        video.generation, graph_hash=graph_hash, audio_source=audio.source if audio is not None else None,
        graph_document=graph_document,
    )
    return export_clip(
        video.frames,
        video.fps,
        destination,
        audio=audio.samples if audio is not None else None,
        audio_rate=audio.rate if audio is not None else None,
        options=options,
        provenance=provenance,
        identity=identity,
        on_progress=on_progress,
        is_cancelled=is_cancelled,
        sections=video.generation.sections if video.generation is not None else (),
        shots=video.generation.shots if video.generation is not None else (),
    )


def _write_timeline(result: ExportResult, provenance, sections, first: int, audio, audio_rate, options,
                    shots=()) -> Path:
    """The .otio beside the clip, which is already in place: a failure here says so and keeps the clip.
    It takes the clip's name and version; it replaces a timeline there only under the clip's own rule."""
    from studio.media import otio_export

    fps = float(result.fps)
    clips = otio_export.shot_clips(shots, fps, first, result.frames)
    # a shot's clip starts where its section would: the clips say it, markers would say it twice
    markers = [] if clips else otio_export.section_markers(sections, fps, first, result.frames)
    markers += otio_export.beat_markers(audio, audio_rate, fps, result.frames)
    about = provenance.parameters() if provenance is not None else {}
    about |= {
        "first_frame": first,
        "content_credentials": result.manifest_label,
        "signer": result.signer,
        "watermark": result.watermark_payload,
        "studio_output": "draft" if options.draft else "full",
    }
    target = otio_export.timeline_path(result.path)
    try:
        with _scratch(target, ".otio", "part") as tmp:
            otio_export.write_timeline(
                result.path,
                frames=result.frames,
                fps=result.fps,
                has_audio=audio is not None,
                markers=markers,
                metadata=about,
                destination=tmp,
                shots=clips,
            )
            os.chmod(tmp, shareable_mode())
            replace = outputs.replacer(options.overwrite, options.draft)
            if not place_new(tmp, target):
                if replace is None or not replace(target):
                    raise MediaError(f"{target.name} appeared while the clip was written, and is kept")
                os.replace(tmp, target)
        path = target
    except (MediaError, OSError) as exc:
        raise MediaError(
            f"the clip was written to {result.path.name}, but its editor timeline (.otio) was not: {exc}",
            path=result.path,
            hint="the clip is complete; export again to retry the timeline",
        ) from exc
    return path


def _result(dest, info: EncodeInfo, options, instance, label, identity, payload, psnr, enc_s, sign_s, notes):
    return ExportResult(
        path=dest,
        frames=info.frames,
        fps=info.fps,
        width=info.width,
        height=info.height,
        duration=info.duration,
        format=info.format,
        signed=options.sign,
        instance_id=f"xmp:iid:{instance}",
        manifest_label=label,
        signer=identity.subject if (identity and options.sign) else None,
        watermark_payload=payload.hex() if payload else None,
        watermark_psnr=psnr,
        audio_samples=info.audio_samples,
        audio_rate=info.audio_rate,
        encode_seconds=enc_s,
        sign_seconds=sign_s,
        notes=notes,
    )


def _check_cancel(is_cancelled: CancelCheck | None) -> None:
    if is_cancelled is not None and is_cancelled():
        raise Cancelled("export cancelled")


@contextlib.contextmanager
def _scratch(dest: Path, suffix: str, kind: str):
    """A hidden part file beside the destination (same disk, so no cross-device copy); removed unless it was
    placed. A write that fails for lack of space or permission says so, naming the destination."""
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{dest.name}.", suffix=partfiles.part_suffix(kind, suffix), dir=dest.parent
        )
    except OSError as exc:
        raise outputs.write_error(exc, dest) from exc
    os.close(fd)
    path = Path(name)
    try:
        yield path
    except OSError as exc:
        raise outputs.write_error(exc, dest) from exc
    except SigningError as exc:
        _raise_if_disk_full(dest, exc)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _raise_if_disk_full(dest: Path, exc: Exception) -> None:
    """c2pa reports a full disk as an opaque error on the part file: check the disk and say it plainly."""
    import shutil

    with contextlib.suppress(OSError):
        if shutil.disk_usage(dest.parent).free < 1024 * 1024:
            raise MediaError(
                f"no space left on {dest.parent}", path=dest, hint="free some space, or choose another folder"
            ) from exc


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


__all__ = ["ExportOptions", "ExportResult", "SigningError", "export_clip", "export_video"]
