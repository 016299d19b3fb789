"""Camera paths: keyframe interpolation, easing, presets, shake, signals, transforms and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.directing import DirectingError
from studio.directing.camera import (
    CHANNELS,
    EASES,
    PRESETS,
    build_path,
    ease_fraction,
    interpolate,
    parse_keyframes,
)
from studio.values import Signal

KEYS = [
    {"time": 0, "pan_x": 0.0, "zoom": 1.0},
    {"time": 1, "pan_x": 0.4, "zoom": 2.0, "ease": "smooth"},
    {"time": 2, "pan_x": 0.5, "roll": 10, "ease": "ease_in_out"},
    {"time": 3, "pan_x": -0.2, "zoom": 1.5, "ease": "linear"},
]


def test_values_are_exact_at_keyframes_for_every_ease():
    for ease in EASES:
        data = [dict(k, ease=ease) if i else k for i, k in enumerate(KEYS)]
        track = build_path("keyframes", data).track(num_frames=25, fps=8)  # keyframes land on frames 0, 8, 16, 24
        keys = parse_keyframes(data)
        for key in keys:
            frame = int(key.time * 8)
            for name in CHANNELS:
                assert track.channel(name)[frame] == pytest.approx(key.values[name], abs=1e-9), (ease, name)


def test_missing_channels_keep_the_previous_value_and_the_ends_hold():
    keys = parse_keyframes(KEYS)
    assert keys[2].values["zoom"] == 2.0 and keys[3].values["roll"] == 10.0
    times = np.array([-1.0, 5.0])
    assert interpolate(keys, "pan_x", times).tolist() == pytest.approx([0.0, -0.2])


def test_easing_is_monotone_and_smooth_spline_does_not_overshoot():
    u = np.linspace(0, 1, 201)
    for ease in ("linear", "ease_in", "ease_out", "ease_in_out"):
        curve = ease_fraction(ease, u)
        assert curve[0] == 0 and curve[-1] == 1 and np.all(np.diff(curve) >= 0), ease
    # monotone keyframes stay monotone under the spline (no wobble past a keyframe)
    keys = parse_keyframes([{"time": 0, "pan_x": 0}, {"time": 1, "pan_x": 0.1, "ease": "smooth"},
                            {"time": 1.5, "pan_x": 0.9, "ease": "smooth"}, {"time": 4, "pan_x": 1.0, "ease": "smooth"}])
    values = interpolate(keys, "pan_x", np.linspace(0, 4, 400))
    assert np.all(np.diff(values) >= -1e-12) and values.max() <= 1.0 + 1e-12
    # ease_in starts slower than linear, ease_out faster
    assert ease_fraction("ease_in", np.array([0.25]))[0] < 0.25 < ease_fraction("ease_out", np.array([0.25]))[0]


def test_zoom_interpolates_in_log_space():
    keys = parse_keyframes([{"time": 0, "zoom": 1.0}, {"time": 2, "zoom": 4.0}])
    assert interpolate(keys, "zoom", np.array([1.0]))[0] == pytest.approx(2.0)


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_start_neutral_and_move_the_right_way(preset):
    track = build_path(preset, amount=0.3, ease="linear").track(num_frames=17, fps=16)
    first = track.matrix(0, 64, 48)
    last = track.matrix(16, 64, 48)
    centre = np.array([32.0, 24.0, 1.0])
    if preset != "handheld":
        np.testing.assert_allclose(first, np.eye(3), atol=1e-9)
    moved = last @ centre
    moved = moved[:2] / moved[2] - centre[:2]
    corner = last @ np.array([0.0, 0.0, 1.0])
    corner = corner[:2] / corner[2]
    expect = {
        "pan_left": lambda: moved[0] > 10 and abs(moved[1]) < 1e-6,  # content slides right
        "pan_right": lambda: moved[0] < -10,
        "tilt_up": lambda: moved[1] > 5,
        "tilt_down": lambda: moved[1] < -5,
        "crane_up": lambda: moved[1] > 5,
        "crane_down": lambda: moved[1] < -5,
        "zoom_in": lambda: corner[0] < -5 and np.linalg.norm(moved) < 1e-6,  # corners pushed out
        "dolly_in": lambda: corner[0] < -5,
        "zoom_out": lambda: corner[0] > 5,
        "dolly_out": lambda: corner[0] > 2,
        "orbit_right": lambda: abs(last[2, 0]) > 1e-4,  # the subject plane turns (perspective term)
        "orbit_left": lambda: abs(last[2, 0]) > 1e-4,
        "static": lambda: np.allclose(last, np.eye(3)),
        "handheld": lambda: 0 < np.abs(track.values[:, 0]).max() < 0.05,
    }
    assert expect[preset](), (preset, moved, corner)


def test_presets_stretch_over_any_clip_length():
    path = build_path("pan_right", amount=0.2, ease="linear")
    for frames, fps in ((9, 8), (81, 16), (121, 24)):
        pan = path.track(frames, fps).channel("pan_x")
        assert pan[0] == 0 and pan[-1] == pytest.approx(0.2)


def test_shake_is_seeded_smooth_and_follows_its_signal():
    a = build_path("static", shake=1.0, shake_seed=3).track(48, 24).values
    b = build_path("static", shake=1.0, shake_seed=3).track(48, 24).values
    c = build_path("static", shake=1.0, shake_seed=4).track(48, 24).values
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.abs(np.diff(a[:, 0])).max() < 0.01  # smooth: no jumps frame to frame
    gate = Signal(np.r_[np.zeros(24), np.ones(24)], 24)
    gated = build_path("static", shake=1.0, shake_seed=3, shake_signal=gate).track(48, 24).values
    assert np.all(gated[:24, 0] == 0) and np.abs(gated[24:, 0]).max() > 0


def test_zoom_signal_pulses_on_its_frames():
    beat = np.zeros(16, np.float32)
    beat[[4, 12]] = 1.0
    track = build_path("static", zoom_signal=Signal(beat, 16), zoom_pulse=0.2).track(16, 16)
    zoom = track.channel("zoom")
    assert zoom[4] == pytest.approx(1.2) and zoom[12] == pytest.approx(1.2) and zoom[0] == pytest.approx(1.0)


def test_roll_and_matrix_inverse_agree_with_source_lookup():
    track = build_path("keyframes", [{"time": 0}, {"time": 1, "roll": 20, "zoom": 1.3, "pan_x": 0.1,
                                                  "orbit": 12, "crane": 0.05}]).track(9, 8)
    m = track.matrix(8, 64, 48)
    xs, ys = np.array([5.0, 40.0, 60.0]), np.array([7.0, 20.0, 44.0])
    sx, sy = track.source_coords(8, 64, 48, xs, ys)
    back = m @ np.stack([sx, sy, np.ones(3)])
    np.testing.assert_allclose(back[:2] / back[2], np.stack([xs, ys]), atol=1e-9)
    rolled = build_path("keyframes", [{"time": 0}, {"time": 1, "roll": 20}]).track(9, 8).matrix(8, 64, 48)
    # camera turns clockwise, so content turns counter-clockwise: right of centre moves up (y is down)
    assert math.degrees(math.atan2(rolled[1, 0], rolled[0, 0])) == pytest.approx(-20)


def test_parallax_moves_near_things_more_on_a_dolly():
    track = build_path("dolly_in", amount=0.3, parallax=1.0).track(9, 8)
    xs = np.array([0.0, 0.0])
    ys = np.array([2.0, 46.0])  # top (far) and bottom (near) at the left edge
    sx, _ = track.source_coords(8, 64, 48, xs, ys)
    # near content is magnified more, so the left edge of the frame shows content closer to the centre
    assert sx[1] > sx[0] > 0


@pytest.mark.parametrize("data, message", [
    ([], "empty"),
    ([{"time": 1}, {"time": 0.5}], "out of order"),
    ([{"time": 0}, {"time": 0}], "out of order"),
    ([{"pan_x": 1}], "needs a 'time'"),
    ([{"time": 0, "zoom": 0}], "outside"),
    ([{"time": 0, "tilt": 1}], "unknown field"),
    ([{"time": 0, "ease": "bouncy"}], "unknown ease"),
    ([{"time": 0, "pan_x": "left"}], "must be a number"),
    ("pan left", "must be a list"),
])
def test_bad_keyframes_are_refused_clearly(data, message):
    with pytest.raises(DirectingError, match=message):
        build_path("keyframes", data)


def test_unknown_preset_and_bad_parallax():
    with pytest.raises(DirectingError, match="unknown camera preset"):
        build_path("spin")
    with pytest.raises(DirectingError, match="parallax"):
        build_path("static", parallax=2.0)
