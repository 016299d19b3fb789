"""GOP-parallel encoding: a clip cut at its keyframes, the pieces encoded side by side, muxed in order.

Why: on a few cores x264's own frame threads keep only part of the machine busy (about 1.6 of 2 cores in
tests/benchmarks/bench_export.py, each frame waiting on its reference's rows) and spend more CPU per
frame than one thread does. Pieces that start at keyframes share nothing, so one single-threaded encoder
per core runs flat out, and each worker also converts and watermarks its own frames.

The cut costs nothing in the stream: pieces start exactly where the encoder puts a keyframe anyway (every
keyframe interval, see encode.KEYFRAME_SECONDS), every piece's encoder has the same settings and so the
same SPS/PPS, GOPs are closed, and timestamps carry on from piece to piece.

This module only schedules: ``run_in_order`` hands pieces to a thread pool, reports progress frame by
frame and checks for a cancel on the caller's thread, and delivers finished pieces in order. What a
piece is (codec, frames, muxing) is the caller's.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from studio.errors import Cancelled

MIN_FRAMES = 48  # a piece shorter than this is not worth its own encoder (and its own IDR frame)
POLL_SECONDS = 0.05  # how often the caller's thread reports progress and checks for a cancel

Span = tuple[int, int]  # [start, stop) frame indices
# encode(piece index, start, stop, stop event, frames done per piece) -> the piece's packets
EncodePiece = Callable[[int, int, int, threading.Event, list[int]], list]


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan(count: int, keyframe_interval: int, *, min_frames: int = MIN_FRAMES) -> list[Span]:
    """Cut ``count`` frames into pieces that each start on a keyframe (a multiple of the interval).

    A piece is the smallest multiple of the interval that reaches ``min_frames``; a short last piece
    joins the one before it.
    """
    if count <= 0:
        return []
    interval = max(1, keyframe_interval)
    length = interval * max(1, -(-min_frames // interval))
    starts = list(range(0, count, length))
    spans = [(start, min(start + length, count)) for start in starts]
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < min_frames:
        spans[-2:] = [(spans[-2][0], count)]
    return spans


def run_in_order(
    spans: list[Span],
    workers: int,
    encode: EncodePiece,
    deliver: Callable[[int, list], None],
    *,
    total: int,
    on_progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> None:
    """Encode ``spans`` on ``workers`` threads; ``deliver(index, packets)`` each piece in order, here.

    ``on_progress(done, total)`` is called on this thread once per frame, in order, and
    ``is_cancelled`` is checked here at least every POLL_SECONDS: a cancel or any error stops every
    worker (they check the stop event between frames) before it is raised. At most ``workers + 1``
    pieces are in flight, so finished pieces waiting for an earlier one stay few.
    """
    stop = threading.Event()
    done = [0] * len(spans)
    reported = 0

    def check_cancel() -> None:
        if is_cancelled is not None and is_cancelled():
            raise Cancelled(f"export cancelled at frame {reported} of {total}")

    def report() -> None:
        nonlocal reported
        now = sum(done)
        while reported < now:
            reported += 1
            if on_progress is not None:
                on_progress(reported, total)
            check_cancel()

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="studio-encode")
    pending: deque[Future] = deque()
    submitted = 0

    def submit() -> None:
        nonlocal submitted
        start, stop_at = spans[submitted]
        pending.append(pool.submit(encode, submitted, start, stop_at, stop, done))
        submitted += 1

    try:
        while submitted < len(spans) and len(pending) < workers + 1:
            submit()
        for index in range(len(spans)):
            future = pending.popleft()
            while True:
                check_cancel()
                try:
                    packets = future.result(timeout=POLL_SECONDS)
                    break
                except TimeoutError:
                    report()
            report()
            if submitted < len(spans):
                submit()
            deliver(index, packets)
    except BaseException:
        stop.set()
        for future in pending:
            future.cancel()
        raise
    finally:
        pool.shutdown(wait=True)
