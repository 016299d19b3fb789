"""Frames spooled to disk: exact round trip, no file left in the folder, and a long spooled clip exported
without its frames becoming resident (measured as the process's RssFile, from /proc)."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest

from studio.errors import MediaError
from studio.media.export import ExportOptions, export_clip
from studio.media.framestore_spool import FrameSpool, drop_pages, mapped

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


def rss_file_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("RssFile")))


def clip(count: int, h: int = 16, w: int = 24, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, h, w, 3), dtype=np.uint8)


def test_frames_round_trip_exactly_and_the_file_leaves_the_folder(tmp_path):
    spool = FrameSpool(16, 24, folder=tmp_path)
    first, second = clip(5), clip(7, seed=1)
    spool.append(first)
    spool.append(second[0])  # one frame [H, W, 3]
    spool.append(second[1:])
    assert len(spool) == 12 and spool.nbytes == 0 and spool.disk_bytes == 12 * 16 * 24 * 3
    whole = np.concatenate([first, second])
    assert np.array_equal(spool.read(3, 9), whole[3:9]) and np.array_equal(spool.last(), whole[-1])
    frames = spool.frames()
    assert frames.shape == (12, 16, 24, 3) and not frames.flags.writeable and np.array_equal(frames, whole)
    assert mapped(frames[4]) is not None and mapped(whole) is None
    assert list(tmp_path.iterdir()) == []  # unlinked at once: a crash leaves nothing behind
    spool.close()
    assert np.array_equal(frames, whole)  # the mapping outlives the file handle
    other = FrameSpool(16, 24, folder=tmp_path)
    with pytest.raises(MediaError, match="does not fit"):
        other.append(clip(1, 8, 8))
    other.append(whole[:2])
    joined = FrameSpool(16, 24, folder=tmp_path)
    joined.extend(other, chunk=1)
    assert np.array_equal(joined.frames(), whole[:2])
    assert len(FrameSpool(4, 4, folder=tmp_path).frames()) == 0


@linux_only
def test_dropping_pages_gives_back_resident_memory(tmp_path):
    spool = FrameSpool(256, 256, folder=tmp_path)
    for k in range(8):
        spool.append(clip(64, 256, 256, seed=k))  # 96 MiB on disk
    frames = spool.frames()
    before = rss_file_kib()
    checksum = int(frames[:, ::64, ::64].sum())  # touches a page of every frame... and more
    total = int(np.asarray(frames).sum(dtype=np.uint64))  # every page
    touched = rss_file_kib() - before
    assert touched > 80 * 1024, touched
    for index in range(len(frames)):
        assert drop_pages(frames[index])
    assert rss_file_kib() - before < 8 * 1024
    assert int(np.asarray(frames).sum(dtype=np.uint64)) == total and checksum >= 0  # read back intact


@linux_only
def test_a_spooled_clip_exports_without_becoming_resident(tmp_path):
    spool = FrameSpool(128, 128, folder=tmp_path / "spool")
    made = []
    for k in range(12):  # 1,200 frames, 56 MiB: frames of a slow gradient, so the check below is exact enough
        piece = np.zeros((100, 128, 128, 3), np.uint8)
        piece[..., 0] = (np.arange(100)[:, None, None] + 100 * k) % 256
        piece[..., 1] = np.arange(128)[None, None, :]
        made.append(piece[[0, -1]])
        spool.append(piece)
    frames = spool.frames()
    before = rss_file_kib()
    result = export_clip(frames, 24, tmp_path / "long.mp4",
                         options=ExportOptions(sign=False, watermark=False, crf=18))
    grown = rss_file_kib() - before
    assert result.frames == 1200
    assert grown < 16 * 1024, f"{grown} KiB of the clip stayed resident"  # without drop_pages: about 56 MiB
    with av.open(str(result.path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 1200
    assert abs(float(decoded[-1][..., 0].mean()) - float(made[-1][1][..., 0].mean())) < 3


@linux_only
def test_the_timeline_takes_a_spooled_clip_without_it_becoming_resident(tmp_path):
    from studio.media.framestore import FrameStore, FrameStoreSettings

    spool = FrameSpool(128, 128, folder=tmp_path / "spool")
    for k in range(12):  # 1,200 frames, 56 MiB
        piece = np.zeros((100, 128, 128, 3), np.uint8)
        piece[..., 0] = (np.arange(100)[:, None, None] + 100 * k) % 256
        piece[..., 1] = np.arange(128)[None, None, :]
        spool.append(piece)
    frames = spool.frames()
    store = FrameStore(FrameStoreSettings(budget_bytes=64 << 20), cache_dir=tmp_path / "store")
    try:
        before = rss_file_kib()
        store.load_clip(frames, 16.0)
        assert store.wait_compressed(120)
        grown = rss_file_kib() - before
        assert grown < 16 * 1024, f"{grown} KiB of the clip stayed resident"  # without dropping: about 56 MiB
        assert abs(int(store.frame(1199)[0, 0, 0]) - (1199 % 256)) <= 3  # and the frames are all there
    finally:
        store.close()
