"""Directing: camera paths, guide and noise warping, signals, prompt schedules and motion measurement (no Qt, no torch)."""

from __future__ import annotations

from studio.errors import StudioError


class DirectingError(StudioError):
    """A camera path, signal or prompt schedule that cannot be used as given."""
