"""Per-step previews: a model's shipped colour map (with a hidden layer), and the clean-clip estimate."""

from __future__ import annotations

import json

import numpy as np
import torch

from studio.runtime import preview as P
from studio.runtime.sampling import denoised_estimate


def test_a_shipped_map_with_a_hidden_layer_renders_what_its_formula_says(tmp_path):
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(4, 6)), rng.normal(size=6)
    w2, b2 = rng.normal(size=(6, 3)) * 0.1, np.array([0.5, 0.4, 0.3])
    (tmp_path / P.SHIPPED_NAME).write_text(json.dumps(
        {"hidden": {"weight": w1.tolist(), "bias": b1.tolist()}, "matrix": w2.tolist(), "bias": b2.tolist()}))
    projection = P.shipped_projection(tmp_path, channels=4)
    assert projection is not None and projection.hidden_weight.shape == (4, 6)
    scale, shift = torch.tensor([2.0, 1.0, 0.5, 1.0]), torch.tensor([0.1, 0.0, -0.2, 0.3])
    renderer = P.ClipPreviewer(projection, torch.device("cpu"), temporal=4, spatial=8).for_clip(scale, shift, 5, 2)
    latents = torch.from_numpy(rng.normal(size=(4, 2, 3, 3)).astype(np.float32))
    frames = renderer(latents)
    assert frames.shape == (5, 3, 3, 3) and frames.dtype == np.uint8
    vae = latents.permute(1, 2, 3, 0).numpy() * scale.numpy() + shift.numpy()  # pipeline -> VAE space
    expected = np.maximum(vae @ w1 + b1, 0) @ w2 + b2
    expected = np.clip(np.round(expected * 255), 0, 255)
    assert np.abs(frames[0].astype(float) - expected[0]).max() <= 1  # frame 0 shows latent frame 0
    assert np.abs(frames[4].astype(float) - expected[1]).max() <= 1  # frames 1-4 show latent frame 1


def test_a_broken_or_mismatched_shipped_map_is_ignored(tmp_path):
    path = tmp_path / P.SHIPPED_NAME
    for text in ("not json", '{"matrix": [[1, 2, 3]], "bias": [0, 0, 0]}', '{"matrix": "x", "bias": [0]}',
                 json.dumps({"matrix": [[float("nan")] * 3] * 4, "bias": [0, 0, 0]})):
        path.write_text(text)
        assert P.shipped_projection(tmp_path, channels=4) is None
    assert P.shipped_projection(tmp_path / "missing", channels=4) is None


def test_flow_matching_estimate_reads_the_clean_clip_off_the_last_step():
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(10)
    clean, noise = torch.randn(1, 4, 2, 3, 3), torch.randn(1, 4, 2, 3, 3)
    x = noise.clone()
    for i, t in enumerate(scheduler.timesteps[:4]):
        previous = x
        x = scheduler.step(noise - clean, t, x).prev_sample  # a perfect velocity
        estimate = denoised_estimate(scheduler, x, previous)
        assert torch.allclose(estimate, clean, atol=1e-4), i
    # With nothing to read it from, the latents are shown as they are.
    assert denoised_estimate(object(), x, None) is x
