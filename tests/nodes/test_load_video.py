"""Load Video: a clip from disk (decoded within bounds) as a guide, a first frame, or frames to continue from."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engine import Engine
from studio.errors import MediaError
from studio.graph import Graph, NodeRegistry
from studio.media.encode import encode_video
from studio.media.video_read import UntrustedVideo
from studio.values import Picture, Video
from tests.media.clips import natural_clip


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    frames = natural_clip(24, 64, 96, seed=5)
    frames[:12, :8, :8] = (250, 10, 10)  # a red corner in the first half only
    path = tmp_path_factory.mktemp("clips") / "take.mp4"
    encode_video(frames, 12, path)
    return path, frames


def run(path, **params):
    registry = NodeRegistry.default()
    graph = Graph()
    graph.add_node(registry.get("studio.LoadVideo"), "v", params={"path": str(path), **params})
    return Engine(registry).run(graph, ["v"])


def test_it_reads_the_frames_the_rate_and_the_first_and_last_pictures(clip_file):
    path, frames = clip_file
    result = run(path)
    assert result.ok, result.failed
    out = result.outputs["v"]
    video, first, last = out["video"], out["first_frame"], out["last_frame"]
    assert isinstance(video, Video) and video.num_frames == 24 and float(video.fps) == 12.0
    assert video.size == (96, 64)
    assert isinstance(first, Picture) and first.source == str(path)
    assert np.abs(first.pixels.astype(int) - frames[0]).mean() < 8  # H.264, not bit-exact
    assert first.pixels[:8, :8, 0].mean() > 200 and last.pixels[:8, :8, 0].mean() < 200
    part = run(path, start=20, frames=10, fps=24.0).outputs["v"]["video"]
    assert part.num_frames == 4 and float(part.fps) == 24.0  # frames 20..23: what is there


def test_bad_paths_and_ranges_say_which_port(clip_file, tmp_path):
    path, _ = clip_file
    missing = run(tmp_path / "nope.mp4")
    assert not missing.ok and "does not exist" in missing.failed["v"]
    past = run(path, start=500)
    assert not past.ok and "no frames from frame 500" in past.failed["v"]
    text = tmp_path / "fake.mp4"
    text.write_text("not a video")
    assert not run(text).ok


def test_the_reader_refuses_more_pictures_than_its_memory_bound_before_decoding(clip_file):
    path, _ = clip_file
    with UntrustedVideo(path) as clip, pytest.raises(MediaError, match="would take"):
        clip.rgb(max_frames=1000, max_bytes=64 * 96 * 3 * 10)
