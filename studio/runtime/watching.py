"""Whether anyone watches a render's live previews, in the current context (torch-free: the CLI sets it).

`studio render` shows a step bar, never frames, so it renders unwatched and the sampler skips decoding a
whole-clip preview at every step. The editor, the farm's workers and tests render watched, the default.
A context variable rather than a flag on each request: the decision is the front end's, and it reaches the
sampler through nodes that know nothing of who listens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_watched: ContextVar[bool] = ContextVar("studio_previews_watched", default=True)


def previews_watched() -> bool:
    """False inside ``unwatched()``: nobody will look at a step's preview, so none need be made."""
    return _watched.get()


@contextmanager
def unwatched() -> Iterator[None]:
    """Render without live previews in this context (a thread starts with the default: watched)."""
    token = _watched.set(False)
    try:
        yield
    finally:
        _watched.reset(token)
