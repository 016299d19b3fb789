"""A continued segment's offset from the frame it continues fades out, so the seam is a step of motion."""

from __future__ import annotations

import numpy as np

from studio.directing.motion import frame_changes
from studio.runtime.recipes.sequence import SEAM_FADE_FRAMES, seam_fade


def _moving_square(frames: int, shift: float = 0.0) -> np.ndarray:
    clip = np.full((frames, 32, 32, 3), 40.0, np.float32)
    for t in range(frames):
        clip[t, 10:20, 4 + t : 14 + t] = 200.0
    return np.clip(clip + shift, 0, 255).astype(np.uint8)


def test_the_redrawn_frame_matches_the_given_one_and_the_offset_fades_to_nothing():
    truth = _moving_square(17)
    given = truth[0]
    redrawn = _moving_square(17, shift=6.0)  # the model's redraw of frame 0 and its motion, 6/255 too bright
    faded = seam_fade(redrawn, given)
    assert np.array_equal(faded[0], given)
    assert np.array_equal(faded[SEAM_FADE_FRAMES:], redrawn[SEAM_FADE_FRAMES:])  # the rest as the model drew it
    # the seam (the given frame, then the segment's frame 1): about one step of motion, not motion plus offset
    before = frame_changes(np.stack([given, redrawn[1]]))[0]
    after = frame_changes(np.stack([given, faded[1]]))[0]
    motion = frame_changes(truth[:2])[0]
    assert after < before
    assert abs(after - motion) < abs(before - motion)
    # no step inside the fade is larger than the seam's old step
    assert frame_changes(faded).max() <= before + 1e-6


def test_a_clip_of_another_size_is_left_alone():
    clip = _moving_square(9)
    assert seam_fade(clip, np.zeros((8, 8, 3), np.uint8)) is clip
