"""A continued segment opens on the frame it continues, carried along the segment's own motion and dissolved into
the segment's frames: the seam is one step of motion, without the redraw's offset or the fresh grain."""

from __future__ import annotations

import numpy as np
import pytest

from studio.directing.motion import frame_changes
from studio.runtime.recipes.sequence import SEAM_BLEND_FRAMES, seam_blend


def _moving_square(frames: int, size: tuple[int, int] = (48, 48), shift: float = 0.0, grain: int | None = None,
                   speed: float = 1.0) -> np.ndarray:
    """A bright square moving right by ``speed`` pixels a frame on a dark background; ``grain``: a seed for
    per-frame noise (a VAE's fresh grain in each decoded frame)."""
    height, width = size
    side = height // 4
    rng = np.random.default_rng(grain)
    clip = np.full((frames, height, width, 3), 40.0, np.float32)
    for t in range(frames):
        left = 4 * side // 5 + speed * t
        columns = np.arange(width, dtype=np.float32)
        cover = np.clip(np.minimum(columns - left + 1, left + side - columns), 0, 1)  # subpixel edges
        clip[t, height // 3: height // 3 + side] += 160.0 * cover[None, :, None]
        if grain is not None:
            clip[t] += rng.normal(0, 2.0, clip[t].shape)
    return np.clip(np.rint(clip + shift), 0, 255).astype(np.uint8)


def _centre_x(frame: np.ndarray) -> float:
    weight = np.clip(frame.astype(np.float32).mean(-1) - 120.0, 0, None)
    return float((weight.sum(0) * np.arange(frame.shape[1])).sum() / weight.sum())


def test_the_seam_is_one_step_of_the_segments_motion_and_the_rest_is_the_model_s():
    truth = _moving_square(17)
    given = truth[0]
    # the model's redraw of frame 0 and its motion: 6/255 too bright, with its own grain in every frame
    clip = _moving_square(17, shift=6.0, grain=1)
    blended = seam_blend(clip, given)
    assert np.array_equal(blended[0], given)
    assert np.array_equal(blended[SEAM_BLEND_FRAMES:], clip[SEAM_BLEND_FRAMES:])
    # the object is where the model draws it in every blended frame: the carried frame follows the motion (a
    # plain dissolve would leave a fading copy behind: at frame 1, 7/8 of the picture a pixel back)
    for t in range(1, SEAM_BLEND_FRAMES):
        assert abs(_centre_x(blended[t]) - _centre_x(clip[t])) < 0.25, t
    # the seam: one step of motion (as between the true frames), where the model's frame 1 after the given frame
    # is motion, offset and grain
    motion = frame_changes(truth[:2])[0]
    raw = frame_changes(np.stack([given, clip[1]]))[0]
    seam = frame_changes(blended[:2])[0]
    assert raw > 2 * motion
    assert seam < motion + 0.25 * (raw - motion)
    # the offset and grain come in a share per frame: no step in the blend is larger than the model's own steps
    assert frame_changes(blended).max() <= frame_changes(clip).max() + 1e-6


def test_large_frames_measure_motion_on_a_smaller_picture_and_still_follow_it():
    clip = _moving_square(9, size=(360, 640), shift=5.0, grain=2, speed=5.0)
    given = _moving_square(1, size=(360, 640), speed=5.0)[0]
    blended = seam_blend(clip, given, frames=8)
    for t in range(1, 8):
        assert abs(_centre_x(blended[t]) - _centre_x(clip[t])) < 1.0, t


@pytest.mark.parametrize("image", [np.zeros((8, 8, 3), np.uint8), np.zeros((48, 48), np.uint8)])
def test_a_picture_of_another_shape_leaves_the_clip_alone(image):
    clip = _moving_square(9)
    assert seam_blend(clip, image) is clip
    one = clip[:1]
    assert seam_blend(one, clip[0]) is one  # a one-frame clip has no seam to blend
