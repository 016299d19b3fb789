"""Signals and signal math; audio loading of each format, trimming, resampling, envelope and beats, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from studio.directing import DirectingError
from studio.directing.signal import apply_op, pulses
from studio.errors import MediaError
from studio.media.audio import analyse, load_audio
from studio.values import Signal, as_signal

RATE = 44_100
FPS = 16.0
BEATS = np.arange(0.25, 4.0, 0.5)  # 120 BPM click track, first click at 0.25 s


def click_track(seconds=4.0, rate=RATE, beats=BEATS, channels=2) -> np.ndarray:
    x = np.zeros(int(seconds * rate), np.float32)
    n = np.arange(int(0.04 * rate))
    click = (0.8 * np.sin(2 * np.pi * 1000 * n / rate) * np.exp(-n / (0.007 * rate))).astype(np.float32)
    for b in beats:
        i = int(round(b * rate))
        x[i:i + n.size] += click[: x.size - i]
    x += 0.005 * np.random.default_rng(0).standard_normal(x.size).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def test_signal_math_operations():
    s = Signal(np.array([0.0, 0.2, 0.6, 1.0]), 4)
    assert apply_op(s, "scale", 2).values.tolist() == pytest.approx([0, 0.4, 1.2, 2.0])
    assert apply_op(s, "offset", -0.1).values.tolist() == pytest.approx([-0.1, 0.1, 0.5, 0.9])
    assert apply_op(s, "threshold", 0.5).values.tolist() == [0, 0, 1, 1]
    assert apply_op(s, "invert", 0).values.tolist() == pytest.approx([1, 0.8, 0.4, 0])
    assert apply_op(apply_op(s, "scale", 3), "clamp", 0).values.max() == 1.0
    spike = Signal(np.r_[np.zeros(20), 1.0, np.zeros(20)], 10)
    smoothed = apply_op(spike, "smooth", 0.5).values
    assert smoothed.max() < 0.5 and smoothed.sum() == pytest.approx(1.0, abs=1e-3) and smoothed.argmax() == 20
    with pytest.raises(DirectingError, match="unknown signal operation"):
        apply_op(s, "square", 1)


def test_signals_resample_by_time_and_refuse_bad_values():
    s = Signal(np.arange(8, dtype=np.float32), 8)
    np.testing.assert_array_equal(s.for_frames(10, 8), [0, 1, 2, 3, 4, 5, 6, 7, 7, 7])
    assert s.for_frames(3, 4).tolist() == [0, 2, 4]
    assert as_signal(0.5).values.tolist() == [0.5] and as_signal(None) is None
    with pytest.raises(DirectingError):
        Signal(np.array([np.nan]), 8)
    with pytest.raises(DirectingError):
        Signal(np.array([]), 8)
    p = pulses((2, 6), 10, decay_frames=1.0)
    assert p[2] == 1 and p[6] == 1 and p[1] == 0 and p[3] == pytest.approx(np.exp(-1))


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3"])
def test_each_format_loads(tmp_path, fmt):
    import soundfile as sf

    path = tmp_path / f"clicks.{fmt}"
    sf.write(str(path), click_track(), RATE)
    sound = load_audio(path)
    assert sound.rate == RATE and sound.samples.shape[1] == 2 and sound.samples.dtype == np.float32
    assert sound.seconds == pytest.approx(4.0, abs=0.06)  # MP3 encoders may pad a frame
    assert sound.source == str(path)
    analysis = analyse(sound, FPS)
    assert analysis.beats == tuple(int(round(b * FPS)) for b in BEATS), fmt


def test_aac_in_m4a_goes_through_pyav(tmp_path):
    import av

    path = tmp_path / "tone.m4a"
    samples = click_track(seconds=1.0, channels=1)[:, 0]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    sound = load_audio(path)
    assert sound.rate == RATE and abs(sound.seconds - 1.0) < 0.1 and np.abs(sound.samples).max() > 0.3


def test_envelope_and_beats_land_on_the_right_frames(tmp_path):
    import soundfile as sf

    path = tmp_path / "clicks.wav"
    sf.write(str(path), click_track(), RATE)
    analysis = analyse(load_audio(path), FPS)
    expected = [int(round(b * FPS)) for b in BEATS]
    assert analysis.num_frames == 64
    assert analysis.onsets == tuple(expected) and analysis.beats == tuple(expected)
    assert analysis.tempo == pytest.approx(120, abs=2)
    env = analysis.envelope
    assert env.min() >= 0 and env.max() == pytest.approx(1.0)
    assert all(env[f] > env[f - 2] + 0.2 for f in expected)  # loud on the click, quieter between
    # other frame rates: the beat moves with the clock, not the frame index
    at24 = analyse(load_audio(path), 24.0)
    assert at24.beats == tuple(int(round(b * 24)) for b in BEATS)


def test_offset_duration_and_resampling(tmp_path):
    import soundfile as sf

    path = tmp_path / "clicks.flac"
    sf.write(str(path), click_track(), RATE)
    trimmed = load_audio(path, offset=0.5, duration=2.0, rate=22_050, mono=True)
    assert trimmed.rate == 22_050 and trimmed.samples.shape == (44_100, 1)
    beats = analyse(trimmed, FPS).beats
    assert beats == tuple(int(round((b - 0.5) * FPS)) for b in BEATS if 0.5 <= b < 2.5)
    with pytest.raises(MediaError, match="no audio left"):
        load_audio(path, offset=10)


def test_bad_audio_files_are_refused_by_name(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        load_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        load_audio(empty)
    text = tmp_path / "song.mp3"
    text.write_text("this is not a song, it is a shopping list\n" * 20)
    with pytest.raises(MediaError, match="not a readable audio file") as info:
        load_audio(text)
    assert str(text) in str(info.value)
    import soundfile as sf

    good = tmp_path / "good.wav"
    sf.write(str(good), click_track(), RATE, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MediaError, match="truncated"):
        load_audio(truncated)
    bad_rate = bytearray(good.read_bytes())
    bad_rate[24:28] = (0).to_bytes(4, "little")  # the header's sample rate field
    zero = tmp_path / "zero-rate.wav"
    zero.write_bytes(bytes(bad_rate))
    with pytest.raises(MediaError):
        load_audio(zero)


def test_silence_analyses_to_zeros():
    from studio.values import Sound

    analysis = analyse(Sound(np.zeros((RATE, 1), np.float32), RATE), FPS)
    assert analysis.envelope.max() == 0 and analysis.onsets == () and analysis.beats == () and analysis.tempo == 0


def write_with_pyav(path, samples: np.ndarray, rate: int, layout: str, container: str, codec: str = "flac") -> None:
    import av

    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        convert = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32).reshape(1, -1), format="flt",
                                           layout=layout)
        frame.sample_rate, frame.pts = rate, 0
        for piece in convert.resample(frame):
            out.mux(stream.encode(piece))
        out.mux(stream.encode(None))


@pytest.mark.parametrize("fmt", ["flac", "mka"])
def test_a_surround_master_is_kept_as_48khz_stereo_with_its_channels_mixed(tmp_path, fmt):
    import soundfile as sf

    rate = 96_000
    t = np.arange(rate // 2) / rate
    surround = np.zeros((t.size, 6), np.float32)  # 5.1: FL FR FC LFE BL BR
    surround[:, 0] = 0.5 * np.sin(2 * np.pi * 1000 * t)  # a tone on the front left only
    surround[:, 3] = 0.9 * np.sin(2 * np.pi * 50 * t)  # and a loud rumble on the LFE
    path = tmp_path / f"master.{fmt}"
    if fmt == "flac":
        sf.write(str(path), surround, rate, subtype="PCM_24")
    else:
        write_with_pyav(path, surround, rate, "5.1", "matroska")
    sound = load_audio(path)
    assert sound.rate == 48_000 and sound.samples.shape == (24_000, 2)
    left, right = sound.samples[:, 0], sound.samples[:, 1]
    # Left takes FL fully and FC and BL at -3 dB, weights summing to 1 (no clipping): 0.5 / (1 + 2 * 0.707)
    assert np.abs(left[1000:-1000]).max() == pytest.approx(0.5 / (1 + 2 * np.sqrt(0.5)), rel=0.03)
    assert np.abs(right).max() < 1e-3  # nothing reached the right: the LFE is left out of the mix
    mono = load_audio(path, mono=True)
    assert mono.samples.shape == (24_000, 1)
    np.testing.assert_allclose(mono.samples[:, 0], (left + right) / 2, atol=1e-4)


@pytest.mark.parametrize("fmt, slack", [("flac", 0), ("mka", 23)])  # Matroska's clock ticks in ms: 22 samples
def test_long_offsets_seek_and_land_where_they_should(tmp_path, fmt, slack):
    import soundfile as sf

    rate = 44_100
    clicks = np.zeros((45 * rate, 2), np.float32)
    for second in range(45):
        clicks[second * rate + rate // 4, :] = 0.9  # a one-sample click a quarter into every second
    path = tmp_path / f"long.{fmt}"
    if fmt == "flac":
        sf.write(str(path), clicks, rate)
    else:
        write_with_pyav(path, clicks, rate, "stereo", "matroska")
    for offset in (3.0, 40.0):  # decoded and dropped; sought
        part = load_audio(path, offset=offset, duration=3.0)
        assert part.samples.shape == (3 * rate, 2)
        found = np.flatnonzero(np.abs(part.samples[:, 0]) > 0.5)
        assert found.size == 3 and np.all(np.diff(found) == rate), (offset, found)
        assert abs(found[0] - rate // 4) <= (slack if offset > 30 else 0), (offset, found)
