"""Media bombs: small files that decode to gigabytes are refused from their headers or read in bounded memory.

Peak memory is measured in a child process, so the test is not fooled by what pytest itself holds; the child
runs under an address-space limit, so a regression fails the test instead of eating the machine.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from studio.errors import MediaError
from studio.media.audio import load_audio
from studio.media.image import load_image

ROOT = Path(__file__).resolve().parents[2]
PEAK_MB = 500  # what any audio input may cost, all told (the trust issue's bound)

CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import scipy.fft, scipy.ndimage  # imported by the analysis on first use: counted in the baseline, not the file
from studio.errors import MediaError
from studio.media.audio import analyse, load_audio
from studio.media.image import load_image

def peak_mb():
    # VmHWM is this process's own peak. ru_maxrss is not: Linux carries the parent's resident size at the
    # fork into it across exec, so a child of a big pytest process would report pytest's memory.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

kind, path = sys.argv[1], sys.argv[2]
report = {"baseline_mb": peak_mb()}
try:
    if kind == "audio":
        sound = load_audio(path)
        report.update(rate=sound.rate, shape=list(sound.samples.shape))
        analyse(sound, 24.0)  # what the Audio node does next
    else:
        report["shape"] = list(load_image(path).shape)
except MediaError as exc:
    report["error"] = str(exc)
report["peak_mb"] = peak_mb()
print(json.dumps(report))
"""


def measure(kind: str, path: Path) -> dict:
    """Load ``path`` in a fresh interpreter; its report: error or shape, baseline and peak memory in MB."""
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(path.name, report)  # the figures, for whoever reads the log
    return report


def flac_silence(path: Path, seconds: float, rate: int = 48_000, layout: str = "stereo",
                 container: str | None = None, options: dict | None = None) -> Path:
    """Silence as FLAC in 65,535-sample frames of a few bytes each: hours of sound in kilobytes."""
    channels = av.AudioLayout(layout).nb_channels
    block = 65_535
    zeros = np.zeros((1, block * channels), np.int16)
    total = round(seconds * rate)
    with av.open(str(path), "w", format=container, options=options or {}) as out:
        stream = out.add_stream("flac", rate=rate, layout=layout)
        stream.options = {"frame_size": str(block)}
        for start in range(0, total, block):
            frame = av.AudioFrame.from_ndarray(zeros[:, : min(block, total - start) * channels], format="s16",
                                               layout=layout)
            frame.sample_rate, frame.pts = rate, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def claim_flac_length(path: Path, samples: int) -> None:
    """Rewrite the total-samples field of a FLAC file's STREAMINFO (36 bits from byte 21) to ``samples``."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    data[21] = (data[21] & 0xF0) | (samples >> 32 & 0x0F)
    data[22:26] = (samples & 0xFFFFFFFF).to_bytes(4, "big")
    path.write_bytes(bytes(data))


# --- audio ---------------------------------------------------------------------------------------------


def test_twenty_minutes_of_matroska_silence_are_refused_from_the_header(tmp_path):
    path = flac_silence(tmp_path / "silence.mka", 20 * 60)
    assert path.stat().st_size < 100_000  # 460 MB of float32 once decoded
    report = measure("audio", path)
    assert str(path) in report["error"] and "20:00" in report["error"]
    assert "57.6 million" in report["error"] and "10 minutes of 48 kHz stereo" in report["error"]
    assert report["peak_mb"] - report["baseline_mb"] < 40  # nothing was decoded
    # The hint works: a part of the file, read from the middle, loads.
    part = load_audio(path, offset=600, duration=60)
    assert part.rate == 48_000 and part.samples.shape == (2_880_000, 2)


def test_matroska_that_does_not_give_its_length_is_stopped_at_the_cap(tmp_path):
    path = flac_silence(tmp_path / "live.mka", 11 * 60, container="matroska", options={"live": "1"})
    with av.open(str(path)) as container:
        assert container.duration is None  # no header to refuse it by: decoding must stop it
    report = measure("audio", path)
    assert str(path) in report["error"] and "goes on past Studio's cap" in report["error"]
    assert report["peak_mb"] < PEAK_MB


def test_a_192khz_eight_channel_flac_is_kept_as_48khz_stereo(tmp_path):
    path = flac_silence(tmp_path / "master.flac", 30, rate=192_000, layout="7.1", container="flac")
    report = measure("audio", path)
    assert report["rate"] == 48_000 and report["shape"] == [1_440_000, 2]
    # Decoded whole it is 184 MB of float32: it was converted a block at a time instead.
    assert report["peak_mb"] - report["baseline_mb"] < 90 and report["peak_mb"] < PEAK_MB


def test_a_flac_header_claiming_an_hour_at_192khz_eight_channels_is_refused(tmp_path):
    path = flac_silence(tmp_path / "liar.flac", 1, rate=192_000, layout="7.1", container="flac")
    claim_flac_length(path, 59 * 60 * 192_000)  # 22 GB of float32, were it believed and there
    report = measure("audio", path)
    assert str(path) in report["error"] and "59:00" in report["error"] and "57.6 million" in report["error"]
    assert report["peak_mb"] - report["baseline_mb"] < 40


def wav_header(kind: bytes, data_size: int) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 2, 48_000, 48_000 * 4, 4, 16)
    chunks = b""
    if kind == b"RF64":
        ds64 = struct.pack("<QQQI", data_size + 36, data_size, data_size // 4, 0)
        chunks += b"ds64" + struct.pack("<I", len(ds64)) + ds64
        data_size = 0xFFFFFFFF
    chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_size)
    return kind + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + chunks


@pytest.mark.parametrize("kind, claimed", [(b"RIFF", 0xFFFFFFF0), (b"RF64", 1 << 40)])
def test_wav_headers_claiming_huge_lengths_are_refused(tmp_path, kind, claimed):
    path = tmp_path / "liar.wav"
    path.write_bytes(wav_header(kind, claimed) + bytes(48_000 * 4))  # one second is really there
    with pytest.raises(MediaError, match=f"truncated: its header promises {claimed} bytes") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def write_noise(path: Path, fmt: str) -> None:
    """Two seconds of stereo noise in ``fmt``."""
    rate = 48_000 if fmt == "opus" else 44_100
    noise = (0.3 * np.random.default_rng(0).standard_normal((2 * rate, 2))).astype(np.float32)
    if fmt in ("m4a", "mka"):
        with av.open(str(path), "w", format="mp4" if fmt == "m4a" else "matroska") as out:
            stream = out.add_stream("aac" if fmt == "m4a" else "flac", rate=44_100, layout="stereo")
            convert = av.AudioResampler(format=stream.codec_context.format.name, layout="stereo", rate=44_100)
            frame = av.AudioFrame.from_ndarray(noise.reshape(1, -1), format="flt", layout="stereo")
            frame.sample_rate, frame.pts = 44_100, 0
            for piece in convert.resample(frame):
                out.mux(stream.encode(piece))
            out.mux(stream.encode(None))
    elif fmt == "opus":
        sf.write(str(path), noise, rate, format="OGG", subtype="OPUS")
    else:
        sf.write(str(path), noise, 44_100)


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "opus", "mp3", "m4a", "mka"])
def test_a_truncated_sound_in_each_format_is_refused_by_name(tmp_path, fmt):
    whole = tmp_path / f"whole.{fmt}"
    write_noise(whole, fmt)
    assert load_audio(whole).seconds == pytest.approx(2.0, abs=0.1)
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(MediaError, match="truncated|damaged") as info:
        load_audio(cut)
    assert str(cut) in str(info.value)


# --- images --------------------------------------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with almost no pixel data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size, words", [
    ((8000, 8000), r"8000x8000 \(64 megapixels\), over Studio's cap of 40 megapixels"),  # over ours, under PIL's
    ((100_000, 100_000), r"far too large to read .*Studio reads up to 40,000,000"),  # over PIL's own guard too
])
def test_image_headers_over_the_cap_are_refused_before_decoding(tmp_path, size, words):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(*size))
    with pytest.raises(MediaError, match=words) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_an_oversized_jpeg_is_decoded_at_half_size(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.new("RGB", (8200, 5000), (200, 40, 30)).save(path, quality=80)  # 41 megapixels, 123 MB as RGB
    report = measure("image", path)
    assert report["shape"] == [2500, 4100, 3]
    assert report["peak_mb"] - report["baseline_mb"] < 123  # less than the full picture alone would take


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP"])
def test_a_truncated_image_in_each_format_is_refused_by_name(tmp_path, fmt):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(buffer, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(MediaError, match="truncated|cannot be read|not a readable image") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_a_video_read_whole_is_capped_by_what_it_decodes_to(tmp_path):
    """A small file whose frames would fill memory is refused from its header (and while decoding)."""
    from studio.media.encode import encode_video
    from studio.media.video_read import _decode, read_frames

    path = tmp_path / "flat.mp4"
    encode_video(np.zeros((48, 256, 256, 3), np.uint8), 24, path)
    assert path.stat().st_size < 50_000
    assert read_frames(path).shape == (48, 256, 256, 3)
    with pytest.raises(MediaError, match=r"decodes to more than 4 MB \(48 frames of 256x256"):
        _decode(path, lambda f: f.to_ndarray(format="rgb24"), None, 1, max_bytes=4 * 2**20)
