"""Conditioning reaches the clip: on tiny random-weight pipelines, two different reference pictures (or guide
clips) give different clips and the same one gives the same clip, at the same seed. A pipeline call that
dropped the picture, or swapped in a grey one or a black guide, would give the same clip for both."""

from __future__ import annotations

import numpy as np
import pytest

from studio.runtime import VideoRequest, decode, sample
from tests.runtime.clips import colour_image, guide_clip
from tests.runtime.conftest import FAMILIES, I2V_TASK

# Mean absolute difference, in 8-bit levels, two clips from different conditioning must at least have.
# Measured on these tiny models (2 steps, 9 frames of 32x32): 1.7 to 13 levels; the same input gives 0.
# VACE's random control branch moves the clip least (0.24 levels between a black and a textured control).
APART = 1.0
APART_BY_FAMILY = {"wan-vace": 0.1}


def _request(**changes) -> VideoRequest:
    values = dict(num_frames=9, height=32, width=32, steps=2, guidance=3.0, seed=7)
    values.update(changes)
    return VideoRequest(**values)


def _clip(model, embeds, **changes) -> np.ndarray:
    latents = sample(model, embeds, _request(**changes))
    return decode(model, latents).astype(np.float32)


def _pictures() -> dict[str, np.ndarray]:
    ramp = colour_image(32, 32)
    turned = np.ascontiguousarray(ramp[::-1, ::-1])
    return {"grey": np.full((32, 32, 3), 128, np.uint8), "ramp": ramp, "turned": turned}


I2V = [(family, I2V_TASK[family]) for family in FAMILIES] + [("wan", "ti2v")]


@pytest.mark.parametrize(("family", "task"), I2V, ids=[f"{f}-{t}" for f, t in I2V])
def test_the_reference_picture_reaches_the_clip(family, task, tiny_model, tiny_embeds):
    model = tiny_model(family, task)
    embeds = tiny_embeds(model)
    pictures = _pictures()
    clips = {name: _clip(model, embeds, image=picture) for name, picture in pictures.items()}
    assert np.array_equal(_clip(model, embeds, image=pictures["ramp"].copy()), clips["ramp"])
    for first, second in (("grey", "ramp"), ("ramp", "turned"), ("grey", "turned")):
        apart = float(np.abs(clips[first] - clips[second]).mean())
        assert apart > APART, f"{family} {task}: {first} and {second} pictures give clips {apart:.3f} levels apart"


GUIDED = [*FAMILIES, "wan-vace"]


@pytest.mark.parametrize("family", GUIDED)
def test_the_guide_clip_reaches_the_clip(family, tiny_model, tiny_embeds):
    model = tiny_model(family)
    embeds = tiny_embeds(model)
    textured = guide_clip(9, 32, 32)
    guides = {"black": np.zeros_like(textured), "textured": textured,
              "turned": np.ascontiguousarray(textured[:, ::-1])}
    clips = {name: _clip(model, embeds, video=guide, strength=0.7) for name, guide in guides.items()}
    assert np.array_equal(_clip(model, embeds, video=textured.copy(), strength=0.7), clips["textured"])
    for first, second in (("black", "textured"), ("textured", "turned")):
        apart = float(np.abs(clips[first] - clips[second]).mean())
        assert apart > APART_BY_FAMILY.get(family, APART), f"{family}: {first} and {second} guides give clips {apart:.3f} levels apart"
