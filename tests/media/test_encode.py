"""Encode and mux: streams, exact frame counts, rates, durations and audio lengths, read back with PyAV."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from studio.errors import Cancelled, MediaError
from studio.media import audio_io
from studio.media.encode import EncodeSettings, encode_video, probe, read_frames
from tests.media.clips import natural_clip, tone


def _audio_end(path) -> int:
    """Last audio sample the container says plays (pts + duration of the last packet)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        end = 0
        for packet in container.demux(stream):
            if packet.pts is not None:
                end = max(end, packet.pts + packet.duration)
        return int(end * stream.time_base * stream.codec_context.sample_rate)


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(30000, 1001)])
def test_mp4_with_audio_is_frame_accurate(tmp_path, fps):
    frames = natural_clip(30, 64, 96)
    path = tmp_path / "clip.mp4"
    info = encode_video(frames, fps, path, audio=tone(3.0, 44100), audio_rate=44100)
    media = probe(path)
    assert media.video_codec == "h264" and media.audio_codec == "aac"
    assert media.frames == 30 == info.frames
    assert media.fps == fps
    assert (media.width, media.height) == (96, 64)
    assert media.duration == pytest.approx(float(Fraction(30) / fps), abs=1e-3)
    expected = audio_io.samples_for_frames(30, fps, 44100)
    assert info.audio_samples == expected
    assert _audio_end(path) == expected  # AAC pads its last packet; the container trims to the exact end
    assert expected <= media.audio_samples < expected + 1024


def test_faststart_puts_the_index_first(tmp_path):
    path = tmp_path / "clip.mp4"
    encode_video(natural_clip(4, 32, 32), 24, path)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_odd_size_is_padded_or_refused(tmp_path):
    frames = natural_clip(3, 33, 47)
    info = encode_video(frames, 24, tmp_path / "a.mp4")
    assert (info.width, info.height) == (48, 34) and "padded" in info.notes[0]
    with pytest.raises(MediaError, match="odd"):
        encode_video(frames, 24, tmp_path / "b.mp4", settings=EncodeSettings(odd_size="refuse"))


def test_ffv1_master_is_lossless_and_keeps_odd_sizes(tmp_path):
    frames = natural_clip(5, 33, 47)
    path = tmp_path / "master.mkv"
    audio = tone(1.0, 48000)
    info = encode_video(
        frames, 24, path, audio=audio, audio_rate=48000, settings=EncodeSettings(format="mkv-ffv1")
    )
    assert np.array_equal(read_frames(path), frames)
    media = probe(path)
    assert media.video_codec == "ffv1" and media.frames == 5
    assert media.audio_samples == info.audio_samples == 10000


def test_webm_vp9_opus(tmp_path):
    path = tmp_path / "clip.webm"
    encode_video(
        natural_clip(12, 64, 64),
        24,
        path,
        audio=tone(1.0, 44100),
        audio_rate=44100,
        settings=EncodeSettings(format="webm"),
    )
    media = probe(path)
    assert (media.video_codec, media.audio_codec, media.frames, media.audio_rate) == (
        "vp9",
        "opus",
        12,
        48000,
    )


def test_cancel_between_frames_and_progress(tmp_path):
    seen = []
    with pytest.raises(Cancelled):
        encode_video(
            natural_clip(10, 32, 32),
            24,
            tmp_path / "c.mp4",
            on_progress=lambda done, total: seen.append((done, total)),
            is_cancelled=lambda: len(seen) >= 3,
        )
    assert seen == [(1, 10), (2, 10), (3, 10)]


@pytest.mark.parametrize(
    ("frames", "kwargs", "match"),
    [
        (np.zeros((0, 8, 8, 3), np.uint8), {}, "no frames"),
        (np.zeros((2, 8, 8, 3), np.float32), {}, "uint8"),
        (
            np.zeros((2, 8, 8, 3), np.uint8),
            {"audio": np.zeros((10, 2), np.float32), "audio_rate": 0},
            "sample rate",
        ),
        (
            np.zeros((2, 8, 8, 3), np.uint8),
            {"audio": np.full((10, 2), np.nan, np.float32), "audio_rate": 8000},
            "NaN",
        ),
    ],
)
def test_bad_input_is_refused_clearly(tmp_path, frames, kwargs, match):
    with pytest.raises(MediaError, match=match):
        encode_video(frames, 24, tmp_path / "x.mp4", **kwargs)


def test_audio_is_trimmed_and_padded_to_the_frame_range():
    audio = np.arange(48000, dtype=np.float32)[:, None] / 48000
    piece = audio_io.fit_to_frames(audio, 48000, Fraction(24), 12, 24)
    assert piece.shape == (48000, 1)
    assert piece[0, 0] == pytest.approx(0.5)
    assert np.all(piece[24000:] == 0)  # past the end of the audio: silence


def test_the_fast_preset_keeps_cabac_deblocking_and_b_frames(tmp_path):
    """Studio's default "fast" is ultrafast's search with the tools that pay for themselves put back."""
    path = tmp_path / "fast.mp4"
    frames = natural_clip(24, 64, 96, seed=4)
    encode_video(frames, 24, path)  # the default settings
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        kinds = {av.video.frame.PictureType(frame.pict_type) for frame in container.decode(stream)}
    assert av.video.frame.PictureType.B in kinds  # ultrafast alone writes none
    assert b"cabac=1" in path.read_bytes() and b"deblock=1:0:0 " in path.read_bytes()  # x264's settings SEI
    # and at the same CRF it looks as good as veryfast (the cost is bits, not picture)
    encode_video(frames, 24, tmp_path / "veryfast.mp4", settings=EncodeSettings(preset="veryfast"))
    error = np.abs(read_frames(path).astype(int) - frames).mean()
    assert error < np.abs(read_frames(tmp_path / "veryfast.mp4").astype(int) - frames).mean() + 0.5


def test_a_frame_mark_changes_what_is_encoded_and_is_refused_for_rgb_masters(tmp_path):
    frames = np.full((4, 32, 32, 3), 100, np.uint8)

    def brighten(yuv):
        yuv[:32] += 20

    encode_video(frames, 24, tmp_path / "m.mp4", mark=brighten)
    assert read_frames(tmp_path / "m.mp4").mean() > 115
    with pytest.raises(MediaError, match="lossless master"):
        encode_video(
            frames, 24, tmp_path / "m.mkv", settings=EncodeSettings(format="mkv-ffv1"), mark=brighten
        )


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_every_frame_is_its_own_picture(tmp_path, fmt):
    """The encoder's input frame is refilled for every picture: each decoded frame must be the one sent,
    in order, colours included (34 rows: chroma planes of an odd 17 rows)."""
    frames = natural_clip(16, 34, 48, seed=9, grain=0.0)
    for index, frame in enumerate(frames):
        frame[:, :, index % 3] = np.clip(frame[:, :, index % 3].astype(int) + 40 + 8 * index, 0, 255)
    path = tmp_path / f"order.{fmt}"
    encode_video(frames, 24, path, settings=EncodeSettings(format=fmt, crf=10))
    decoded = read_frames(path).astype(int)
    assert len(decoded) == len(frames)
    errors = np.abs(decoded[:, None] - frames[None].astype(int)).mean(axis=(2, 3, 4))  # [decoded, sent]
    assert np.array_equal(errors.argmin(axis=1), np.arange(len(frames)))
    # 4:2:0 alone costs about 6 levels on these saturated 48x34 frames; a misplaced chroma plane, 30+
    assert errors.diagonal().max() < 10
