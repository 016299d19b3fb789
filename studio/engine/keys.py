"""Cache keys: a sha256 of JSON data, with numpy arrays by content and anything inexact never matching."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def digest(parts: Any) -> str:
    """sha256 of ``parts`` (see ``key_digest``)."""
    return key_digest(parts)[0]


def key_digest(parts: Any) -> tuple[str, bool]:
    """sha256 of ``parts`` and whether it is exact. A value with no exact content (any object but JSON data,
    numpy arrays and scalars, bytes and paths) gets a random stand-in, so its key always misses: its repr
    would not do, as numpy's truncates and two different arrays inside one value would collide."""
    exact = True

    def jsonable(value: Any) -> Any:
        nonlocal exact
        content = _content(value)
        if content is None:
            exact = False
            return "unhashable:" + os.urandom(16).hex()
        return content

    text = json.dumps(parts, sort_keys=True, default=jsonable, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), exact


def _content(value: Any) -> Any:
    """What stands for ``value`` in a key (JSON data), or None when nothing exact can."""
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        # the same bytes in another shape or dtype are another picture
        data = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return ["ndarray", value.dtype.str, list(value.shape), data]
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return ["numpy", value.dtype.str, value.item()]
    if isinstance(value, bytes | bytearray):
        return ["bytes", hashlib.sha256(value).hexdigest()]
    if isinstance(value, Path):
        return ["path", str(value)]
    return None
