"""The frame store: exact small frames, compressed large ones, versions, budget, disk spill, prefetch."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from studio.media.framestore import FrameStore, FrameStoreSettings

H, W = 720, 1280


def synthetic(k: int, h: int = H, w: int = W) -> np.ndarray:
    """A frame with a gradient and a bright square whose place depends on ``k``."""
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, (k * 37) % 256)], -1).astype(np.uint8)
    y, x = (k * 53) % (h - 80), (k * 97) % (w - 80)
    frame[y : y + 80, x : x + 80] = 255
    return frame


def jpeg(frame: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])[
        1
    ].tobytes()


@pytest.fixture
def store(tmp_path):
    s = FrameStore(cache_dir=tmp_path)
    yield s
    s.close()


def test_small_frames_are_kept_exactly_and_versions_grow_only_where_they_changed(store):
    store.reset(5, fps=8)
    heard: list[list[int]] = []
    store.subscribe(heard.append)
    frames = np.random.default_rng(0).integers(0, 255, (5, 6, 10, 3), dtype=np.uint8)
    store.set_frames(frames)
    assert heard[-1] == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(store.frame(3), frames[3])
    before = store.versions()
    store.set_frame(2, frames[2] // 2)
    after = store.versions()
    assert after[2] > before[2] and [a for i, a in enumerate(after) if i != 2] == [
        b for i, b in enumerate(before) if i != 2
    ]
    assert store.size == (10, 6) and store.fps == 8


def test_large_frames_are_compressed_and_decode_close_to_the_original(store):
    store.reset(3)
    frame = synthetic(1)
    store.set_frame(1, frame)
    assert store.stats()["kind_jpeg"] == 1
    assert store.memory_bytes() < frame.nbytes / 10
    back = store.frame(1)
    assert back.shape == frame.shape
    assert np.abs(back.astype(int) - frame).mean() < 3
    half = store.frame(1, reduce=2)
    assert half.shape == (H // 2, W // 2, 3)
    proxy = store.proxy(1)
    assert proxy.shape == (H // 4, W // 4, 3)
    assert store.frame(0) is None and not store.has_frame(0)


def test_a_two_minute_720p_clip_scrubs_within_the_budget(tmp_path):
    """2880 frames at 1280x720 (8 GB raw): the default budget holds them compressed; a small
    budget spills to disk and still returns every frame."""
    blobs = [jpeg(synthetic(k)) for k in range(6)]  # encoding is the slow part: reuse a few
    for budget, spills in ((1 << 30, False), (48 << 20, True)):
        store = FrameStore(FrameStoreSettings(budget_bytes=budget), cache_dir=tmp_path)
        store.reset(2880, fps=24)
        for i in range(2880):
            store.put_encoded(i, blobs[i % 6], (H, W))
            assert store.memory_bytes() <= budget
        assert (store.spilled > 0) == spills
        rng = np.random.default_rng(1)
        for i in rng.integers(0, 2880, 40):
            frame = store.frame(int(i))
            assert frame is not None and frame.shape == (H, W, 3)
            assert store.memory_bytes() <= budget
        # a spilled frame comes back from disk intact
        far = next(i for i in range(2880) if store._slots[i].disk is not None) if spills else 2879
        expected = cv2.imdecode(np.frombuffer(blobs[far % 6], np.uint8), cv2.IMREAD_COLOR_RGB)
        np.testing.assert_array_equal(store.frame(far), expected)
        for i in range(0, 2880, 97):
            store.proxy(i)
        assert store.memory_bytes() <= budget
        store.close()
    assert not list(tmp_path.glob("*.bin"))  # the disk cache goes with the store


def test_prefetch_decodes_ahead_of_the_playhead(store):
    store.reset(60)
    blobs = [jpeg(synthetic(k, 180, 320)) for k in range(4)]
    for i in range(60):
        store.put_encoded(i, blobs[i % 4], (180, 320))
    store.set_playhead(20, direction=1)
    deadline = time.monotonic() + 10
    while not store.prefetch_idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    missing = [i for i in range(20, 20 + store.settings.prefetch_ahead) if not store.is_decoded(i)]
    assert not missing, (missing, store.stats())
    assert not store.is_decoded(59)  # far from where the playhead has been
    store.set_playhead(50, direction=-1)
    deadline = time.monotonic() + 10
    while not store.prefetch_idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.is_decoded(40) and store.is_decoded(50)


def test_a_whole_clip_shows_at_once_and_is_compressed_in_the_background(store):
    frames = np.stack([synthetic(k, 240, 320) for k in range(30)])
    store.load_clip(frames, fps=12)
    assert store.count == 30 and store.fps == 12
    assert store.frame(7) is not None and store.borrowed_bytes == frames.nbytes
    assert store.wait_compressed(30)
    assert store.borrowed_bytes == 0 and store.stats()["kind_jpeg"] == 30
    assert all(store.has_proxy(i) for i in range(30))  # made with the JPEGs, from the pixels at hand
    assert np.abs(store.frame(7).astype(int) - frames[7]).mean() < 3
    # a live write during the background work wins over it
    store.load_clip(frames, fps=12)
    store.set_frame(0, frames[5])
    store.wait_compressed(30)
    assert np.abs(store.frame(0).astype(int) - frames[5]).mean() < 3


def test_bad_frames_are_refused(store):
    store.reset(1)
    with pytest.raises(ValueError, match="uint8"):
        store.set_frame(0, np.zeros((4, 4), np.float32))


def test_proxies_are_made_in_the_background_as_frames_arrive(tmp_path):
    store = FrameStore(FrameStoreSettings(), cache_dir=tmp_path)
    store.reset(40)
    blob = jpeg(synthetic(3, 240, 320))
    for i in range(40):
        store.put_encoded(i, blob, (240, 320))
    deadline = time.monotonic() + 20
    while not all(store.has_proxy(i) for i in range(40)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(store.has_proxy(i) for i in range(40))
    assert store.proxy(5).shape == (60, 80, 3)
    store.close()


def test_the_budget_setting_covers_the_clip_the_previous_render_and_the_history(docks_budget):
    live = docks_budget.live
    assert (
        docks_budget.model.store.settings.budget_bytes + live.previous_bytes + live.history_bytes == 300 << 20
    )


@pytest.fixture
def docks_budget(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from studio.ui.shell.settings import settings
    from studio.ui.timeline import TimelineDocks

    settings().setValue("timeline/memory_budget_mb", 300)
    win = QMainWindow()
    qtbot.addWidget(win)
    d = TimelineDocks(win)
    yield d
    d.model.close()


def test_spill_files_of_dead_processes_are_removed(tmp_path):
    orphan = tmp_path / "clip-999999999-1.bin"
    orphan.write_bytes(b"x" * 100)
    store = FrameStore(FrameStoreSettings(budget_bytes=256 << 10, decoded_share=0.1), cache_dir=tmp_path)
    store.reset(40)
    blob = jpeg(synthetic(1, 360, 640))
    for i in range(40):
        store.put_encoded(i, blob, (360, 640))
    assert store.spilled > 0 and not orphan.exists()
    store.close()


def test_proxies_wait_while_the_playhead_moves_and_come_once_it_rests(tmp_path):
    # a scrub needs both cores for the picture under the hand: proxies are made when it rests
    store = FrameStore(FrameStoreSettings(proxy_pause=0.3), cache_dir=tmp_path)
    store.reset(60)
    blob = jpeg(synthetic(3, 240, 320))
    store.set_playhead(30, 1)  # the hand is already moving when the frames arrive
    for i in range(60):
        store.put_encoded(i, blob, (240, 320))
    moving_until = time.monotonic() + 0.6
    k = 0
    while time.monotonic() < moving_until:
        store.set_playhead(k * 7 % 60, 1)  # jumps, as a drag on the ruler makes them
        k += 1
        time.sleep(0.01)
    assert sum(store.has_proxy(i) for i in range(60)) <= 1  # at most the one under way when it began
    deadline = time.monotonic() + 20
    while not store.proxies_done() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.proxies_done()
    store.close()


def test_a_playhead_move_does_not_wait_for_the_frames_lock(store):
    store.reset(4)
    with store._lock:  # another thread spilling frames to disk, say
        t = time.perf_counter()
        done = threading.Event()
        threading.Thread(target=lambda: (store.set_playhead(3, 1), done.set())).start()
        assert done.wait(2.0)
    assert time.perf_counter() - t < 2.0
