"""Guide warping, noise warping and the global-motion estimator, on synthetic clips with known motion."""

from __future__ import annotations

import numpy as np
import pytest

from studio.directing import DirectingError
from studio.directing.camera import build_path
from studio.directing.motion import adherence, phase_shifts, similarity_steps
from studio.directing.warp import guide_clip, warped_noise


def textured(width=128, height=96, seed=0) -> np.ndarray:
    """Smooth random texture: enough corners to track, no aliasing under subpixel shifts."""
    import cv2

    small = np.random.default_rng(seed).integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def test_phase_correlation_recovers_integer_and_subpixel_shifts():
    import cv2

    image = textured()
    shifts = [(3.0, 0.0), (-2.5, 1.25), (0.4, -3.6)]
    frames = [image]
    x = y = 0.0
    for dx, dy in shifts:
        x, y = x + dx, y + dy
        frames.append(cv2.warpAffine(image, np.float32([[1, 0, x], [0, 1, y]]), (128, 96),
                                     flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
    found = phase_shifts(np.stack(frames))
    np.testing.assert_allclose(found, shifts, atol=0.5)


@pytest.mark.parametrize("preset", ["pan_left", "pan_right", "tilt_up", "zoom_in", "dolly_out", "crane_up",
                                    "orbit_right", "handheld"])
def test_warp_then_estimate_round_trip_within_half_a_pixel(preset):
    track = build_path(preset, amount=0.2, ease="ease_in_out").track(num_frames=9, fps=8)
    clip = guide_clip(textured(), track)
    assert clip.shape == (9, 96, 128, 3) and clip.dtype == np.uint8
    result = adherence(clip, track)
    assert result.mean_error_px < 0.5, result.as_dict()
    assert result.requested_px > 0.2
    if preset != "handheld":  # a shake goes back and forth: nothing is left once summed
        assert result.direction_agreement > 0.99, result.as_dict()  # a zoom agrees too: every point moves out


def test_roll_is_measured_too():
    track = build_path("keyframes", [{"time": 0}, {"time": 1, "roll": 8, "ease": "linear"}]).track(9, 8)
    clip = guide_clip(textured(), track)
    steps = similarity_steps(clip)
    angle = np.degrees(np.arctan2(steps[:, 1, 0], steps[:, 0, 0]))
    np.testing.assert_allclose(angle, -1.0, atol=0.1)  # 8 degrees over 8 steps, content counter-clockwise
    assert adherence(clip, track).mean_error_px < 0.5


def test_a_clip_moving_the_wrong_way_scores_badly():
    left = build_path("pan_left", amount=0.2).track(9, 8)
    right = build_path("pan_right", amount=0.2).track(9, 8)
    clip = guide_clip(textured(), left)
    wrong = adherence(clip, right)
    assert wrong.direction_agreement < -0.99 and wrong.mean_error_px > 2 * wrong.requested_px * 0.9


def test_static_clip_measures_no_motion_and_length_must_match():
    track = build_path("static").track(5, 8)
    clip = np.repeat(textured()[None], 5, axis=0)
    assert adherence(clip, track).mean_error_px < 0.05
    with pytest.raises(DirectingError, match="frames"):
        adherence(clip[:3], track)


def test_parallax_guide_differs_from_flat_and_keeps_the_top_steadier():
    flat = guide_clip(textured(), build_path("dolly_in", amount=0.4).track(5, 8))
    deep = guide_clip(textured(), build_path("dolly_in", amount=0.4, parallax=1.0).track(5, 8))
    assert not np.array_equal(flat[-1], deep[-1])
    np.testing.assert_array_equal(flat[0], deep[0])


def test_warped_noise_stays_unit_gaussian_and_follows_the_pan():
    track = build_path("pan_left", amount=0.5, ease="linear").track(num_frames=17, fps=16)
    noise = warped_noise(track, channels=8, latent_frames=5, latent_height=16, latent_width=16, temporal=4, seed=1)
    assert noise.shape == (8, 5, 16, 16) and noise.dtype == np.float32
    assert abs(float(noise.mean())) < 0.05 and abs(float(noise.std()) - 1.0) < 0.05
    # content slides right by 0.5 * 16 / 4 = 2 latent pixels per latent frame: frame 1 shifted matches frame 0
    a, b = noise[:, 0, :, :-2], noise[:, 1, :, 2:]
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
    # without motion the noise would be the same every frame; with it, unshifted frames decorrelate
    assert abs(np.corrcoef(noise[:, 0].ravel(), noise[:, 1].ravel())[0, 1]) < 0.3
    zoomed = warped_noise(build_path("zoom_in", amount=0.5).track(17, 16), 8, 5, 16, 16, 4, seed=1)
    assert abs(float(zoomed[:, -1].std()) - 1.0) < 0.08  # repeated samples under a zoom stay N(0, 1)
    again = warped_noise(track, 8, 5, 16, 16, 4, seed=1)
    np.testing.assert_array_equal(noise, again)


def disc_picture(size=64) -> np.ndarray:
    """What the embedded model draws: one soft-edged shape on a plain background, hardly a corner to track."""
    import cv2

    picture = np.full((size, size, 3), 128, np.uint8)
    cv2.circle(picture, (size // 2, size // 2), size // 6, (225, 30, 30), -1)
    return cv2.GaussianBlur(picture, (0, 0), 1.0)


@pytest.mark.parametrize("preset", ["pan_left", "tilt_up", "zoom_in", "dolly_out"])
def test_flat_frames_are_measured_too(preset):
    track = build_path(preset, amount=0.3).track(num_frames=17, fps=16)
    result = adherence(guide_clip(disc_picture(), track), track)
    assert result.mean_error_px < 0.5, result.as_dict()


def test_a_zoom_pulse_is_found_on_its_frame():
    from studio.directing.signal import pulses
    from studio.values import Signal

    beats = (4, 12)
    track = build_path("static", zoom_signal=Signal(pulses(beats, 17, 1.0), 16), zoom_pulse=0.25).track(17, 16)
    steps = similarity_steps(guide_clip(disc_picture(), track))
    scale = np.hypot(steps[:, 0, 0], steps[:, 1, 0])  # step t-1 -> t
    assert sorted(int(i) + 1 for i in np.argsort(scale)[-2:]) == list(beats)
    assert scale.max() == pytest.approx(1.25, abs=0.01)
