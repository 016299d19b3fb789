"""The Export dialog's work apart from its widgets: which clip to export, the request, the worker job."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from studio.errors import StudioError
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.last_render import Render
from studio.values import Sound, Video

log = logging.getLogger(__name__)

SIGN_LOCAL, SIGN_FILES, SIGN_NONE = "local", "files", "none"


@dataclass
class RenderedClip:
    """What the Export dialog exports: the last render's video, the sound the timeline plays with it,
    and the timeline's in and out points (inclusive frames) when it shows this clip."""

    video: Video
    node_id: str
    audio: Sound | None = None
    graph_hash: str | None = None
    # the graph as it ran (made into file JSON on the export's worker thread, for the clip's credentials)
    graph: Any = None
    registry: Any = None
    base_dir: Path | None = None
    in_point: int | None = None
    out_point: int | None = None

    def describe(self) -> str:
        w, h = self.video.size
        count, fps = self.video.num_frames, float(self.video.fps)
        sound = " · with sound" if self.audio is not None else ""
        shape = f"{count} frames · {w}x{h} · {fps:g} fps · {count / fps:.2f} s{sound}"
        return f"Last render: node '{self.node_id}' · {shape}"


def rendered_clip(render: Render | None, marks: tuple[int | None, int | None] | None = None,
                  registry: Any = None) -> RenderedClip | None:
    """What the Export dialog offers for a finished render (the window's LastRender), or None without one.

    The video is the render's clip (the node that streamed the previews, else the last video made), with the
    last sound it made; ``marks`` are the timeline's in and out points, used when they belong to this clip."""
    if render is None:
        return None
    found = render.clip()
    if found is None:
        return None
    node_id, video = found
    clip = RenderedClip(video, node_id, render.sound())
    # The graph as it ran, not as it is now: the person may have edited since the render.
    clip.graph_hash = render.result.graph_hash or None
    clip.graph, clip.registry, clip.base_dir = render.extra.get("graph"), registry, render.extra.get("base_dir")
    if marks is not None:
        clip.in_point, clip.out_point = marks
    return clip


@dataclass
class ExportRequest:
    """Everything the worker needs; built on the main thread from the dialog's fields."""

    clip: RenderedClip
    destination: Path
    format: str = "mp4"
    crf: int = 23
    first: int = 0
    last: int = 0  # inclusive
    watermark: bool = True
    signing: str = SIGN_LOCAL
    certificate: str = ""
    private_key: str = ""
    timestamp_url: str = ""  # an RFC 3161 authority for the signature's time, or none
    timeline: bool = False  # an .otio editor timeline beside the clip
    overwrite: bool = False  # replace an earlier Studio export of that name (else the next version is written)
    thumbnail: int = 256  # longest side of the reference picture's thumbnail in the credentials; 0: none


def export_job(request: ExportRequest, parent: QObject | None = None) -> BackgroundJob:
    """One export as a background job (progress, cancel, a sentence on failure), not yet started."""

    def explain(exc: BaseException) -> str:
        if isinstance(exc, OSError) and not isinstance(exc, StudioError):  # say which folder and why
            return f"cannot write {exc.filename or request.destination}: {exc.strerror or exc}"
        if isinstance(exc, StudioError):
            return str(exc)
        return f"the export failed unexpectedly ({exc.__class__.__name__}: {exc}); the log has details"

    return BackgroundJob(lambda ctx: export_request(request, ctx.progress, ctx.cancelled), "export",
                         explain=explain, parent=parent)


def export_request(request: ExportRequest, on_progress=None, is_cancelled=None):  # noqa: ANN001, ANN201
    """Run one export (on the worker thread): the signing identity, then ``export_video``."""
    from studio.media import ExportOptions, export_video
    from studio.media.signing import identity_for

    clip = request.clip
    sign = request.signing != SIGN_NONE and request.format == "mp4"
    identity = None
    if sign:
        own = request.signing == SIGN_FILES
        if own and not (request.certificate and request.private_key):
            raise StudioError(
                "signing with your own certificate needs both the certificate chain and its private key",
                hint="choose both files, or sign with Studio's local identity",
            )
        identity = identity_for(
            request.certificate if own else None,
            request.private_key if own else None,
            request.timestamp_url,
        )
    options = ExportOptions(
        format=request.format,  # type: ignore[arg-type]
        crf=request.crf,
        in_frame=request.first,
        out_frame=request.last + 1,
        watermark=request.watermark,
        sign=sign,
        timeline=request.timeline,
        overwrite=request.overwrite,
        thumbnail=request.thumbnail,
    )
    return export_video(
        clip.video,
        request.destination,
        audio=clip.audio,
        options=options,
        graph_hash=clip.graph_hash,
        graph_document=graph_document(clip),
        identity=identity,
        on_progress=on_progress,
        is_cancelled=is_cancelled,
    )


def graph_document(clip: RenderedClip) -> str | None:
    """The clip's graph as file JSON for its credentials, or None when it is not known or cannot be written."""
    if clip.graph is None or clip.registry is None:
        return None
    from studio.graph import dumps

    try:
        return dumps(clip.graph, clip.registry, clip.base_dir)
    except StudioError:
        return None


def local_subject() -> str | None:
    try:
        from studio.media.signing import local_identity

        return local_identity(create=False).subject
    except Exception:  # none yet (made on the first signed export), or unreadable: the export will say
        return None
