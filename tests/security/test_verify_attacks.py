"""`studio verify` of a file from anyone: bounded in time and memory, and plain about what it did not check.

Every hostile file here is built by the test and is small on disk: 4K and 8K clips of a few frames, 320 KB
of empty MP4 boxes. The bounds are asserted where they are enforced (the children's limits, the frames
and size the decoder read, the report's sentences), with time bounds generous enough for a loaded box.
"""

from __future__ import annotations

import struct
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from studio.cli import main
from studio.errors import MediaError, SigningError
from studio.media import watermark as wm
from studio.media.export import ExportOptions, export_clip
from studio.media.provenance import Provenance
from studio.media.verify import VerifyLimits, verify_file
from studio.media.verify_c2pa import MAX_BOXES, count_boxes
from studio.media.verify_watermark import watermark_scale
from studio.media.video_read import UntrustedVideo, read_luma
from tests.media.clips import natural_clip
from tests.media.helpers import mdat_offset

FPS = 24
BOUND_SECONDS = 20  # the bound for any file; the checks here finish far inside it


def box_file(path: Path, count: int, *, inside: bytes | None = None) -> Path:
    """An MP4 of ``count`` empty boxes (8 bytes each) after its ftyp, at the top or inside one box."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp42")
    boxes = struct.pack(">I4s", 8, b"free") * count
    if inside is not None:
        boxes = struct.pack(">I4s", 8 + len(boxes), inside) + boxes
    path.write_bytes(ftyp + boxes)
    return path


def encode(path: Path, width: int, height: int, frames: int = 2, codec: str = "libx264") -> Path:
    """A plain clip straight from PyAV (no watermark, no manifest): a gradient that moves."""
    ramp = (np.add.outer(np.arange(height) // 4, np.arange(width) // 4) % 256).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "30"}
        for index in range(frames):
            rgb = np.repeat(np.roll(ramp, index * 8, axis=1)[..., None], 3, axis=2)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def studio_clip(path: Path, height: int, width: int, frames: int, **options) -> Path:
    """A clip exported by Studio: watermarked and (unless ``sign=False``) signed."""
    if height * width > 1280 * 720:
        # Smooth and cheap at large sizes: natural_clip's noise field is slow to build there.
        yy, xx = np.mgrid[0:height, 0:width]
        base = (110 + 40 * np.sin(xx / (width / 7)) + 30 * np.cos(yy / (height / 5))).astype(np.uint8)
        clip = np.stack([np.repeat(np.roll(base, 6 * t, 1)[..., None], 3, 2) for t in range(frames)])
    else:
        clip = natural_clip(frames, height, width, seed=height)
    export_clip(clip, FPS, path, options=ExportOptions(**options), provenance=Provenance("m", seed=1))
    return path


# ---- refused at the first bytes


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"my secret diary, not a video at all\n" * 3,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
        b"PK\x03\x04" + b"\0" * 64,
        b"\x7fELF" + b"\0" * 64,
        struct.pack(">I4s", 3, b"ftyp") + b"\0" * 16,  # an ftyp box of impossible size
    ],
    ids=["empty", "text", "png", "zip", "elf", "bad-box"],
)
def test_what_is_not_a_video_file_is_refused_at_its_first_bytes(tmp_path, content):
    path = tmp_path / "clip.mp4"  # the name says MP4; the bytes decide
    path.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        verify_file(path)
    assert "not a video file" in str(caught.value) and str(path) in str(caught.value)
    assert "diary" not in str(caught.value)
    assert time.monotonic() - started < 1.0  # no child process was started for it


def test_a_folder_is_not_a_clip(tmp_path):
    with pytest.raises(MediaError, match="not a file"):
        verify_file(tmp_path)


# ---- the C2PA read: box census and a child with a time limit


def test_100000_empty_boxes_are_refused_without_reading_them(tmp_path):
    path = box_file(tmp_path / "boxes.mp4", 100_000)
    assert path.stat().st_size < 1_000_000
    started = time.monotonic()
    report = verify_file(path)
    assert time.monotonic() - started < BOUND_SECONDS
    assert (
        report.credentials_not_checked
        == f"the file has more than {MAX_BOXES:,} MP4 boxes, which no real clip has"
    )
    assert "c2pa" not in report.resources  # c2pa never saw the file
    assert not report.ok and report.verdict.startswith("Content Credentials not checked")
    assert report.watermark is not None and not report.watermark.checked
    text = report.to_text()
    assert "Not checked: Content Credentials: the file has more than 20,000 MP4 boxes" in text
    assert "Not checked: watermark: cannot open the video" in text
    assert report.to_dict()["not_checked"] == report.not_checked and len(report.not_checked) == 2


def test_the_census_counts_boxes_nested_in_containers_and_stops_early(tmp_path):
    nested = box_file(tmp_path / "nested.mp4", 2 * MAX_BOXES, inside=b"moov")
    assert count_boxes(nested) == MAX_BOXES + 1  # stops one past the limit, whatever the file holds
    assert count_boxes(box_file(tmp_path / "udta.mp4", 300, inside=b"udta")) == 302  # ftyp, udta, 300 inside
    assert count_boxes(box_file(tmp_path / "free.mp4", 10, inside=b"free")) == 2  # free holds no boxes


def test_the_c2pa_child_is_stopped_at_its_time_limit(tmp_path):
    # 40,000 boxes take c2pa-rs about 15 s on our 2-core box (its walk is quadratic); the census is
    # lifted so that the child's time limit is what stops it.
    path = box_file(tmp_path / "boxes.mp4", 40_000)
    started = time.monotonic()
    report = verify_file(path, check_watermark=False, limits=VerifyLimits(c2pa_seconds=1.0, max_boxes=10**6))
    elapsed = time.monotonic() - started
    assert report.credentials_not_checked == "reading took longer than 1 s"
    assert 1.0 <= report.resources["c2pa"]["seconds"] < 5 and elapsed < 8
    assert "Not checked: Content Credentials: reading took longer than 1 s" in report.to_text()


def test_both_children_run_under_memory_and_cpu_limits(tmp_path):
    resource = pytest.importorskip("resource")
    assert resource  # Unix: the kernel enforces the limits
    path = studio_clip(tmp_path / "clip.mp4", 128, 128, 8)
    report = verify_file(path, ["local"])
    assert report.ok and report.trusted and report.watermark.found and report.watermark.matches_manifest
    for child in ("c2pa", "watermark"):
        used = report.resources[child]
        limits = VerifyLimits()
        budget = limits.c2pa_memory_mb if child == "c2pa" else limits.watermark_memory_mb
        assert used["memory_for_file_mb"] == budget
        assert budget <= used["memory_limit_mb"] < budget + 400  # the budget on top of the imports
        assert 0 < used["peak_mb"] < used["memory_limit_mb"] and used["cpu_limit_s"] <= 13


# ---- the watermark read: bounded frames, reduced size, limits said plainly


def test_a_4k_clip_is_read_at_reduced_size_from_a_bounded_number_of_frames(tmp_path):
    path = studio_clip(tmp_path / "4k.mp4", 2160, 3840, 6)
    report = verify_file(path, ["local"], limits=VerifyLimits(pixel_budget=2 * 3840 * 2160))
    wmr = report.watermark
    assert report.ok and wmr.found and wmr.matches_manifest is True
    assert (wmr.frames_read, wmr.frames_total, wmr.scale) == (2, 6, 12)
    assert report.not_checked == [
        "watermark: checked the first 2 of 6 frames at 1/12 size (the clip is 3840x2160)"
    ]
    assert "(read 2 frames at 1/12 size)" in report.to_text()
    assert VerifyLimits().pixel_budget // (3840 * 2160) == 24  # what the default reads of a longer 4K clip


def test_an_8k_clip_is_checked_within_the_memory_bound(tmp_path):
    path = encode(tmp_path / "8k.mp4", 7680, 4320, frames=2)
    assert path.stat().st_size < 1_000_000
    started = time.monotonic()
    report = verify_file(path)
    assert time.monotonic() - started < BOUND_SECONDS
    wmr = report.watermark
    assert wmr.checked and wmr.summary == "no watermark" and (wmr.frames_read, wmr.scale) == (2, 24)
    # The decode ran in the child, whose peak (its own, not the parent's) stays far below 1 GB.
    assert report.resources["watermark"]["peak_mb"] < 1024
    assert report.resources["watermark"]["peak_mb"] < report.resources["watermark"]["memory_limit_mb"]


def test_a_picture_beyond_8k_is_not_decoded_and_the_report_says_so(tmp_path):
    path = encode(tmp_path / "wide.mp4", 8704, 4352, frames=1)
    report = verify_file(path)
    wmr = report.watermark
    assert not wmr.checked and wmr.frames_read == 0
    assert "the clip is 8704x4352, larger than the 35.7 megapixels" in wmr.summary
    assert any(item.startswith("watermark: the clip is 8704x4352") for item in report.not_checked)


def test_a_decode_past_its_memory_limit_is_stopped_and_said(tmp_path):
    pytest.importorskip("resource")
    path = encode(tmp_path / "4k.mp4", 3840, 2160, frames=2)
    report = verify_file(path, limits=VerifyLimits(watermark_memory_mb=24))  # a 4K picture is 12 MB
    wmr = report.watermark
    assert not wmr.checked
    assert wmr.summary == "not checked: reading needed more than the 24 MB of memory allowed"


def test_reading_stops_at_its_deadline_and_says_how_far_it_got(tmp_path):
    path = encode(tmp_path / "clip.mp4", 320, 180, frames=12)
    report = verify_file(path, limits=VerifyLimits(watermark_read_seconds=0))
    wmr = report.watermark
    assert wmr.checked and wmr.frames_read == 1 and wmr.frames_total == 12
    assert wmr.partial == "read the first 1 of 12 frames only: reading stopped at the time limit"


def test_a_codec_studio_does_not_read_from_strangers_is_not_decoded(tmp_path):
    path = encode(tmp_path / "mjpeg.mp4", 64, 64, codec="mjpeg")
    report = verify_file(path)
    assert report.verdict == "no Content Credentials"
    assert not report.watermark.checked and "video codec (mjpeg)" in report.watermark.summary


def test_a_damaged_mp4_gives_a_report_not_a_traceback(tmp_path):
    path = tmp_path / "damaged.mp4"
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp42")
    path.write_bytes(ftyp + np.random.default_rng(0).integers(0, 256, 20_000, np.uint8).tobytes())
    report = verify_file(path)
    assert not report.ok and not report.watermark.checked
    assert "Traceback" not in report.to_text()


def test_mkv_carries_no_credentials_but_its_watermark_is_read(tmp_path):
    path = studio_clip(tmp_path / "clip.mkv", 128, 128, 8, format="mkv-ffv1", sign=False)
    report = verify_file(path)
    assert report.notes == ["MKV and WebM files cannot carry Content Credentials"]
    assert report.verdict == "no Content Credentials" and report.watermark.found
    assert "c2pa" not in report.resources


@pytest.mark.parametrize(
    ("height", "width", "scale"),
    [(64, 64, 1), (128, 128, 1), (360, 640, 2), (720, 1280, 4), (1080, 1920, 6)],
)
def test_reduced_size_reads_the_watermark_as_full_size_does(tmp_path, height, width, scale):
    """Studio's export sizes: the reduced read finds the same payload with the same evidence."""
    path = studio_clip(tmp_path / "clip.mp4", height, width, 4, sign=False)
    assert watermark_scale(height, width) == scale
    full = wm.detect(read_luma(path))
    with UntrustedVideo(path) as video:
        reduced_frames = list(video.luma(scale=scale, max_frames=4))
    reduced = wm.detect(reduced_frames)
    assert reduced_frames[0].shape == (height // scale, width // scale)
    assert full.found and reduced.found and reduced.payload == full.payload
    # Each reduced cell is the mean of the same pixels, up to rounding each reduced pixel to a level.
    assert np.allclose(reduced.soft_bits, full.soft_bits, atol=0.01)
    assert abs(reduced.bit_margin - full.bit_margin) < 0.01


# ---- trust anchors and what failed


def test_trust_that_is_missing_or_not_pem_is_a_sentence_not_a_traceback(tmp_path, capsys):
    clip = box_file(tmp_path / "clip.mp4", 1)  # its first bytes pass; the anchors are refused before any read
    secret = tmp_path / "diary.txt"
    secret.write_text("my secret diary entry\n")
    for anchor, words in (
        (tmp_path / "missing.pem", "the trust anchor file does not exist"),
        (secret, "the trust anchor is not a PEM certificate"),
        (tmp_path, "the trust anchor is not a file"),
    ):
        assert main(["verify", str(clip), "--trust", str(anchor)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: file '{anchor}': {words}")
        assert "Traceback" not in err and "diary entry" not in err
    damaged = tmp_path / "damaged.pem"
    damaged.write_text("-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n")
    assert main(["verify", str(clip), "--trust", str(damaged)]) == 2
    assert "certificate is damaged" in capsys.readouterr().err
    with pytest.raises(SigningError) as caught:
        verify_file(clip, ["my secret diary entry\nline two"])  # text that is neither PEM nor a name
    assert "diary" not in str(caught.value)


def test_a_changed_picture_is_a_hash_mismatch_under_a_valid_signature(tmp_path):
    path = studio_clip(tmp_path / "clip.mp4", 128, 128, 8)
    start, size = mdat_offset(path)
    data = bytearray(path.read_bytes())
    data[start + size // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_file(path, ["local"], check_watermark=False)
    assert report.tampered and not report.ok and not report.valid
    assert report.signature_valid is True  # the signed claim is intact; the pictures are not
    assert report.verdict == "TAMPERED: the media no longer matches its signed hash"
    text = report.to_text()
    assert "Signature:   valid\n" in text and "INVALID" not in text
    assert (
        "Content:     TAMPERED: the media no longer matches its signed hash (assertion.bmffHash.mismatch)"
        in text
    )


# ---- the editor


def test_the_editor_verifies_a_hostile_file_off_the_main_thread(qtbot, tmp_path):
    from studio.ui.dialogs.verify_dialog import VerifyDialog

    path = box_file(tmp_path / "boxes.mp4", 100_000)
    dialog = VerifyDialog(path)
    qtbot.addWidget(dialog)
    # The window is up before the report exists: the check (a second or more: two child processes)
    # runs on a worker thread while the main thread goes on painting.
    assert dialog.running and dialog.report is None
    assert dialog.job.thread is not threading.main_thread()
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.running, timeout=BOUND_SECONDS * 1000)
    assert "Content Credentials not checked" in dialog.banner.text()
    from PySide6.QtWidgets import QFormLayout

    rows = [
        (
            dialog.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().text(),
            dialog.form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget().text(),
        )
        for row in range(dialog.form.rowCount())
    ]
    not_checked = [value for label, value in rows if label == "Not checked:"]
    assert (
        not_checked[0]
        == "Content Credentials: the file has more than 20,000 MP4 boxes, which no real clip has"
    )
    assert not_checked[1].startswith("watermark: cannot open the video")
