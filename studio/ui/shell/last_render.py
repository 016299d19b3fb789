"""The last finished render of a window: what it made, as one value that panels subscribe to.

The render controller owns it and publishes each run that ends well; the timeline shows its clip, the
Export dialog exports it, and new panels (history, metrics, queue) listen to the same signal instead of
reaching into the controller's run handle or the timeline's widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.engine import RunResult
from studio.values import Sound, Video


@dataclass(frozen=True)
class Render:
    """One finished run: its result, whether it was a draft, and the files its nodes wrote."""

    result: RunResult
    draft: bool = False
    written: tuple[Path, ...] = ()
    streamed: str | None = None  # the node whose previews the run streamed (its clip is the render's clip)
    number: int = 0  # counts the window's finished renders: 1, 2, ...
    # what the queue knew of it: "graph" (the snapshot it ran), "label", "base_dir", "varied" (NODE.PARAM=VALUE)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.result.outputs

    def videos(self) -> list[tuple[str, Video]]:
        """(node id, video) of every video the run made, in evaluation order."""
        return [(nid, v) for nid, ports in self.outputs.items() for v in ports.values() if isinstance(v, Video)]

    def clip(self) -> tuple[str, Video] | None:
        """The render's clip: the streaming node's video, else the last video made; None without one."""
        videos = self.videos()
        if not videos:
            return None
        return next(((n, v) for n, v in videos if n == self.streamed), videos[-1])

    def sound(self) -> Sound | None:
        """The last sound the run made (what the timeline's audio lane plays with the clip)."""
        sounds = [v for ports in self.outputs.values() for v in ports.values() if isinstance(v, Sound)]
        return sounds[-1] if sounds else None


class LastRender(QObject):
    """Holds the window's newest finished render; ``rendered`` fires with each, ``cleared`` when it no longer
    belongs to the graph on the canvas (another graph was opened or a new one started)."""

    rendered = Signal(object)  # Render
    cleared = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: Render | None = None
        self.count = 0

    def publish(self, result: RunResult, *, draft: bool = False, written: tuple[Path, ...] = (),
                streamed: str | None = None, extra: dict[str, Any] | None = None) -> Render:
        self.count += 1
        self.current = Render(result, draft, tuple(written), streamed, self.count, dict(extra or {}))
        self.rendered.emit(self.current)
        return self.current

    def clear(self) -> None:
        if self.current is not None:
            self.current = None
            self.cleared.emit()
