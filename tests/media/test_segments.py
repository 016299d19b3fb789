"""The parallel MP4 encode: pieces cut at keyframes, encoded side by side, one frame-accurate stream."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

from studio.errors import Cancelled, MediaError
from studio.media import audio_io, segments
from studio.media import watermark as wm
from studio.media.encode import EncodeSettings, encode_video, probe, read_frames, read_luma
from tests.media.clips import natural_clip, tone

TWO = EncodeSettings(threads=2)  # two encoders whatever this machine has


def test_pieces_start_on_keyframes_and_a_short_tail_joins_the_last():
    assert segments.plan(240, 120) == [(0, 120), (120, 240)]
    assert segments.plan(250, 120) == [(0, 120), (120, 250)]  # 10 frames are not worth an encoder
    assert segments.plan(300, 120) == [(0, 120), (120, 240), (240, 300)]
    assert segments.plan(100, 120) == [(0, 100)]
    # a short interval: pieces are whole multiples of it, at least MIN_FRAMES long
    assert segments.plan(100, 12) == [(0, 48), (48, 100)]
    assert all(start % 12 == 0 for start, _ in segments.plan(1000, 12))
    assert segments.plan(0, 120) == []


def _encoder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("studio-encode")]


def _numbered(count: int, height: int, width: int) -> np.ndarray:
    """Frames that each look unlike their neighbours, so a frame out of place shows."""
    frames = natural_clip(count, height, width, seed=9, grain=0.0)
    for index, frame in enumerate(frames):
        frame[:, :, index % 3] = np.clip(frame[:, :, index % 3].astype(int) + 30 + (index * 7) % 90, 0, 255)
    return frames


def _thumbs(frames: np.ndarray) -> np.ndarray:
    """8x8 block means, as float: enough to tell every frame from its neighbours, cheap to compare."""
    count, height, width, _ = frames.shape
    cropped = frames[:, : height // 8 * 8, : width // 8 * 8].astype(np.float32)
    return cropped.reshape(count, 8, height // 8, 8, width // 8, 3).mean(axis=(2, 4))


@pytest.mark.parametrize("height", [48, 34])  # 34 rows: chroma planes of an odd 17 rows (copied input)
def test_parallel_pieces_make_one_frame_accurate_stream(tmp_path, height):
    frames = _numbered(200, height, 64)
    path = tmp_path / "parallel.mp4"
    info = encode_video(frames, 24, path, audio=tone(9.0, 48000), audio_rate=48000, settings=TWO)
    media = probe(path)
    assert media.frames == info.frames == 200 and media.duration == pytest.approx(200 / 24, abs=1e-3)
    assert info.audio_samples == audio_io.samples_for_frames(200, 24, 48000)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        keyframes = sorted(round(p.pts * stream.time_base * 24) for p in packets if p.is_keyframe)
        dts = [p.dts for p in packets]
    assert keyframes == [0, 120]  # the second piece starts where the 5-second keyframe falls anyway
    assert all(a < b for a, b in zip(dts, dts[1:], strict=False))
    decoded, sent = _thumbs(read_frames(path)), _thumbs(frames)
    errors = np.abs(decoded[:, None] - sent[None]).mean(axis=(2, 3, 4))  # [decoded, sent]
    assert np.array_equal(errors.argmin(axis=1), np.arange(200))
    assert errors.diagonal().max() < 10
    assert _encoder_threads() == []


def test_parallel_progress_is_every_frame_in_order_and_cancel_stops_the_workers(tmp_path):
    frames = natural_clip(24, 32, 32)
    clip = [frames[i % 24] for i in range(300)]
    seen: list[tuple[int, int]] = []
    encode_video(clip, 24, tmp_path / "p.mp4", settings=TWO, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(n, 300) for n in range(1, 301)]

    seen.clear()
    with pytest.raises(Cancelled, match="cancelled at frame"):
        encode_video(
            clip,
            24,
            tmp_path / "c.mp4",
            settings=TWO,
            on_progress=lambda d, t: seen.append((d, t)),
            is_cancelled=lambda: len(seen) >= 130,
        )
    assert 130 <= len(seen) < 300
    assert _encoder_threads() == []


class _BadFrameAt:
    def __init__(self, frames: np.ndarray, count: int, bad: int) -> None:
        self.frames, self.count, self.bad = frames, count, bad

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:
        if index == self.bad:
            return np.zeros((8, 8, 3), np.uint8)
        return self.frames[index % len(self.frames)]


def test_an_error_in_a_piece_is_the_one_reported_and_stops_the_rest(tmp_path):
    clip = _BadFrameAt(natural_clip(24, 32, 32), 300, bad=150)
    with pytest.raises(MediaError, match="frame size changed"):
        encode_video(clip, 24, tmp_path / "bad.mp4", settings=TWO)
    assert _encoder_threads() == []


def test_the_watermark_reads_back_from_a_parallel_encode(tmp_path):
    payload = bytes.fromhex("0badcafe")
    frames = natural_clip(24, 128, 128, seed=5)
    clip = [frames[i % 24] for i in range(200)]
    embedder = wm.Embedder(payload, 128, 128)
    path = tmp_path / "marked.mp4"
    encode_video(clip, 24, path, settings=TWO, mark=embedder.mark_i420)
    assert embedder.pixels == 200 * 128 * 128  # every frame counted once, from both workers
    assert 35 < embedder.psnr < 60
    found = wm.detect(read_luma(path))
    assert found.found and found.payload == payload
