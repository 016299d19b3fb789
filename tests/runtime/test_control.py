"""Cancellation, prompt reuse, request validation and out-of-memory handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.errors import Cancelled, ModelError, OutOfMemoryError
from studio.runtime import VideoRequest, decode, encode_prompt, sample
from tests.runtime.clips import colour_image


def _request(**changes) -> VideoRequest:
    values = dict(num_frames=9, height=32, width=32, steps=4, guidance=3.0, seed=3)
    values.update(changes)
    return VideoRequest(**values)


def test_cancel_at_step_two_of_four_stops_there(tiny_model, tiny_embeds):
    model = tiny_model("wan")
    calls = []
    model.pipe.transformer.register_forward_hook(lambda *a: calls.append(1))
    steps_seen = []
    with pytest.raises(Cancelled):
        sample(
            model,
            tiny_embeds(model),
            _request(),
            on_step=lambda u: steps_seen.append(u.step),
            is_cancelled=lambda: len(steps_seen) >= 2,
        )
    assert steps_seen == [1, 2]
    assert len(calls) == 2 * 2  # two steps, conditional and unconditional pass each; no decode followed
    model.pipe.transformer._forward_hooks.clear()


def test_cancel_before_start_runs_nothing(tiny_model, tiny_embeds):
    model = tiny_model("wan")
    seen = []
    with pytest.raises(Cancelled):
        sample(model, tiny_embeds(model), _request(), on_step=seen.append, is_cancelled=lambda: True)
    assert seen == []


def test_cancel_without_a_step_callback(tiny_model, tiny_embeds):
    model = tiny_model("ltx")
    polls = []

    def cancelled() -> bool:
        polls.append(1)
        return len(polls) > 2  # the pre-check, then step 1; step 2 cancels

    with pytest.raises(Cancelled):
        sample(model, tiny_embeds(model), _request(), is_cancelled=cancelled)
    assert len(polls) == 3


@pytest.mark.parametrize("family", ["wan", "ltx", "cogvideox"])
def test_prompt_embeds_are_reused_not_recomputed(family, tiny_model):
    model = tiny_model(family)
    embeds = encode_prompt(model, "a blue bird flying", "dark", guidance=3.0)
    assert embeds.nbytes > 0
    encoder_calls = []
    hook = model.pipe.text_encoder.register_forward_hook(lambda *a: encoder_calls.append(1))
    try:
        first = sample(model, embeds, _request(steps=2, seed=1))
        second = sample(model, embeds, _request(steps=2, seed=2))
    finally:
        hook.remove()
    assert encoder_calls == []
    assert not torch.equal(first.tensor, second.tensor)


def test_guidance_needs_negative_embeds(tiny_model):
    model = tiny_model("wan")
    no_guidance = encode_prompt(model, "a cat", guidance=1.0)
    assert not any(name.startswith("negative") for name in no_guidance.tensors)
    sample(model, no_guidance, _request(steps=1, guidance=1.0))
    with pytest.raises(ModelError, match="negative prompt"):
        sample(model, no_guidance, _request(steps=1, guidance=4.0))


def test_embeds_from_another_model_are_refused(tiny_model, tiny_embeds):
    with pytest.raises(ModelError, match="another model"):
        sample(tiny_model("wan"), tiny_embeds(tiny_model("ltx")), _request())


@pytest.mark.parametrize(
    ("family", "changes", "expected"),
    [
        ("wan", {"num_frames": 10}, "num_frames must be 4k\\+1 \\(got 10; nearest: 9 or 13\\)"),
        ("wan", {"height": 40}, "height must be a multiple of 16 \\(got 40; nearest: 32 or 48\\)"),
        ("wan", {"width": 8}, "width must be a multiple of 16 \\(got 8; nearest: 16\\)"),
        ("ltx", {"height": 48}, "height must be a multiple of 32 \\(got 48; nearest: 32 or 64\\)"),
        ("cogvideox", {"num_frames": 12}, "nearest: 9 or 13"),
        ("wan", {"steps": 0}, "steps must be at least 1"),
        ("wan", {"video": np.zeros((5, 32, 32), np.uint8)}, "uint8 array \\[T, H, W, 3\\]"),
        ("wan", {"video": np.zeros((5, 32, 32, 3), np.uint8), "strength": 1.5}, "strength must be in"),
        ("wan", {"video": np.zeros((5, 32, 32, 3), np.uint8), "strength": 0.1}, "leaves no step"),
    ],
)
def test_bad_requests_say_what_is_valid(family, changes, expected, tiny_model, tiny_embeds):
    model = tiny_model(family)
    with pytest.raises(ModelError, match=expected):
        sample(model, tiny_embeds(model), _request(**changes))


def test_cogvideox_i2v_renders_only_at_its_trained_size(tiny_model, tiny_embeds):
    model = tiny_model("cogvideox", "i2v")
    with pytest.raises(ModelError, match="only at its trained size 32x32"):
        sample(model, tiny_embeds(model), _request(height=64, image=colour_image()))


def test_image_and_video_together_are_refused(tiny_model, tiny_embeds):
    model = tiny_model("ltx")
    with pytest.raises(ModelError, match="not both"):
        sample(
            model,
            tiny_embeds(model),
            _request(image=colour_image(), video=np.zeros((9, 32, 32, 3), np.uint8)),
        )


def test_decode_out_of_memory_keeps_latents_for_a_retry(tiny_model, tiny_embeds, monkeypatch):
    model = tiny_model("wan")
    latents = sample(model, tiny_embeds(model), _request(steps=2))
    before = latents.tensor.clone()

    def exhausted(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model.pipe.vae, "decode", exhausted)
    with pytest.raises(OutOfMemoryError) as info:
        decode(model, latents)
    assert "offload='model'" in str(info.value) and "vae_tiling" in str(info.value)
    monkeypatch.undo()
    assert torch.equal(latents.tensor, before)
    assert decode(model, latents).shape == (9, 32, 32, 3)


def test_sampling_out_of_memory_names_the_memory_options(tiny_model, tiny_embeds, monkeypatch):
    model = tiny_model("cogvideox")

    def exhausted(*args, **kwargs):
        raise RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)")

    monkeypatch.setattr(model.pipe.transformer, "forward", exhausted)
    with pytest.raises(OutOfMemoryError, match="smaller size"):
        sample(model, tiny_embeds(model), _request(steps=2))


def test_other_pipeline_errors_become_model_errors(tiny_model, tiny_embeds, monkeypatch):
    model = tiny_model("ltx")
    monkeypatch.setattr(model.pipe.transformer, "forward", lambda *a, **k: 1 / 0)
    with pytest.raises(ModelError, match="LTX-Video failed while sampling: division by zero"):
        sample(model, tiny_embeds(model), _request(steps=2))
