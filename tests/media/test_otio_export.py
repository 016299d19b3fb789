"""The editor timeline beside an export, read back with OpenTimelineIO itself."""

from __future__ import annotations

import os
import stat

import numpy as np
import opentimelineio as otio
import pytest

from studio.media.export import ExportOptions, export_clip
from studio.media.provenance import Provenance
from tests.directing.test_signal_audio import click_track
from tests.media.clips import natural_clip

FPS = 24
RATE = 44_100


@pytest.fixture
def provenance() -> Provenance:
    return Provenance("studio-tiny", "abc123", ["a red circle moves left"], 7, {"steps": 20}, "sha256:" + "2" * 64)


def _markers(clip) -> list[tuple[int, str, str]]:
    return [(round(m.marked_range.start_time.value), m.name, m.color) for m in clip.markers]


def test_the_timeline_holds_the_clip_its_sound_sections_and_beats(tmp_path, provenance):
    dest = tmp_path / "shot 010.mp4"
    # 120 BPM clicks from 0.25 s: a beat every 12 frames at 24 fps, on frames 6, 18, 30, ...
    sound = click_track(seconds=4.0, rate=RATE)
    sections = [[0.0, "a red circle"], [1.5, "a red circle moves left fast"], [9.0, "after the clip"]]
    result = export_clip(
        natural_clip(72, 64, 64, seed=2),
        FPS,
        dest,
        audio=sound,
        audio_rate=RATE,
        options=ExportOptions(in_frame=4, out_frame=68, timeline=True),
        provenance=provenance,
        sections=sections,
    )
    assert result.timeline_path == tmp_path / "shot 010.otio"
    timeline = otio.adapters.read_from_file(str(result.timeline_path))
    assert [t.kind for t in timeline.tracks] == [otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio]
    assert timeline.duration() == otio.opentime.RationalTime(64, FPS) == otio.opentime.RationalTime(result.frames, FPS)
    picture = timeline.tracks[0][0]
    url = picture.media_reference.target_url
    assert otio.url_utils.filepath_from_url(url) == str(dest.resolve())
    assert picture.media_reference.available_range.duration.to_frames() == 64
    assert timeline.tracks[1][0].media_reference.target_url == url
    markers = _markers(picture)
    # sections shift by the in point (frame 4): 0 s falls before the range, 1.5 s is frame 36 - 4
    assert [(f, n) for f, n, c in markers if c == otio.schema.MarkerColor.YELLOW] == [
        (32, "a red circle moves left fast")
    ]
    beats = [f for f, n, c in markers if n == "beat"]
    assert len(beats) >= 4
    assert all(min(abs(f + 4 - b) for b in range(6, 80, 12)) <= 1 for f in beats)
    about = timeline.metadata["studio"]
    assert about["seed"] == 7 and about["model"]["name"] == "studio-tiny"
    assert about["content_credentials"] == result.manifest_label and about["watermark"] == result.watermark_payload
    assert about["first_frame"] == 4
    mode = stat.S_IMODE(os.stat(result.timeline_path).st_mode)
    assert mode & 0o044, "the timeline is for sharing, like the clip: not private 0600"


def test_a_silent_clip_has_a_video_track_only(tmp_path):
    result = export_clip(
        natural_clip(12, 32, 32), FPS, tmp_path / "silent.mp4", options=ExportOptions(sign=False, timeline=True)
    )
    timeline = otio.adapters.read_from_file(str(result.timeline_path))
    assert [t.kind for t in timeline.tracks] == [otio.schema.TrackKind.Video]
    assert len(timeline.tracks[0][0].markers) == 0
    assert "seed" not in timeline.metadata["studio"]  # no provenance given: nothing made up


def test_no_timeline_unless_asked(tmp_path):
    result = export_clip(natural_clip(6, 32, 32), FPS, tmp_path / "plain.mp4", options=ExportOptions(sign=False))
    assert result.timeline_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.mp4"]


def test_a_taken_timeline_name_moves_the_clip_and_its_timeline_to_a_new_version(tmp_path):
    """A clip and its timeline share one version: a file already at taken.otio (here a folder) is kept, and
    both go to taken_0002; the timeline never replaces what was there, nor the clip."""
    (tmp_path / "taken.otio").mkdir()
    result = export_clip(
        np.zeros((6, 32, 32, 3), np.uint8),
        FPS,
        tmp_path / "taken.mp4",
        options=ExportOptions(sign=False, timeline=True),
    )
    assert result.path == tmp_path / "taken_0002.mp4"
    assert result.timeline_path == tmp_path / "taken_0002.otio"
    assert (tmp_path / "taken.otio").is_dir() and not (tmp_path / "taken.mp4").exists()
