"""Directing: camera paths, guide and noise warping, signals, prompt planning and motion measurement (numpy only).

It plans; it never drives a model (that is ``studio.runtime.recipes``). No Qt, no torch.
"""

from __future__ import annotations

# Defined with the other errors so that the values on links (studio.values) can raise it too.
from studio.errors import DirectingError

__all__ = ["DirectingError"]
