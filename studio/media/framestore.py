"""The frame store behind scrubbing: a clip of any length held compressed within a memory budget."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from studio import paths
from studio.media.frame_codec import PROXY_QUALITY, from_jpeg, shrink, to_jpeg
from studio.media.framestore_spool import drop_pages, remove_orphans
from studio.media.framestore_workers import FrameStoreWorkers, _Slot

Listener = Callable[[list[int]], None]
_store_ids = itertools.count(1)


@dataclass
class FrameStoreSettings:
    """How much memory the store may use and how it spends it."""

    budget_bytes: int = 1 << 30  # everything the store holds in memory: compressed, proxies, decoded
    jpeg_quality: int = 85
    raw_below: int = (
        64 * 1024
    )  # frames smaller than this (live previews at latent size) stay raw: exact, no codec
    proxy_divisor: int = 4  # thumbnails decode straight from the JPEG at 1/4 size (DCT scaling)
    decoded_share: float = 0.12  # of the budget, for decoded frames around the playhead
    prefetch_ahead: int = 24
    prefetch_behind: int = 4
    proxy_pause: float = 0.25  # seconds proxies and compression wait after the playhead moved


class FrameStore(FrameStoreWorkers):
    """Frames ``0..count-1`` of one clip, uint8 RGB, each with a version that grows when it is replaced.

    Writes come from one thread (the UI's main thread); reads may come from any thread. A worker
    decodes the frames around the playhead before they are asked for, another makes proxies
    (``framestore_workers``).
    """

    def __init__(self, settings: FrameStoreSettings | None = None, cache_dir: Path | None = None) -> None:
        self.settings = settings or FrameStoreSettings()
        self.fps = 24.0
        self._cache_dir = cache_dir
        self._slots: list[_Slot] = []
        self._lock = threading.RLock()
        self._decoded: OrderedDict[tuple[int, int], tuple[int, np.ndarray]] = OrderedDict()
        self._decoded_bytes = 0
        self._memory = 0  # compressed frames and proxies in memory
        self._borrowed: np.ndarray | None = None
        self._clip_id = 0  # grows on reset, so a background job for an old clip stops
        self._versions = itertools.count(1)
        self._listeners: list[Listener] = []
        self._spill_fd: int | None = None
        self._spill_path: Path | None = None
        self._spill_end = 0
        self._spilled = 0
        self._playhead = 0
        self._direction = 1
        self._reduce = 1
        self._view_size: tuple[int, int] | None = None
        self._settle = 0.0
        # the workers' wake-ups have a lock of their own: a playhead move must never wait for a
        # thread that holds the frames' lock (a spill to disk can take tens of milliseconds)
        self._wake_lock = threading.RLock()
        self._hint = threading.Condition(self._wake_lock)
        self._hint_serial = 0
        self._closed = False
        self._encoder: threading.Thread | None = None
        # proxies are made as frames arrive, on a worker of their own: scrubbing a clip that has just
        # come paints proxies (or a near one) instead of decoding whole frames under the hand
        self._proxy_wake = threading.Condition(self._wake_lock)
        self._proxy_serial = 0
        # the playhead moves (playback, a scrub): until then the background workers that are not
        # needed for the picture under the hand (proxies, compression) keep off the two cores
        self._moving_until = 0.0
        self._prefetcher = self._start_worker(
            "framestore-prefetch", self._prefetch_round, "frame prefetch failed; going on"
        )
        self._proxier = self._start_worker(
            "framestore-proxy", self._proxy_round, "making frame proxies failed; going on", background=True
        )

    # ---- observation
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener(indices)`` runs after frames change, on the thread that changed them."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, indices: list[int]) -> None:
        for listener in list(self._listeners):
            listener(indices)

    # ---- shape of the clip
    @property
    def count(self) -> int:
        return len(self._slots)

    def reset(self, count: int, fps: float | None = None) -> None:
        """Make room for ``count`` empty frames (a new clip); all views repaint."""
        with self._lock:
            self._clip_id += 1
            self._slots = [_Slot() for _ in range(max(0, count))]
            self._decoded.clear()
            self._decoded_bytes = 0
            self._memory = 0
            self._borrowed = None
            self._spilled = 0
            self._spill_end = 0
            if self._spill_fd is not None:
                os.ftruncate(self._spill_fd, 0)
            if fps:
                self.fps = float(fps)
        self._notify(list(range(count)))

    def has_frame(self, index: int) -> bool:
        return 0 <= index < len(self._slots) and self._slots[index].kind != "empty"

    def frame_shape(self, index: int) -> tuple[int, int]:
        """(height, width) of one frame; (0, 0) when it is not there yet."""
        return self._slots[index].shape if 0 <= index < len(self._slots) else (0, 0)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the clip: that of its last filled frame."""
        for slot in reversed(self._slots):
            if slot.kind != "empty":
                return slot.shape[1], slot.shape[0]
        return 0, 0

    def version(self, index: int) -> int:
        return self._slots[index].version if 0 <= index < len(self._slots) else 0

    def versions(self) -> list[int]:
        return [slot.version for slot in self._slots]

    # ---- writing
    def set_frame(self, index: int, frame: np.ndarray) -> None:
        self.set_frames({index: frame})

    def set_frames(
        self, frames: dict[int, np.ndarray] | np.ndarray, start: int = 0, raw: bool = False
    ) -> None:
        """Replace frames in place (a live step); each gets a new version and listeners hear of them.

        ``raw`` keeps them uncompressed whatever their size: a step's previews come many times a
        second and are replaced at the next step, so the main thread should not spend time on a codec
        (the caller checks that they fit the budget).
        """
        items = (
            frames.items() if isinstance(frames, dict) else zip(itertools.count(start), frames, strict=False)
        )
        encoded = [(i, self._encode(np.asarray(f), raw)) for i, f in items if 0 <= i < len(self._slots)]
        changed: list[int] = []
        with self._lock:
            for i, (kind, shape, data) in encoded:
                slot = self._slots[i]
                if kind == "raw" and slot.kind == "raw" and slot.shape == shape and slot.data == data:
                    continue  # a step that left this frame alone: nothing to repaint
                self._put(i, kind, shape, data)
                changed.append(i)
            self._enforce_budget()
        if changed:
            self._notify(changed)
            if any(kind != "raw" for _i, (kind, _s, _d) in encoded):
                # raw frames need neither decoding nor a proxy: waking the workers at every live
                # step would only have them compete with the main thread for the GIL
                self._poke()

    def put_encoded(self, index: int, jpeg: bytes, shape: tuple[int, int]) -> None:
        """Store an already-compressed frame (a file cache, a decoder that yields JPEG)."""
        with self._lock:
            self._put(index, "jpeg", shape, bytes(jpeg))
            self._enforce_budget()
        self._notify([index])
        self._poke()

    def load_clip(self, frames: np.ndarray, fps: float) -> None:
        """Take a whole clip (a render's final video). It is shown at once from the caller's array,
        which the store borrows without copying, while a worker compresses it; then it lets go."""
        frames = np.asarray(frames)
        self.reset(len(frames), fps)
        with self._lock:
            self._borrowed = frames
            for slot in self._slots:
                slot.kind, slot.shape, slot.version = "borrowed", frames.shape[1:3], next(self._versions)
            clip_id = self._clip_id
        self._notify(list(range(len(frames))))
        self._encoder = threading.Thread(
            target=self._compress_borrowed, args=(clip_id, frames), name="framestore-encode", daemon=True
        )
        self._encoder.start()

    def wait_compressed(self, timeout: float | None = None) -> bool:
        """Block until a clip given to ``load_clip`` is compressed (tests, benchmarks)."""
        if self._encoder is not None:
            self._encoder.join(timeout)
        return self._borrowed is None

    def _compress_borrowed(self, clip_id: int, frames: np.ndarray) -> None:
        def one(i: int) -> None:
            self._keep_out_of_the_way()
            if self._clip_id != clip_id or self._closed:
                return
            kind, shape, data = self._encode(frames[i])
            proxy = None
            if kind == "jpeg":  # the proxy too, while the pixels are at hand: cheaper than decoding later
                proxy = to_jpeg(shrink(frames[i], self.settings.proxy_divisor), PROXY_QUALITY)
            # a clip spooled to disk (a long sequence): its pages leave this process once the frame is kept
            # here, else the whole clip became resident while the timeline took it
            drop_pages(frames[i])
            with self._lock:
                slot = self._slots[i] if self._clip_id == clip_id else None
                if slot is not None and slot.kind == "borrowed":  # not replaced meanwhile
                    # same picture, so no new version: nothing needs repainting
                    self._put(i, kind, shape, data, bump=False)
                    if proxy is not None:
                        self._slots[i].proxy = proxy
                        self._memory += len(proxy)
                    self._enforce_budget()

        order = self._near_playhead_first(len(frames))
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="framestore-jpeg") as pool:
            list(pool.map(one, order))  # cv2 releases the GIL while it encodes
        with self._lock:
            if self._clip_id == clip_id:
                self._borrowed = None
        self._poke()

    def _near_playhead_first(self, count: int) -> list[int]:
        p = min(max(self._playhead, 0), max(count - 1, 0))
        return sorted(range(count), key=lambda i: abs(i - p))

    def _encode(self, frame: np.ndarray, raw: bool = False) -> tuple[str, tuple[int, int], bytes]:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"a frame must be uint8 [H, W, 3], not {frame.dtype} {list(frame.shape)}")
        shape = (int(frame.shape[0]), int(frame.shape[1]))
        if raw or frame.nbytes < self.settings.raw_below:
            return "raw", shape, np.ascontiguousarray(frame).tobytes()
        data = to_jpeg(frame, self.settings.jpeg_quality)
        if data is None:
            raise ValueError("OpenCV could not compress the frame")
        return "jpeg", shape, data

    def _put(self, index: int, kind: str, shape: tuple[int, int], data: bytes, bump: bool = True) -> None:
        slot = self._slots[index]
        self._memory -= slot.memory()
        if slot.disk is not None:
            self._spilled -= 1
        new = _Slot(kind, shape, data, None, None, next(self._versions) if bump else slot.version)
        self._slots[index] = new
        self._memory += new.memory()
        if bump:
            for key in [k for k in self._decoded if k[0] == index]:
                self._drop_decoded(key)

    # ---- budget
    def set_budget(self, budget_bytes: int) -> None:
        """Change this store's budget (a previous render kept for A/B gets a smaller one): what no
        longer fits is spilled to disk at once."""
        with self._lock:
            self.settings = replace(self.settings, budget_bytes=int(budget_bytes))
            while self._decoded and self._decoded_bytes > self.decoded_budget:
                self._drop_decoded(self._farthest_decoded())
            self._enforce_budget()

    @property
    def decoded_budget(self) -> int:
        return int(self.settings.budget_bytes * self.settings.decoded_share)

    def memory_bytes(self) -> int:
        """What the store holds in memory now (a borrowed clip is the caller's, not counted)."""
        return self._memory + self._decoded_bytes

    @property
    def borrowed_bytes(self) -> int:
        b = self._borrowed
        return int(b.nbytes) if b is not None else 0

    @property
    def spilled(self) -> int:
        """Frames whose compressed bytes live in the disk cache."""
        return self._spilled

    def _enforce_budget(self) -> None:
        limit = self.settings.budget_bytes - self.decoded_budget
        if self._memory <= limit:
            return
        # spill what is far from the playhead first: that is what scrubbing reaches last
        p = self._playhead
        candidates = sorted(
            (i for i, s in enumerate(self._slots) if s.kind == "jpeg" and s.data is not None),
            key=lambda i: -abs(i - p),
        )
        for i in candidates:
            if self._memory <= limit * 0.9:  # a margin, so one more frame does not spill again
                break
            self._spill(i)

    def _spill(self, index: int) -> None:
        slot = self._slots[index]
        if self._spill_fd is None:
            folder = self._cache_dir or paths.cache_dir() / "frames"
            folder.mkdir(parents=True, exist_ok=True)
            remove_orphans(folder)
            self._spill_path = folder / f"clip-{os.getpid()}-{next(_store_ids)}.bin"
            self._spill_fd = os.open(self._spill_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        assert slot.data is not None
        os.pwrite(self._spill_fd, slot.data, self._spill_end)
        slot.disk = (self._spill_end, len(slot.data))
        self._spill_end += len(slot.data)
        self._memory -= len(slot.data)
        slot.data = None
        self._spilled += 1

    def _bytes_of(self, slot: _Slot) -> bytes | None:
        data = slot.data
        if data is not None:
            return data
        if slot.disk is not None and self._spill_fd is not None:
            offset, length = slot.disk
            return os.pread(self._spill_fd, length, offset)
        return None

    # ---- reading
    def frame(self, index: int, reduce: int = 1, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """Frame ``index`` as uint8 [H, W, 3] RGB, or None when it is not there yet.

        ``reduce`` (1, 2, 4 or 8) asks for a JPEG frame decoded at 1/reduce size, which is faster
        when the viewer is small; ``size`` (width, height) also scales it to the screen, so the
        prefetch worker does that work too. Raw and borrowed frames come as they are. Do not write
        into it.
        """
        if not 0 <= index < len(self._slots):
            return None
        reduce = reduce if reduce in (1, 2, 4, 8) else 1
        with self._lock:
            slot = self._slots[index]
            if slot.kind == "borrowed" and self._borrowed is not None:
                return self._borrowed[index]
            if slot.kind == "raw" and slot.data is not None:
                return np.frombuffer(slot.data, np.uint8).reshape(*slot.shape, 3)
            if slot.kind != "jpeg":
                return None
            key = (index, reduce, size)
            hit = self._decoded.get(key)
            if hit is not None and hit[0] == slot.version:
                self._decoded.move_to_end(key)
                return hit[1]
            version = slot.version
            data = self._bytes_of(slot)
        if data is None:
            return None
        pixels = from_jpeg(data, reduce)
        if size is not None and (pixels.shape[1], pixels.shape[0]) != size:
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)
        self._remember(key, version, pixels)
        return pixels

    def is_decoded(self, index: int, reduce: int = 1, size: tuple[int, int] | None = None) -> bool:
        """Whether ``frame(index, reduce, size)`` would return without decoding."""
        if not 0 <= index < len(self._slots):
            return False
        slot = self._slots[index]
        if slot.kind in ("raw", "borrowed"):
            return True
        hit = self._decoded.get((index, reduce, size))
        return hit is not None and hit[0] == slot.version

    def proxy(self, index: int) -> np.ndarray | None:
        """A small copy of frame ``index`` (1/proxy_divisor in each side) for thumbnails."""
        if not 0 <= index < len(self._slots):
            return None
        with self._lock:
            slot = self._slots[index]
            if slot.kind == "borrowed" and self._borrowed is not None:
                return shrink(self._borrowed[index], self.settings.proxy_divisor)
            if slot.kind == "raw":
                return self.frame(index)
            if slot.kind != "jpeg":
                return None
            made = slot.proxy
            version, data = slot.version, (self._bytes_of(slot) if made is None else None)
        if made is not None:
            return from_jpeg(made)
        if data is None:
            return None
        small = from_jpeg(data, self.settings.proxy_divisor)
        made = to_jpeg(small, PROXY_QUALITY)
        with self._lock:
            slot = self._slots[index] if index < len(self._slots) else None
            if made is not None and slot is not None and slot.version == version and slot.proxy is None:
                slot.proxy = made
                self._memory += len(made)
                self._enforce_budget()
        return small

    def _remember(
        self, key: tuple[int, int, tuple[int, int] | None], version: int, pixels: np.ndarray
    ) -> None:
        with self._lock:
            slot = self._slots[key[0]] if key[0] < len(self._slots) else None
            if slot is None or slot.version != version:
                return  # replaced while it decoded
            if key in self._decoded:
                self._drop_decoded(key)
            self._decoded[key] = (version, pixels)
            self._decoded_bytes += pixels.nbytes
            while self._decoded_bytes > self.decoded_budget and len(self._decoded) > 1:
                self._drop_decoded(self._farthest_decoded())

    def _farthest_decoded(self) -> tuple[int, int, tuple[int, int] | None]:
        # the least recently used of the frames far from the playhead goes first
        p, ahead, behind = self._playhead, self.settings.prefetch_ahead, self.settings.prefetch_behind
        lo, hi = (p - behind, p + ahead) if self._direction >= 0 else (p - ahead, p + behind)
        for key in self._decoded:
            if not lo <= key[0] <= hi:
                return key
        return next(iter(self._decoded))

    def _drop_decoded(self, key: tuple[int, int, tuple[int, int] | None]) -> None:
        _, pixels = self._decoded.pop(key)
        self._decoded_bytes -= pixels.nbytes

    # ---- prefetch
    def set_playhead(
        self, index: int, direction: int = 1, reduce: int = 1, size: tuple[int, int] | None = None
    ) -> None:
        """Where the person is looking, which way it moves, and at what size it is shown
        (as for ``frame``): the worker decodes what comes next."""
        with self._hint:
            # a jump (scrubbing) waits for the playhead to rest before decoding around it, so the
            # worker does not take the CPU from the frame being painted now
            self._settle = 0.06 if abs(index - self._playhead) > 2 else 0.0
            self._moving_until = time.monotonic() + self.settings.proxy_pause
            self._playhead, self._direction = index, (1 if direction >= 0 else -1)
            self._reduce = reduce if reduce in (1, 2, 4, 8) else 1
            self._view_size = size
            self._hint_serial += 1
            self._hint.notify()

    def _wanted(self) -> list[int]:
        p, n = self._playhead, len(self._slots)
        ahead, behind = self.settings.prefetch_ahead, self.settings.prefetch_behind
        if self._direction < 0:
            order = [p - k for k in range(ahead + 1)] + [p + k for k in range(1, behind + 1)]
        else:
            order = [p + k for k in range(ahead + 1)] + [p - k for k in range(1, behind + 1)]
        # the decoded budget bounds how far ahead is worth decoding
        w, h = self._view_size or self.size
        per = max(1, w * h * 3 // (1 if self._view_size else self._reduce * self._reduce))
        limit = max(2, int(self.decoded_budget * 0.8) // per)
        return [i for i in order if 0 <= i < n][:limit]

    # ---- proxies
    def has_proxy(self, index: int) -> bool:
        return 0 <= index < len(self._slots) and self._slots[index].proxy is not None

    def nearest_proxy(self, index: int, within: int) -> int | None:
        """The frame nearest ``index`` (at most ``within`` away) whose proxy is made, or None."""
        slots, n = self._slots, len(self._slots)
        for d in range(within + 1):
            for i in (index - d, index + d) if d else (index,):
                if 0 <= i < n and slots[i].proxy is not None:
                    return i
        return None

    def proxies_done(self) -> bool:
        """Whether every compressed frame has its proxy (tests, benchmarks)."""
        return all(slot.proxy is not None for slot in self._slots if slot.kind == "jpeg")

    def prefetch_idle(self) -> bool:
        """Whether everything around the playhead is decoded (tests, benchmarks)."""
        with self._lock:
            return all(self.is_decoded(i, self._reduce, self._view_size) for i in self._wanted())

    # ---- lifetime
    def close(self) -> None:
        with self._hint:
            self._closed = True
            self._clip_id += 1
            self._hint.notify()
            self._proxy_wake.notify()
        if self._spill_fd is not None:
            os.close(self._spill_fd)
            self._spill_fd = None
            if self._spill_path is not None:
                self._spill_path.unlink(missing_ok=True)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the file goes with the cache folder anyway
            pass

    def stats(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for slot in self._slots:
            kinds[slot.kind] = kinds.get(slot.kind, 0) + 1
        return {
            "count": len(self._slots),
            "memory": self.memory_bytes(),
            "compressed": self._memory,
            "decoded": self._decoded_bytes,
            "decoded_frames": len(self._decoded),
            "spilled": self._spilled,
            "borrowed": self.borrowed_bytes,
            **{f"kind_{k}": v for k, v in kinds.items()},
        }
