"""Wan VACE: the guide clip as a control video (every step runs, strength is the conditioning scale)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.errors import ModelError
from studio.runtime import VideoRequest, decode, sample
from tests.runtime.clips import colour_image, guide_clip


def _request(**changes) -> VideoRequest:
    values = dict(num_frames=9, height=32, width=32, steps=3, guidance=3.0, seed=7)
    values.update(changes)
    return VideoRequest(**values)


def test_vace_loads_as_its_own_family_with_control_video(tiny_model):
    model = tiny_model("wan-vace")
    assert model.family == "wan-vace" and model.spec.label == "Wan VACE"
    assert model.capabilities == {"t2v", "v2v"}


def test_a_control_video_runs_every_step_and_steers_the_clip(tiny_model, tiny_embeds):
    model = tiny_model("wan-vace")
    embeds = tiny_embeds(model)
    plain = sample(model, embeds, _request())
    updates = []
    guided = sample(model, embeds, _request(video=guide_clip(9, 32, 32), strength=0.5), on_step=updates.append)
    # A control video does not shorten the schedule as video-to-video's strength does.
    assert [u.step for u in updates] == [1, 2, 3] and guided.task == "v2v"
    assert guided.tensor.shape == plain.tensor.shape
    assert not np.allclose(guided.tensor.numpy(), plain.tensor.numpy())
    stronger = sample(model, embeds, _request(video=guide_clip(9, 32, 32), strength=1.0))
    assert not np.allclose(stronger.tensor.numpy(), guided.tensor.numpy())
    assert decode(model, guided).shape == (9, 32, 32, 3)


def test_vace_refuses_a_first_image_clearly(tiny_model, tiny_embeds):
    model = tiny_model("wan-vace")
    with pytest.raises(ModelError, match="cannot do image-to-video"):
        sample(model, tiny_embeds(model), _request(image=colour_image()))


def test_a_reference_image_reaches_vace_and_other_families_refuse_it_clearly(tiny_model, tiny_embeds):
    model = tiny_model("wan-vace")
    embeds = tiny_embeds(model)
    plain = sample(model, embeds, _request())
    updates = []
    referenced = sample(model, embeds, _request(reference=colour_image()), on_step=updates.append)
    assert len(updates) == 3 and referenced.task == "t2v"
    assert referenced.tensor.shape == plain.tensor.shape  # the reference frame is dropped from the clip
    assert not np.allclose(referenced.tensor.numpy(), plain.tensor.numpy())
    wan = tiny_model("wan")
    with pytest.raises(ModelError, match="takes no reference image") as caught:
        sample(wan, tiny_embeds(wan), _request(reference=colour_image()))
    assert "first_frame" in caught.value.hint
