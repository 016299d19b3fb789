"""The Export dialog's work apart from its widgets: which clip to export, the request, the worker job."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.errors import Cancelled, StudioError
from studio.priority import lower_this_thread
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
    in_point: int | None = None
    out_point: int | None = None

    def describe(self) -> str:
        w, h = self.video.size
        count, fps = self.video.num_frames, float(self.video.fps)
        sound = " · with sound" if self.audio is not None else ""
        shape = f"{count} frames · {w}x{h} · {fps:g} fps · {count / fps:.2f} s{sound}"
        return f"Last render: node '{self.node_id}' · {shape}"


def rendered_clip(render: Render | None, marks: tuple[int | None, int | None] | None = None) -> RenderedClip | None:
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


class ExportJob(QObject):
    """One export on a worker thread; its signals arrive on the main thread (queued)."""

    progress = Signal(int, int)
    succeeded = Signal(object)  # ExportResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, request: ExportRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self._cancel = threading.Event()
        self._shown = -1
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="studio-export", daemon=True)
        self.thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _on_progress(self, done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent != self._shown:  # at most a hundred updates, however long the clip
            self._shown = percent
            self.progress.emit(done, total)

    def _run(self) -> None:
        lower_this_thread()  # and the encode's workers, which it starts: the editor stays fluid
        try:
            result = export_request(self.request, self._on_progress, self._cancel.is_set)
        except Cancelled:
            self.cancelled.emit()
        except StudioError as exc:
            self.failed.emit(str(exc))
        except OSError as exc:  # the folder cannot be made or written: say which and why
            where = exc.filename or self.request.destination
            self.failed.emit(f"cannot write {where}: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - shown as a sentence; the traceback goes to the log
            log.exception("the export failed")
            self.failed.emit(
                f"the export failed unexpectedly ({exc.__class__.__name__}: {exc}); the log has details"
            )
        else:
            self.succeeded.emit(result)


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
        identity=identity,
        on_progress=on_progress,
        is_cancelled=is_cancelled,
    )


def local_subject() -> str | None:
    try:
        from studio.media.signing import local_identity

        return local_identity(create=False).subject
    except Exception:  # none yet (made on the first signed export), or unreadable: the export will say
        return None
