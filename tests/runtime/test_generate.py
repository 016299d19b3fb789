"""Every family end to end on tiny random weights: sample, stream previews, decode, seeds, tasks."""

from __future__ import annotations

import numpy as np
import pytest

from studio.errors import ModelError
from studio.runtime import VideoRequest, decode, sample
from tests.runtime.clips import colour_image, guide_clip
from tests.runtime.conftest import FAMILIES, I2V_TASK


def _request(**changes) -> VideoRequest:
    values = dict(num_frames=9, height=32, width=32, steps=3, guidance=3.0, seed=7)
    values.update(changes)
    return VideoRequest(**values)


def _check_updates(updates, total: int, num_frames: int = 9) -> None:
    assert [u.step for u in updates] == list(range(1, total + 1))
    assert all(u.total == total for u in updates)
    for update in updates:
        assert update.preview is not None and update.preview.dtype == np.uint8
        clip = update.preview
        assert clip.ndim == 4 and clip.shape[0] == num_frames and clip.shape[-1] == 3
        assert clip.shape[1] <= 32 and clip.shape[2] <= 32


@pytest.mark.parametrize("family", FAMILIES)
def test_text_to_video_streams_every_step_and_is_reproducible(family, tiny_model, tiny_embeds):
    model = tiny_model(family)
    embeds = tiny_embeds(model)
    updates = []
    latents = sample(model, embeds, _request(), on_step=updates.append)
    _check_updates(updates, 3)
    frames = decode(model, latents)
    assert frames.shape == (9, 32, 32, 3) and frames.dtype == np.uint8

    again = decode(model, sample(model, embeds, _request()))
    np.testing.assert_array_equal(frames, again)
    other = sample(model, embeds, _request(seed=8))
    assert not np.array_equal(latents.tensor.numpy(), other.tensor.numpy())
    assert not np.array_equal(frames, decode(model, other))


@pytest.mark.parametrize("family", FAMILIES)
def test_image_to_video(family, tiny_model, tiny_embeds):
    model = tiny_model(family, I2V_TASK[family])
    assert "i2v" in model.capabilities
    updates = []
    latents = sample(
        model, tiny_embeds(model), _request(steps=2, image=colour_image(40, 48)), on_step=updates.append
    )
    _check_updates(updates, 2)
    assert latents.task == "i2v"
    assert decode(model, latents).shape == (9, 32, 32, 3)


def test_wan22_style_one_model_does_text_and_image_to_video(tiny_model, tiny_embeds):
    model = tiny_model("wan", "ti2v")
    assert model.capabilities == {"t2v", "i2v", "v2v"}
    embeds = tiny_embeds(model)
    for request in (_request(steps=2), _request(steps=2, image=colour_image())):
        updates = []
        frames = decode(model, sample(model, embeds, request, on_step=updates.append))
        assert frames.shape == (9, 32, 32, 3) and len(updates) == 2


@pytest.mark.parametrize("family", FAMILIES)
def test_video_to_video(family, tiny_model, tiny_embeds):
    model = tiny_model(family)
    assert "v2v" in model.capabilities
    updates = []
    # A guide clip of another length and size: it is resampled to the request.
    request = _request(steps=4, video=guide_clip(12, 40, 40), strength=0.5)
    latents = sample(model, tiny_embeds(model), request, on_step=updates.append)
    total = updates[0].total
    assert 1 <= total <= 4
    _check_updates(updates, total)
    assert latents.task == "v2v"
    assert decode(model, latents).shape == (9, 32, 32, 3)


@pytest.mark.parametrize("family", ["wan", "cogvideox"])
def test_asking_a_task_the_model_cannot_do_names_what_it_can(family, tiny_model, tiny_embeds):
    t2v = tiny_model(family)
    with pytest.raises(ModelError, match="cannot do image-to-video; it can do text-to-video, video-to-video"):
        sample(t2v, tiny_embeds(t2v), _request(image=colour_image()))
    i2v = tiny_model(family, "i2v")
    with pytest.raises(ModelError, match="cannot do text-to-video; it can do image-to-video"):
        sample(i2v, tiny_embeds(i2v), _request())


def test_previews_off_still_report_every_step(tiny_model, tiny_embeds):
    model = tiny_model("wan")
    updates = []
    sample(model, tiny_embeds(model), _request(preview=False), on_step=updates.append)
    assert [u.step for u in updates] == [1, 2, 3] and all(u.preview is None for u in updates)
