"""On the embedded model: the camera goes where the path says, zoom grows the object, beats land, colour survives.

Skipped while 'embedded' is the random-weight placeholder: its clips are noise, so any figure would be too.
"""

from __future__ import annotations

import numpy as np
import pytest

from studio.directing.camera import build_path
from studio.directing.motion import adherence, similarity_steps
from studio.directing.signal import pulses
from studio.values import Signal

pytestmark = pytest.mark.slow

SIZE, FRAMES, FPS, STEPS = 64, 17, 16.0, 20
# The embedded model's clip changes once per latent frame (its decoder holds each for 4 frames), so
# motion is compared every 4th frame: what it can follow, not its staircase.
STRIDE = 4
PROMPT = "a red circle on a gray background"


@pytest.fixture(scope="module")
def embedded():
    from studio.runtime import LoadOptions, load_model
    from studio.runtime.loading import embedded_folder

    if not (embedded_folder() / "model_index.json").is_file():  # checked first: no placeholder build just to skip
        pytest.skip("the embedded model is not trained yet (resources/models/studio-tiny is missing): "
                    "adherence on the random-weight placeholder would only measure noise")
    model = load_model("embedded", LoadOptions(device="cpu"))
    if model.is_placeholder:
        pytest.skip("the embedded model is still the random-weight placeholder (resources/models/studio-tiny "
                    "is not there yet): adherence would only measure noise")
    return model


def red_disc_picture() -> np.ndarray:
    import cv2

    picture = np.full((SIZE, SIZE, 3), 128, np.uint8)
    cv2.circle(picture, (SIZE // 2, SIZE // 2), SIZE // 6, (225, 30, 30), -1)
    return picture


def render(model, preset: str, method: str = "guide", strength: float = 0.45, **path):
    from studio.runtime.recipes.steering import render_along

    track = build_path(preset, **path).track(FRAMES, FPS)
    clip = render_along(model, PROMPT, track, method, width=SIZE, height=SIZE, steps=STEPS, guidance=5.0, seed=1,
                        strength=strength, picture=red_disc_picture())
    return clip, track


@pytest.mark.parametrize("preset, sign", [("pan_left", 1.0), ("pan_right", -1.0)])
def test_the_camera_pans_the_way_the_path_says(embedded, preset, sign):
    clip, track = render(embedded, preset, amount=0.3)
    result = adherence(clip, track, stride=STRIDE)
    moved = similarity_steps(clip[::STRIDE])[:, 0, 2].sum()
    assert np.sign(moved) == sign, result.as_dict()  # pan left: content slides right
    assert result.direction_agreement > 0.8, result.as_dict()
    assert result.mean_error_px < result.requested_px, result.as_dict()  # better than standing still


def test_zoom_in_grows_the_object(embedded):
    clip, _ = render(embedded, "zoom_in", amount=0.3)
    assert red_area(clip[-1]) > 1.3 * red_area(clip[0])


def test_a_beat_driven_zoom_pulse_lands_on_the_beats_latent_frame(embedded):
    # Beats on frames 4 and 12: each is the last frame of a latent frame (the model shows latent k on
    # frames 4k-3..4k), so the pulse must show on the beat and be gone by the next latent frame.
    beats = (4, 12)
    signal = Signal(pulses(beats, FRAMES, decay_frames=1.0), FPS)
    # Low strength: the model's own sizes change monotonically (grows, shrinks), so a stronger pass smooths
    # the pulses away; 0.2 keeps them (about 1.2x the area on each beat).
    clip, _ = render(embedded, "static", strength=0.2, zoom_signal=signal, zoom_pulse=0.25)
    area = np.array([red_area(frame) for frame in clip], dtype=float)
    for beat in beats:
        assert area[beat] > 1.15 * area[beat - STRIDE] and area[beat] > 1.15 * area[beat + STRIDE], area


def red_area(frame) -> int:
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return int(((r > 150) & (g < 110) & (b < 110)).sum())


def test_the_reference_colour_and_shape_survive_to_the_last_frame(embedded):
    clip, _ = render(embedded, "pan_right", method="noise", amount=0.2)
    last = clip[-1].astype(int)
    red = (last[..., 0] > 150) & (last[..., 1] < 110) & (last[..., 2] < 110)
    assert red.sum() > 0.5 * np.pi * (SIZE / 6) ** 2  # at least half the disc's area is still red
    ys, xs = np.nonzero(red)
    assert (xs.max() - xs.min()) / max(1, ys.max() - ys.min()) == pytest.approx(1.0, abs=0.45)  # still round
