"""Signed export end to end: real PyAV, real c2pa-python, real files; tamper, strip, re-encode, cancel, kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import c2pa
import cv2
import numpy as np
import pytest
import soundfile as sf

from studio.errors import Cancelled, MediaError, SigningError
from studio.media import audio_io
from studio.media.encode import probe
from studio.media.export import ExportOptions, export_clip
from studio.media.provenance import TRAINED_ALGORITHMIC_MEDIA, Provenance
from studio.media.signing import SigningIdentity
from studio.media.verify import verify_file
from tests.media.clips import natural_clip, tone
from tests.media.helpers import mdat_offset, remux, transcode

FPS = 24


@pytest.fixture(scope="module")
def clip():
    return natural_clip(40, 128, 128, seed=3)


@pytest.fixture
def provenance(tmp_path):
    ref = tmp_path / "reference.png"
    cv2.imwrite(str(ref), np.full((16, 16, 3), 90, np.uint8))
    wav = tmp_path / "music.wav"
    sf.write(str(wav), tone(2.0, 48000), 48000)
    return Provenance(
        model_name="wan-tiny",
        model_hash="sha256:" + "ab" * 32,
        prompts=["a red kite over dunes"],
        seed=1234,
        settings={"steps": 4, "guidance": 5.0},
        graph_hash="sha256:" + "cd" * 32,
        ingredients=[ref, wav],
    )


@pytest.fixture
def exported(tmp_path, clip, provenance):
    dest = tmp_path / "out" / "clip.mp4"
    progress = []
    result = export_clip(
        clip,
        FPS,
        dest,
        audio=tone(2.0, 48000),
        audio_rate=48000,
        options=ExportOptions(in_frame=4, out_frame=36),
        provenance=provenance,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert progress[-1] == (32, 32)
    return dest, result


def test_export_streams_and_lengths(exported):
    dest, result = exported
    media = probe(dest)
    assert (media.video_codec, media.audio_codec) == ("h264", "aac")
    assert media.frames == result.frames == 32
    assert media.fps == FPS
    assert media.duration == pytest.approx(32 / FPS, abs=1e-3)
    assert result.audio_samples == audio_io.samples_for_frames(32, result.fps, 48000) == 64000
    assert result.watermark_psnr > 38
    assert [p.name for p in dest.parent.iterdir()] == ["clip.mp4"]  # no temp files left behind


def test_manifest_reads_back_with_actions_ingredients_and_parameters(exported):
    dest, result = exported
    report = verify_file(dest, ["local"])
    assert report.ok and report.valid and report.trusted and not report.tampered
    assert report.manifest_label == result.manifest_label
    created = [a for a in report.actions if a["action"] == "c2pa.created"][0]
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"]["name"] == "Studio"
    gen = report.generation
    assert gen["model"] == {"name": "wan-tiny", "hash": "sha256:" + "ab" * 32}
    assert gen["prompts"] == ["a red kite over dunes"] and gen["seed"] == 1234
    assert gen["settings"] == {"steps": 4, "guidance": 5.0} and gen["graph_hash"] == "sha256:" + "cd" * 32
    assert {(i["title"], i["relationship"]) for i in report.ingredients} == {
        ("reference.png", "inputTo"),
        ("music.wav", "componentOf"),
    }
    assert report.watermark.found and report.watermark.payload == result.watermark_payload
    assert report.watermark.matches_manifest is True
    assert report.to_dict()["ok"] is True
    text = report.to_text()
    assert "valid and trusted" in text and "a red kite over dunes" in text


def test_without_the_local_anchor_it_is_valid_but_not_trusted(exported):
    dest, _ = exported
    report = verify_file(dest, check_watermark=False)
    assert report.valid and not report.trusted and report.ok
    assert "valid, signer not trusted" in report.to_text()
    other_ca = verify_file(dest, [_unrelated_ca_pem()], check_watermark=False)
    assert not other_ca.trusted


def _unrelated_ca_pem() -> str:
    from studio.media import signing

    key = signing.ec.generate_private_key(signing.ec.SECP256R1())
    name = signing.x509.Name([signing.x509.NameAttribute(signing.NameOID.COMMON_NAME, "Other CA")])
    now = signing.dt.datetime.now(signing.dt.UTC)
    cert = (
        signing.x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + signing.dt.timedelta(days=9))
        .add_extension(signing.x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, signing.hashes.SHA256())
    )
    return cert.public_bytes(signing.serialization.Encoding.PEM).decode()


def test_one_flipped_media_byte_reads_as_tampered(exported):
    dest, _ = exported
    start, size = mdat_offset(dest)
    data = bytearray(dest.read_bytes())
    data[start + size // 2] ^= 0x01
    dest.write_bytes(bytes(data))
    report = verify_file(dest, ["local"], check_watermark=False)
    assert report.tampered and not report.ok
    assert any("bmffHash.mismatch" in f["code"] for f in report.failures)
    assert "TAMPERED" in report.to_text()


def test_stripped_manifest_still_carries_the_watermark(exported, tmp_path):
    dest, result = exported
    stripped = tmp_path / "stripped.mp4"
    remux(dest, stripped)
    report = verify_file(stripped, ["local"])
    assert not report.has_manifest and not report.ok
    assert report.watermark.found and report.watermark.payload == result.watermark_payload


def test_watermark_survives_a_crf35_reencode(tmp_path):
    # CRF 35 keeps the pattern from 640x360 up (smaller clips survive the default encode only).
    dest = tmp_path / "clip.mp4"
    result = export_clip(natural_clip(24, 360, 640, seed=4), FPS, dest, options=ExportOptions(sign=False))
    worse = tmp_path / "crf35.mp4"
    transcode(dest, worse, crf=35)
    report = verify_file(worse)
    assert report.watermark.found and report.watermark.payload == result.watermark_payload


def test_clean_video_has_no_watermark(tmp_path, clip):
    dest = tmp_path / "clean.mp4"
    export_clip(clip, FPS, dest, options=ExportOptions(watermark=False, sign=False))
    report = verify_file(dest)
    assert not report.has_manifest and not report.watermark.found
    assert report.watermark.summary == "no watermark"


@pytest.mark.parametrize("fail_at", ["cancel", "error"])
def test_cancel_or_failure_midway_leaves_nothing(tmp_path, clip, provenance, fail_at):
    dest = tmp_path / "out" / "clip.mp4"
    done = []

    def progress(n, total):
        done.append(n)
        if fail_at == "error" and n == 10:
            raise RuntimeError("disk on fire")

    expected = Cancelled if fail_at == "cancel" else RuntimeError
    with pytest.raises(expected):
        export_clip(
            clip, FPS, dest, provenance=provenance, on_progress=progress, is_cancelled=lambda: len(done) >= 10
        )
    assert list(dest.parent.iterdir()) == []


def test_failure_while_signing_leaves_nothing(tmp_path, clip, provenance, monkeypatch):
    dest = tmp_path / "out" / "clip.mp4"

    def broken_sign(*args, **kwargs):
        raise c2pa.C2paError("boom")

    monkeypatch.setattr(c2pa.Builder, "sign", broken_sign)
    with pytest.raises(MediaError, match="Content Credentials"):
        export_clip(clip, FPS, dest, provenance=provenance)
    assert list(dest.parent.iterdir()) == []


def test_existing_destination_survives_a_failed_export(tmp_path, clip, provenance):
    dest = tmp_path / "clip.mp4"
    dest.write_bytes(b"previous export")
    with pytest.raises(Cancelled):
        export_clip(clip, FPS, dest, provenance=provenance, is_cancelled=lambda: True)
    assert dest.read_bytes() == b"previous export"


def test_killed_export_leaves_no_file_at_the_destination(tmp_path):
    dest = tmp_path / "killed.mp4"
    started = tmp_path / "started"
    script = textwrap.dedent(f"""
        import time, numpy as np
        from pathlib import Path
        from studio.media.export import export_clip, ExportOptions
        from studio.media.provenance import Provenance
        frames = np.zeros((10000, 64, 64, 3), np.uint8)
        def progress(done, total):
            if done == 5:
                Path({str(started)!r}).touch()
            time.sleep(0.01)
        export_clip(frames, 24, {str(dest)!r}, options=ExportOptions(), provenance=Provenance("m"), on_progress=progress)
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert proc.poll() is None, "the export process ended early"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not dest.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".killed.mp4.")]
    assert leftovers  # the hidden partial file is what a kill leaves; never the destination itself
    # Left alone while fresh (a writer elsewhere may still hold them); once an hour old and held by no live
    # writer, the next export to that folder sweeps them.
    export_clip(np.zeros((4, 64, 64, 3), np.uint8), 24, tmp_path / "a.mp4", options=ExportOptions(sign=False))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".killed.mp4.")] == leftovers
    for name in leftovers:
        old = time.time() - 2 * 3600
        os.utime(tmp_path / name, (old, old))
    export_clip(
        np.zeros((4, 64, 64, 3), np.uint8), 24, tmp_path / "next.mp4", options=ExportOptions(sign=False)
    )
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".killed.mp4.")]


def test_bad_identity_gives_a_signing_error_before_any_work(tmp_path, clip, provenance):
    with pytest.raises(SigningError):
        export_clip(
            clip,
            FPS,
            tmp_path / "x.mp4",
            provenance=provenance,
            identity=SigningIdentity.from_pem(b"not a cert", b"not a key"),
        )
    assert not (tmp_path / "x.mp4").exists()


def test_unsignable_format_is_refused_and_unsigned_formats_export(tmp_path, clip):
    with pytest.raises(MediaError, match="cannot be embedded"):
        export_clip(
            clip, FPS, tmp_path / "x.webm", options=ExportOptions(format="webm"), provenance=Provenance("m")
        )
    result = export_clip(
        clip[:8], FPS, tmp_path / "m.mkv", options=ExportOptions(format="mkv-ffv1", sign=False)
    )
    assert probe(tmp_path / "m.mkv").frames == 8 and not result.signed


def test_odd_size_export_is_padded_and_still_watermarked(tmp_path):
    frames = natural_clip(24, 67, 91, seed=5)
    result = export_clip(frames, FPS, tmp_path / "odd.mp4", options=ExportOptions(sign=False))
    assert (result.width, result.height) == (92, 68) and any("padded" in n for n in result.notes)
    report = verify_file(tmp_path / "odd.mp4")
    assert report.watermark.found and report.watermark.payload == result.watermark_payload
