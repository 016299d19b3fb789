"""The last render of a graph that was opened: found in the render history, so a person who reopens a project (or
the editor) sees and scrubs what they rendered last without rendering again.

A window's LastRender holds only what this window rendered since the graph was opened: the engine's cache and the
render controller live in the process, and opening a graph clears them (it is another graph's canvas now). What
outlives them is the output folder's render history (studio/media/render_history.py): every finished render with
its graph's hash, the files it wrote and a proxy of its clip. The newest render of exactly this graph is shown
(its exported clip at full size when that file is still there and small enough to hold, else the proxy); failing
that, the newest render of a graph of this name, said to be of an earlier version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.engine.engine import draft_copy, graph_hash
from studio.graph import Graph, NodeRegistry
from studio.media.render_history import HistoryRecord, RenderHistory
from studio.ui.shell.jobs import BackgroundJob
from studio.values import Sound

if TYPE_CHECKING:
    from studio.ui.shell.session import EditSession

log = logging.getLogger(__name__)
FULL_CLIP_BYTES = 512 << 20  # decoded larger than this, the exported clip is not read back: the proxy shows


@dataclass
class ReopenedRender:
    """What was rendered last of the graph on the canvas, read back from the history."""

    record: HistoryRecord
    frames: np.ndarray  # uint8 [T, H, W, 3]
    fps: float
    exact: bool  # the graph on the canvas is the graph it rendered (else an earlier version of it)
    source: str  # the file the frames came from: the exported clip, or "the history's proxy"
    sound: Sound | None = None

    def describe(self, source: bool = False) -> str:
        """"last render (#3 of the History, 07 Dec 18:04)", with where its frames came from when ``source``."""
        when = time.strftime("%d %b %H:%M", time.localtime(self.record.finished))
        kind = "draft" if self.record.draft else "render"
        where = f", from {self.source}" if source else ""
        return f"last {kind} (#{self.record.number} of the History, {when}{where})" + (
            "" if self.exact else ": the graph has changed since")


def find_last_render(history: RenderHistory, graph: Graph, registry: NodeRegistry,
                     name: str | None) -> ReopenedRender | None:
    """The newest render of ``graph`` in ``history`` with its frames (read now: run it off the main thread), or of
    an earlier version of the graph named ``name`` (None: only this graph); None when the history holds neither
    with a clip."""
    if not graph.nodes:
        return None
    wanted = {graph_hash(graph), graph_hash(draft_copy(graph, registry)[0])}  # a draft ran the draft copy
    records = [r for r in history.records() if r.frames > 0]
    exact = [r for r in records if r.graph_hash in wanted]
    named = [r for r in records if name and r.label.split(" · ", 1)[0] == name and r not in exact]
    for record, same in [(r, True) for r in exact] + [(r, False) for r in named]:
        found = _frames(history, record)
        if found is not None:
            frames, source, sound = found
            return ReopenedRender(record, frames, record.fps or 16.0, same, source, sound)
    return None


def _frames(history: RenderHistory, record: HistoryRecord) -> tuple[np.ndarray, str, Sound | None] | None:
    """The record's clip: the file it exported when that is still there with as many frames (full size, with its
    sound), else the history's proxy; None when neither is kept."""
    for written in record.written:
        found = _clip_file(history, Path(written), record.frames)
        if found is not None:
            return found
    proxy = history.proxy(record)
    return (proxy, "the history's proxy", None) if proxy is not None and len(proxy) else None


def _clip_file(history: RenderHistory, path: Path, frames: int) -> tuple[np.ndarray, str, Sound | None] | None:
    """A clip the render exported, read back: only a file inside the output folder that Studio wrote (a project
    folder from someone else may hold a history naming any file), decoded within bounds; None otherwise."""
    from studio.media.outputs import studio_kind
    from studio.media.video_read import UntrustedVideo

    root = history.folder.parent
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError:
        return None
    if not inside or path.suffix.lower() not in (".mp4", ".mov", ".mkv", ".webm") or studio_kind(path) is None:
        return None
    try:
        with UntrustedVideo(path) as video:
            read = video.rgb(max_frames=frames + 1, max_bytes=FULL_CLIP_BYTES)
    except Exception as exc:  # noqa: BLE001 - too large, or does not read back: the proxy will do
        log.debug("the clip %s did not read back: %s", path, exc)
        return None
    if len(read) != frames:  # another clip under that name now, or an export of a part of it
        return None
    return read, str(path), _sound(path)


def _sound(path: Path) -> Sound | None:
    """The clip's soundtrack (for the audio lane), or None when it has none."""
    try:
        import av

        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
        from studio.media.audio import load_audio

        return load_audio(path)
    except Exception as exc:  # noqa: BLE001 - no sound is still a clip to look at
        log.debug("the sound of %s did not read back: %s", path, exc)
        return None


class ReopenWatch(QObject):
    """Looks up the last render of the graph just opened (off the main thread) and hands it over with ``found``,
    unless something made it moot meanwhile (``drop``: a render started, another graph opened)."""

    found = Signal(object)  # ReopenedRender

    def __init__(self, session: EditSession, history_for: Callable[[], RenderHistory],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.history_for = session, history_for
        self._asked = 0  # which lookup is wanted: an older one's answer is dropped
        self.job: BackgroundJob | None = None

    def look(self) -> BackgroundJob | None:
        session = self.session
        if not session.graph.nodes:
            return None
        self._asked += 1
        asked, history, graph, registry = self._asked, self.history_for(), session.graph.copy(), session.registry
        name = session.display_name if session.path is not None else None  # "untitled" names no graph

        def read(_ctx: object) -> ReopenedRender | None:
            return find_last_render(history, graph, registry, name)

        self.job = BackgroundJob(read, "reopen", background=False, parent=self)
        self.job.succeeded.connect(lambda found: self._take(asked, found))
        self.job.failed.connect(lambda why: log.info("the last render could not be read back: %s", why))
        self.job.finished.connect(self.job.deleteLater)
        return self.job.start()

    def drop(self) -> None:
        self._asked += 1

    def _take(self, asked: int, found: ReopenedRender | None) -> None:
        if asked == self._asked and found is not None:
            self.found.emit(found)
