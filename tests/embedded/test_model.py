"""The shipped embedded model: loads offline as a plain diffusers Wan pipeline, fits the budget, obeys prompts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "studio-tiny"
BUDGET_BYTES = 30 * 1024 * 1024

pytestmark = pytest.mark.skipif(
    not (MODEL / "model_index.json").exists(),
    reason="resources/models/studio-tiny is not trained yet (python -m studio.embedded.train)",
)


@pytest.fixture(scope="module")
def pipe():  # type: ignore[no-untyped-def]
    from diffusers import DiffusionPipeline

    torch.set_num_threads(1)
    pipeline = DiffusionPipeline.from_pretrained(str(MODEL), use_safetensors=True)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def test_weights_fit_the_budget() -> None:
    files = list(MODEL.rglob("*.safetensors"))
    assert files, "no safetensors in the model folder"
    assert sum(f.stat().st_size for f in files) <= BUDGET_BYTES
    assert not list(MODEL.rglob("*.bin")) and not list(MODEL.rglob("*.pt"))


def test_loads_offline_as_standard_wan_pipelines(pipe) -> None:  # type: ignore[no-untyped-def]
    from diffusers import WanImageToVideoPipeline, WanPipeline, WanVideoToVideoPipeline

    assert isinstance(pipe, WanPipeline)
    assert pipe.config.expand_timesteps
    assert pipe.transformer.config.in_channels == pipe.vae.config.z_dim
    assert any(abs(s - 1.0) > 1e-3 for s in pipe.vae.config.latents_std), "latent statistics missing"
    i2v = WanImageToVideoPipeline.from_pipe(pipe)
    assert i2v.config.expand_timesteps and i2v.image_encoder is None
    WanVideoToVideoPipeline.from_pipe(pipe)
    assert (MODEL / "MODEL_CARD.md").exists()


def test_every_loaded_tensor_equals_the_file(pipe) -> None:  # type: ignore[no-untyped-def]
    # A renamed or missing weight would be silently re-initialised: compare the loaded modules with the files.
    from safetensors.torch import load_file

    for name in ("transformer", "vae", "text_encoder"):
        module = getattr(pipe, name)
        stored: dict[str, torch.Tensor] = {}
        for file in (MODEL / name).glob("*.safetensors"):
            stored.update(load_file(file))
        state = module.state_dict()
        for key, tensor in stored.items():
            assert key in state, f"{name}: {key} not loaded"
            assert torch.equal(state[key], tensor), f"{name}: {key} differs from the file"


def test_renders_the_requested_shape(pipe) -> None:  # type: ignore[no-untyped-def]
    out = pipe(
        prompt="a red circle moves left on a black background",
        height=64,
        width=64,
        num_frames=17,
        num_inference_steps=2,
        guidance_scale=5.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    )
    frames = out.frames[0]
    assert frames.shape == (17, 64, 64, 3)
    assert np.isfinite(frames).all()


@pytest.mark.slow
def test_quality_stays_above_the_measured_figures() -> None:
    """A small held-out text-to-video evaluation; floors are the model card's figures minus a margin."""
    from studio.embedded.evaluate import quick_text_to_video_report

    floors = json.loads((MODEL / "quality_floor.json").read_text())
    report = quick_text_to_video_report(MODEL, count=floors["clips"], steps=floors["steps"])
    assert report["colour_adherence"] >= floors["colour_adherence"], report
    assert report["motion_adherence"] >= floors["motion_adherence"], report
    assert report["background_flicker_max"] <= floors["background_flicker_max"], report


def test_live_previews_show_the_clip_taking_shape_in_its_colours(tmp_path, monkeypatch) -> None:
    """Mid-way the preview shows the sampler's clean-clip estimate (not the noisy latents), through the
    model's shipped preview decoder: closer to the finished clip than the raw latents, and close to the VAE."""
    import studio.runtime.sampling as sampling
    from studio.runtime import LoadOptions, VideoRequest, decode, encode_prompt, load_model

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))  # no cached fit from elsewhere
    torch.set_num_threads(1)
    model = load_model("embedded", LoadOptions(device="cpu"))
    embeds = encode_prompt(model, "a red circle moves left on a black background", "", 5.0)
    request = VideoRequest(num_frames=17, height=64, width=64, steps=20, guidance=5.0, seed=3)

    def previews() -> tuple[list[np.ndarray], np.ndarray]:
        updates = []
        latents = sampling.sample(model, embeds, request, on_step=updates.append)
        return [u.preview.astype(np.float32) for u in updates], decode(model, latents)

    shown, frames = previews()
    monkeypatch.setattr(sampling, "denoised_estimate", lambda scheduler, latents, previous: latents)
    raw, _ = previews()
    step = 5  # the sixth of twenty
    assert np.abs(shown[step] - shown[-1]).mean() < 0.5 * np.abs(raw[step] - raw[-1]).mean()
    # The shipped preview decoder draws the whole clip at its size: close to the VAE's decode of it.
    assert shown[-1].shape == frames.shape
    assert np.abs(shown[-1] - frames).mean() < 15  # 0-255
