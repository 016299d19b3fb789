"""The farm's streamed previews and its queue order (pure: no Ray needed)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engine.jobs import Job, content_hash
from studio.farm.farm import _Queued
from studio.farm.worker import PREVIEW_FRAMES, PREVIEW_PIXELS, shrink


def test_a_preview_is_the_whole_clip_at_64_pixels_at_most():
    clip = np.random.default_rng(0).integers(0, 256, (81, 130, 200, 3), dtype=np.uint8)
    small = shrink(clip)
    assert small.dtype == np.uint8 and small.shape == (PREVIEW_FRAMES, 130 // 4, 200 // 4, 3)
    assert max(small.shape[1:3]) <= PREVIEW_PIXELS
    # spread over the whole clip: the first and the last frame are in it
    assert np.array_equal(small[0], shrink(clip[:1])[0]) and np.array_equal(small[-1], shrink(clip[-1:])[0])
    tiny = np.zeros((17, 64, 64, 3), np.uint8)
    assert shrink(tiny).shape == (17, 64, 64, 3)  # already small: unchanged


def test_a_preview_averages_blocks_so_a_thin_line_does_not_vanish():
    clip = np.zeros((1, 128, 128, 3), np.uint8)
    clip[0, :, 5] = 255  # a one-pixel line: every other-pixel sampling could miss it
    small = shrink(clip)
    assert small.shape == (1, 64, 64, 3) and small[0, :, 2].min() == 128 and small[0, :, 3].max() == 0
    with pytest.raises(ValueError):
        shrink(np.zeros((64, 64, 3), np.uint8))


def job(index: int, priority: int = 0) -> Job:
    return Job(index=index, graph="{}", graph_hash=content_hash("{}"), priority=priority)


def test_the_queue_takes_higher_priority_first_and_keeps_queue_order_within_one():
    entries = [_Queued((-j.priority, n), j) for n, j in enumerate(
        [job(1), job(2, 5), job(3), job(4, 5), job(5, -1), job(6)])]
    assert [q.job.index for q in sorted(entries)] == [2, 4, 1, 3, 6, 5]
    # a retried job keeps its key: it goes before the jobs of its priority queued after it
    retried = _Queued(entries[2].key, entries[2].job, attempt=2)
    assert [q.job.index for q in sorted([*entries[3:], retried, entries[0]])] == [4, 1, 3, 6, 5]
