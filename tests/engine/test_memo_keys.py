"""Memo keys: arrays by content, shape and dtype; a value with no exact content never finds another's result."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.engine import CancelToken, Engine, NodeContext
from studio.engine.keys import key_digest
from studio.values import Picture
from tests.toy_nodes import registry, slow


def context(engine: Engine) -> NodeContext:
    return NodeContext(engine, 1, "n", slow, {}, None, lambda event: None, CancelToken())


def two_large_pictures() -> tuple[np.ndarray, np.ndarray]:
    """Two frames that differ in one pixel in the middle, where numpy's repr shows '...'."""
    first = np.zeros((480, 640, 3), np.uint8)
    second = first.copy()
    second[240, 320] = 255
    return first, second


def test_values_holding_different_large_arrays_never_share_a_memo():
    first, second = two_large_pictures()
    assert repr(Picture(first)) == repr(Picture(second))  # what the keys were made of before
    engine = Engine(registry())
    ctx = context(engine)
    calls = []

    def brightness(picture: Picture) -> int:
        calls.append(picture)
        return int(picture.pixels.sum())

    got = [ctx.memo("brightness", [Picture(p)], lambda p=p: brightness(Picture(p))) for p in (first, second)]
    assert got == [0, 3 * 255] and len(calls) == 2
    # such a key always misses, so nothing is kept that no one could find again
    assert ctx.memo("brightness", [Picture(first)], lambda: brightness(Picture(first))) == 0 and len(calls) == 3
    assert engine.memo_stats["brightness"] == [0, 3] and len(engine.cache) == 0


def test_large_arrays_are_keyed_by_content_shape_and_dtype():
    first, second = two_large_pictures()
    engine = Engine(registry())
    ctx = context(engine)
    calls = []

    def shape_of(array: np.ndarray) -> tuple[int, ...]:
        calls.append(array)
        return array.shape

    flat = first.reshape(640, 480, 3)  # the same bytes as another picture: used to hash alike
    assert ctx.memo("shape", [first], lambda: shape_of(first)) == (480, 640, 3)
    assert ctx.memo("shape", [flat], lambda: shape_of(flat)) == (640, 480, 3)
    assert ctx.memo("shape", [second], lambda: shape_of(second)) == (480, 640, 3) and len(calls) == 3
    assert ctx.memo("shape", [first.copy()], lambda: shape_of(first)) == (480, 640, 3) and len(calls) == 3
    assert engine.memo_stats["shape"] == [1, 3]
    assert key_digest([first.view(np.int8)])[0] != key_digest([first])[0]


def test_plain_keys_are_exact_and_stable():
    parts = ["model:1", 0.5, 7, True, None, (1, 2), np.float32(0.25), np.int64(3), b"raw", Path("a/b.png")]
    digest, exact = key_digest(parts)
    assert exact and key_digest(list(parts))[0] == digest
    assert key_digest(parts[:-1] + [Path("a/c.png")])[0] != digest
    other, exact = key_digest(parts + [object()])
    assert not exact and other != key_digest(parts + [object()])[0]
