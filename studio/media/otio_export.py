"""An editor timeline beside an exported clip: OpenTimelineIO, so the clip lands in Resolve, Hiero or RV.

The .otio holds one video track (and an audio track when the clip has sound) whose clip refers to the
exported file, at its exact frame rate and length; the prompt schedule's sections and the soundtrack's
beats become markers on it (cut on the beat), and what made the clip (model, prompt, seed, graph hash,
Content Credentials label, watermark payload) rides along as metadata under ``studio``. A sequence's
timeline may instead hold one clip per shot, each a range of the same signed file with the shot's name,
prompt and seed, so an editor can re-cut the shots; the sound stays one clip under them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import MediaError
from studio.fileio import write_text_atomic

SUFFIX = ".otio"
SECTION_COLOR, BEAT_COLOR = "YELLOW", "GREEN"


@dataclass(frozen=True)
class Marker:
    """A point on the clip: ``frame`` counted from the exported clip's first frame."""

    frame: int
    name: str
    color: str = BEAT_COLOR
    comment: str = ""


@dataclass(frozen=True)
class ShotClip:
    """One shot as a clip of the exported file: ``first`` counted from the exported clip's first frame."""

    first: int
    frames: int
    name: str
    about: Mapping[str, Any]  # the shot's row: its number, prompt, seed, transition, character


def shot_clips(shots: Iterable[Any], fps: float, first: int, count: int) -> list[ShotClip]:
    """The shots (``studio.values.ShotRecord``: name, start seconds, prompt, seed, ...) that fall inside the
    exported range [first, first + count), each cut to it."""
    rows = sorted(shots or (), key=lambda shot: float(shot.start))
    if not rows:
        return []
    starts = [round(float(shot.start) * fps) for shot in rows]
    clips = []
    ends = starts[1:] + [first + count]
    for number, (shot, start, end) in enumerate(zip(rows, starts, ends, strict=True), 1):
        lo, hi = max(start, first), min(end, first + count)
        if hi <= lo:
            continue
        about = {"shot": number, "name": shot.name, "prompt": shot.prompt, "seed": shot.seed,
                 "transition": shot.transition, "character": shot.character, "first_frame": start}
        clips.append(ShotClip(lo - first, hi - lo, str(shot.name), about))
    return clips


def timeline_path(clip_path: str | Path) -> Path:
    """Where the timeline of ``clip_path`` goes: beside it, same name, ``.otio``."""
    return Path(clip_path).with_suffix(SUFFIX)


def section_markers(sections: Iterable[Any], fps: float, first: int, count: int) -> list[Marker]:
    """Markers for a prompt schedule's sections ([start seconds, prompt] pairs) inside the exported range."""
    markers = []
    for section in sections or ():
        try:
            start, prompt = float(section[0]), str(section[1])
        except (TypeError, ValueError, IndexError):
            continue  # a shape this file format does not know: leave it out rather than fail the export
        frame = round(start * fps) - first
        if 0 <= frame < count:
            label = prompt if len(prompt) <= 40 else prompt[:39] + "…"
            markers.append(Marker(frame, label, SECTION_COLOR, prompt))
    return markers


def beat_markers(audio: np.ndarray | None, rate: int | None, fps: float, count: int) -> list[Marker]:
    """Markers on the beats of ``audio`` (already cut to the exported frames, as the export muxes it)."""
    if audio is None or rate is None or audio.shape[0] == 0:
        return []
    from studio.media.audio import analyse
    from studio.values import Sound

    found = analyse(Sound(np.asarray(audio, np.float32), int(rate)), fps, count)
    return [Marker(frame, "beat", BEAT_COLOR) for frame in found.beats if 0 <= frame < count]


def write_timeline(
    clip_path: str | Path,
    *,
    frames: int,
    fps: float | Fraction,
    has_audio: bool,
    markers: Iterable[Marker] = (),
    metadata: Mapping[str, Any] | None = None,
    destination: str | Path | None = None,
    shots: Sequence[ShotClip] = (),
) -> Path:
    """Write the .otio for the exported clip at ``clip_path`` (atomically); return where it went. With
    ``shots``, the video track holds one clip per shot (markers go on the shot they fall in)."""
    import opentimelineio as otio

    clip_path = Path(clip_path).resolve()
    target = Path(destination) if destination is not None else timeline_path(clip_path)
    rate = float(fps)
    whole = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)
    )
    meta = {"studio": _plain(dict(metadata or {}))}

    def span(first: int, count: int) -> Any:
        return otio.opentime.TimeRange(
            otio.opentime.RationalTime(first, rate), otio.opentime.RationalTime(count, rate)
        )

    def clip(name: str = clip_path.name, used: Any = whole, about: Any = meta) -> Any:
        # every clip refers to the whole signed file; a shot's clip uses its range of it
        reference = otio.schema.ExternalReference(target_url=clip_path.as_uri(), available_range=whole)
        return otio.schema.Clip(name=name, media_reference=reference, source_range=used, metadata=about)

    video = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    pictures = [(0, frames, clip())]
    if shots:
        pictures = [(shot.first, shot.frames, clip(shot.name, span(shot.first, shot.frames),
                                                   {"studio": _plain(dict(shot.about))})) for shot in shots]
    for marker in sorted(markers, key=lambda m: m.frame):
        picture = next((c for lo, n, c in pictures if lo <= marker.frame < lo + n), None)
        if picture is None:
            continue
        picture.markers.append(
            otio.schema.Marker(
                name=marker.name,
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(marker.frame, rate), otio.opentime.RationalTime(0, rate)
                ),
                color=getattr(otio.schema.MarkerColor, marker.color),
                metadata={"studio": {"comment": marker.comment}} if marker.comment else None,
            )
        )
    at = 0
    for lo, count, picture in pictures:
        if lo > at:  # a part of the file no shot covers: kept as a gap, so the shots stay at their frames
            video.append(otio.schema.Gap(source_range=span(0, lo - at)))
        video.append(picture)
        at = lo + count
    tracks = [video]
    if has_audio:
        sound = otio.schema.Track(name="Audio 1", kind=otio.schema.TrackKind.Audio)
        sound.append(clip())
        tracks.append(sound)
    timeline = otio.schema.Timeline(
        name=clip_path.stem,
        tracks=tracks,
        global_start_time=otio.opentime.RationalTime(0, rate),
        metadata=meta,
    )
    try:
        write_text_atomic(target, otio.adapters.write_to_string(timeline, "otio_json"))
    except OSError as exc:
        raise MediaError(f"cannot write the editor timeline: {exc.strerror or exc}", path=target) from exc
    return target


def _plain(value: Any) -> Any:
    """Metadata as OTIO stores it: dicts, lists, strings, numbers, booleans (None and others as text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value if v is not None]
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)
