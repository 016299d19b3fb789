"""The typed generation record a clip carries, as provenance, the signed manifest and the OTIO export read it."""

from __future__ import annotations

import dataclasses

import numpy as np
import opentimelineio as otio
import pytest

from studio.media.export import ExportOptions, export_video
from studio.media.provenance import Provenance
from studio.media.verify import verify_file
from studio.values import Generation, Sound, Video
from tests.media.clips import natural_clip, tone

FPS = 24

MADE = Generation(
    model="wan-tiny", model_hash="sha256:" + "ab" * 32, prompt="a red kite over dunes", negative="blurry",
    sections=((0.0, "a red kite"), (1.0, "a red kite over dunes")), blend=0.25, seed=1234, steps=4,
    guidance=5.0, width=64, height=48, num_frames=40, fps=FPS, mode="i2v", reference_image="/pics/kite.png",
    reference_use="first_frame",
)


def test_a_misspelt_field_fails_where_it_is_written_or_read():
    with pytest.raises(TypeError, match="modle"):
        Generation(modle="wan-tiny")  # type: ignore[call-arg]
    video = Video(np.zeros((2, 8, 8, 3), np.uint8), FPS, MADE)
    with pytest.raises(AttributeError):
        video.generation.sead  # type: ignore[union-attr]  # noqa: B018
    with pytest.raises(dataclasses.FrozenInstanceError):
        MADE.seed = 1  # type: ignore[misc]


def test_provenance_takes_every_field_it_signs_from_the_record():
    provenance = Provenance.from_generation(MADE, graph_hash="sha256:" + "cd" * 32, audio_source="/music.wav")
    assert provenance.parameters() == {
        "model": {"name": "wan-tiny", "hash": "sha256:" + "ab" * 32},
        "prompts": ["a red kite over dunes", "blurry"],
        "seed": 1234,
        "settings": {"steps": 4, "guidance": 5.0, "size": "64x48", "num_frames": 40, "fps": FPS, "mode": "i2v",
                     "schedule": [[0.0, "a red kite"], [1.0, "a red kite over dunes"]], "blend": 0.25,
                     "reference_use": "first_frame"},
        "graph_hash": "sha256:" + "cd" * 32,
    }
    # adapters and the camera shape the pictures too; a plain text-to-video record adds nothing it lacks
    steered = dataclasses.replace(MADE, adapters=("film-grain",), camera="pan_right", camera_mode="guide")
    extra = Provenance.from_generation(steered).settings
    assert (extra["adapters"], extra["camera"], extra["camera_mode"]) == (["film-grain"], "pan_right", "guide")
    plain = Provenance.from_generation(Generation(model="m", prompt="p", seed=1, steps=2))
    assert plain.settings == {"steps": 2}
    assert provenance.ingredients == ["/pics/kite.png", "/music.wav"]
    # a clip that does not say what made it signs as such, with nothing made up
    unknown = Provenance.from_generation(None)
    assert unknown.parameters()["model"] == {"name": "unknown", "hash": None}
    assert unknown.settings == {} and unknown.prompts == [] and unknown.ingredients == []


def test_export_signs_and_marks_what_the_record_says(tmp_path):
    video = Video(natural_clip(40, 64, 48, seed=5), FPS, dataclasses.replace(MADE, reference_image=None))
    result = export_video(
        video, tmp_path / "kite.mp4", audio=Sound(tone(40 / FPS, 48000), 48000),
        options=ExportOptions(timeline=True),
    )
    generation = verify_file(result.path, ["local"]).generation
    assert generation["model"]["name"] == "wan-tiny" and generation["seed"] == 1234
    assert generation["settings"]["size"] == "64x48" and generation["settings"]["mode"] == "i2v"
    timeline = otio.adapters.read_from_file(str(result.timeline_path))
    picture = timeline.tracks[0][0]
    sections = [(round(m.marked_range.start_time.value), m.name) for m in picture.markers if m.name != "beat"]
    assert sections == [(0, "a red kite"), (24, "a red kite over dunes")]
    assert list(timeline.metadata["studio"]["prompts"]) == ["a red kite over dunes", "blurry"]


def test_a_sequence_records_each_shot_and_every_character_picture():
    from studio.media.provenance import Provenance
    from studio.values import Generation, ShotRecord

    made = Generation(model="m", prompt="a red circle moves left", mode="sequence", reference_image="red.png",
                      character_images=("red.png", "blue.png"),
                      shots=(ShotRecord("open", 0.0, "a red circle moves left", 7, "cut", "a"),
                             ShotRecord("meet", 1.5, "a blue square moves up", 8, "continue", "b")))
    provenance = Provenance.from_generation(made)
    shots = provenance.parameters()["settings"]["shots"]
    assert [(s["name"], s["start"], s["seed"], s["transition"], s["character"]) for s in shots] == [
        ("open", 0.0, 7, "cut", "a"), ("meet", 1.5, 8, "continue", "b")]
    assert [str(i) for i in provenance.ingredients] == ["red.png", "blue.png"]  # each picture once
