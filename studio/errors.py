"""Errors a person can act on, shared by every room of the application."""

from __future__ import annotations

from pathlib import Path


class StudioError(Exception):
    """An error caused by input the user controls, with a message they can act on.

    ``node_id``/``port`` say where in the graph it happened, ``path`` which file, and
    ``hint`` what to do about it. ``str(err)`` gives the whole sentence.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        node_id: str | None = None,
        port: str | None = None,
        path: str | Path | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.node_id = node_id
        self.port = port
        self.path = str(path) if path is not None else None
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.node_id:
            where.append(f"node '{self.node_id}'" + (f", port '{self.port}'" if self.port else ""))
        if self.path:
            where.append(f"file '{self.path}'")
        text = (f"{'; '.join(where)}: " if where else "") + self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class GraphFileError(StudioError):
    """A graph file that cannot be read: malformed, unknown version, wrong shape."""


class GraphValidationError(StudioError):
    """A graph that cannot run; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the graph has {len(self.problems)} problem(s):\n{lines}")


class NodeError(StudioError):
    """A node failed while running (bad asset, bad parameter combination, ...)."""


class ModelError(StudioError):
    """A model folder that cannot be loaded, or a model that cannot do what was asked."""


class OutOfMemoryError(ModelError):
    """The device ran out of memory; the hint names the memory options to try."""


class MediaError(StudioError):
    """An image, audio or video file that cannot be read or written."""


class DirectingError(StudioError):
    """A camera path, signal or prompt schedule that cannot be used as given."""


class SigningError(StudioError):
    """A signing identity (certificate chain, key) that cannot be used."""


class Cancelled(Exception):
    """A run stopped because the user asked; not an error."""
