"""The frame store's background workers: one decodes the frames the playhead reaches next, one makes
proxies as frames arrive."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from studio.priority import lower_this_thread

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """One frame: raw bytes, a JPEG in memory, a JPEG spilled to disk, or a row of a borrowed clip."""

    kind: str = "empty"  # empty | raw | jpeg | borrowed
    shape: tuple[int, int] = (0, 0)  # (height, width)
    data: bytes | None = None  # raw pixels or JPEG bytes while in memory
    disk: tuple[int, int] | None = None  # (offset, length) in the spill file
    proxy: bytes | None = None  # JPEG of the 1/divisor frame, made on first request
    version: int = 0

    def memory(self) -> int:
        return (len(self.data) if self.data is not None else 0) + (len(self.proxy) if self.proxy else 0)


class FrameStoreWorkers:
    """The worker half of ``FrameStore``, which derives from it: the prefetcher, the proxy maker and
    what wakes them. They work on the store's own state, which the store sets up and guards."""

    _slots: list[_Slot]
    _clip_id: int  # grows on reset and close: a round for an old clip stops
    _playhead: int
    _reduce: int
    _view_size: tuple[int, int] | None
    _closed: bool
    _hint: threading.Condition  # wakes the prefetcher; shares the wake lock with _proxy_wake
    _hint_serial: int
    _settle: float  # seconds the prefetcher waits for a jumping playhead to rest
    _proxy_wake: threading.Condition
    _proxy_serial: int
    _moving_until: float

    # provided by FrameStore
    _wanted: Callable[[], list[int]]
    is_decoded: Callable[[int, int, tuple[int, int] | None], bool]
    frame: Callable[[int, int, tuple[int, int] | None], np.ndarray | None]
    proxy: Callable[[int], np.ndarray | None]

    def _start_worker(
        self, name: str, round_: Callable[[], None], failure: str, background: bool = False
    ) -> threading.Thread:
        """A daemon thread that runs ``round_`` until the store closes; ``background``: stepped down by
        studio.priority.BACKGROUND (proxies can wait; the frame under the playhead cannot), which is now none."""

        def loop() -> None:
            if background:
                lower_this_thread()  # studio.priority.BACKGROUND steps: now none (see there why)
            while not self._closed:
                try:
                    round_()
                except Exception:  # a clip replaced mid-read, a disk error: the worker must live on
                    log.exception(failure)
                    time.sleep(0.05)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        return thread

    def _poke(self) -> None:
        """New frames: the prefetcher looks again, and the proxy worker makes their proxies."""
        with self._hint:
            self._settle = 0.0
            self._hint_serial += 1
            self._hint.notify()
            self._proxy_serial += 1
            self._proxy_wake.notify()

    def _keep_out_of_the_way(self) -> None:
        """Wait while the playhead moves: the painter (and for playback the prefetcher) need the
        cores and the GIL more than a proxy or a compressed copy does. A scrub is served by the
        proxies made so far or a 1/8 decode; the rest is made once the hand rests."""
        while not self._closed and (pause := self._moving_until - time.monotonic()) > 0:
            time.sleep(pause)

    # ---- prefetch
    def _prefetch_round(self) -> None:
        seen = -1
        while True:
            with self._hint:
                while self._hint_serial == seen and not self._closed:
                    self._hint.wait()
                if self._closed:
                    return
                seen = self._hint_serial
                if self._settle:
                    self._hint.wait(self._settle)
                    if self._hint_serial != seen:
                        continue
                wanted, reduce, size = self._wanted(), self._reduce, self._view_size
            for i in wanted:
                if self._hint_serial != seen or self._closed:
                    break  # the playhead moved: start again from there
                if not self.is_decoded(i, reduce, size):
                    try:
                        self.frame(i, reduce, size)
                    except (IndexError, cv2.error, ValueError):  # the clip changed under us
                        break

    # ---- proxies
    def _proxy_round(self) -> None:
        seen = -1
        while True:
            with self._proxy_wake:
                while self._proxy_serial == seen and not self._closed:
                    self._proxy_wake.wait()
                if self._closed:
                    return
                self._proxy_wake.wait(0.02)  # frames often come in a burst: order them all at once
                seen, clip_id = self._proxy_serial, self._clip_id
            todo = self._proxy_order()  # outside the lock: a reader must not wait on a sort
            for i in todo:
                if self._closed or self._clip_id != clip_id:
                    break
                self._keep_out_of_the_way()
                if self._clip_id != clip_id:
                    break
                try:
                    self.proxy(i)
                except (IndexError, cv2.error, ValueError):  # the clip changed under us
                    break

    def _proxy_order(self) -> list[int]:
        """Frames without a proxy, coarse to fine (every 64th, then every 32nd, ...) and nearest the
        playhead first within each pass: soon every frame has a proxy a few frames away."""
        p, slots = self._playhead, self._slots
        todo = [i for i, slot in enumerate(slots) if slot.kind == "jpeg" and slot.proxy is None]

        def level(i: int) -> int:
            return 6 if i == 0 else min(6, (i & -i).bit_length() - 1)

        return sorted(todo, key=lambda i: (-level(i), abs(i - p)))
