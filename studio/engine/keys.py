"""Cache keys: a sha256 of JSON data, with numpy arrays by content and anything inexact never matching.

Every value is written with a tag saying what it is (plain text starts with "s", a numpy array is a
tagged record, ...), so no plain value can spell another kind's record: the list ``["path", "a.png"]``,
the text ``"1"`` and the dict key ``1`` each key differently from ``Path("a.png")``, ``1`` and ``"1"``.
"""

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
    exact = [True]
    text = json.dumps(_tagged(parts, exact), separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), exact[0]


def _tagged(value: Any, exact: list[bool]) -> Any:
    """``value`` as JSON data in which each kind has its own, unforgeable spelling."""
    # bool before int (a bool is an int to Python); float and int subclasses (np.float64) by value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, list | tuple):
        return [_tagged(item, exact) for item in value]
    if isinstance(value, dict):
        items = []
        for name, item in value.items():
            label = _name(name)
            if label is None:
                return _inexact(exact)
            items.append((label, _tagged(item, exact)))
        items.sort(key=lambda pair: pair[0])
        return {label: item for label, item in items}
    content = _content(value)
    if content is None:
        return _inexact(exact)
    return "t" + json.dumps(content, separators=(",", ":"))


def _name(name: Any) -> str | None:
    """A dict key as text that says its kind (json would turn 1 and "1" into the same key)."""
    if isinstance(name, str):
        return "s" + name
    if isinstance(name, bool) or name is None:
        return "k" + json.dumps(name)
    if isinstance(name, int | float):
        return "n" + repr(name)
    return None


def _inexact(exact: list[bool]) -> str:
    exact[0] = False
    return "u" + os.urandom(16).hex()


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
