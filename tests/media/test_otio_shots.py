"""A sequence's editor timeline: one clip per shot, each a range of the one exported file with the shot's name,
prompt and seed, read back with OpenTimelineIO itself; the sound one clip under them."""

from __future__ import annotations

import opentimelineio as otio

from studio.media.export import ExportOptions, export_video
from studio.values import Generation, ShotRecord, Sound, Video
from tests.directing.test_signal_audio import click_track
from tests.media.clips import natural_clip

FPS = 16
SHOTS = (
    ShotRecord("opening", 0.0, "a red circle moves right", 1, "cut", "a"),
    ShotRecord("descent", 1.0, "a red circle moves down", 2, "continue"),
    ShotRecord("enter", 2.5, "a blue square moves left", 3, "cut", "b"),
)


def sequence_clip() -> Video:
    generation = Generation(model="studio-tiny", prompt=SHOTS[0].prompt, seed=1, num_frames=56, fps=FPS,
                            mode="sequence", sections=tuple((s.start, s.prompt) for s in SHOTS), shots=SHOTS)
    return Video(natural_clip(56, 32, 32, seed=3), FPS, generation)


def test_each_shot_is_a_clip_of_the_signed_file_with_its_prompt_and_seed(tmp_path):
    sound = Sound(click_track(seconds=4.0, rate=44_100), 44_100, "beat.wav")
    # export frames 8..52: the first shot loses its first half, the last its last 4 frames
    result = export_video(sequence_clip(), tmp_path / "sequence.mp4", audio=sound,
                          options=ExportOptions(sign=False, timeline=True, in_frame=8, out_frame=52))
    timeline = otio.adapters.read_from_file(str(result.timeline_path))
    video, audio = timeline.tracks
    clips = list(video)
    assert [c.name for c in clips] == ["opening", "descent", "enter"]
    ranges = [(c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) for c in clips]
    assert ranges == [(0, 8), (8, 24), (32, 12)]  # on the exported file: shot starts 0, 16, 40 less 8
    url = clips[0].media_reference.target_url
    assert otio.url_utils.filepath_from_url(url) == str(result.path.resolve())
    assert all(c.media_reference.target_url == url for c in clips)
    assert all(c.media_reference.available_range.duration.to_frames() == 44 for c in clips)
    about = [c.metadata["studio"] for c in clips]
    assert [(a["prompt"], a["seed"], a["transition"]) for a in about] == [
        (s.prompt, s.seed, s.transition) for s in SHOTS]
    assert about[0]["character"] == "a" and "character" not in about[1] and about[2]["first_frame"] == 40
    assert timeline.duration().to_frames() == 44
    # the sound: one clip of the whole file under the shots, and the beats on the shot they fall in
    assert len(audio) == 1 and audio[0].source_range.duration.to_frames() == 44
    assert sum(len(clip.markers) for clip in clips) >= 4  # 120 BPM over 2.75 s
    for clip in clips:
        lo, count = clip.source_range.start_time.to_frames(), clip.source_range.duration.to_frames()
        assert all(lo <= m.marked_range.start_time.to_frames() < lo + count for m in clip.markers)
        assert all(m.name == "beat" for m in clip.markers)  # the shots are the sections: no section markers


def test_the_whole_clip_as_one_on_request(tmp_path):
    result = export_video(sequence_clip(), tmp_path / "whole.mp4",
                          options=ExportOptions(sign=False, timeline=True, timeline_shots=False))
    timeline = otio.adapters.read_from_file(str(result.timeline_path))
    (video,) = timeline.tracks
    assert len(video) == 1 and video[0].name == "whole.mp4"
    assert [m.name for m in video[0].markers] == [s.prompt for s in SHOTS]  # the shots as section markers
