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


# ---- quality: each task on the first held-out clips, floors just under what the shipped model measures

EVAL_CLIPS, EVAL_STEPS = 8, 20
# Measured on these 8 clips per task at 20 steps, guidance 5 (`python tests/embedded/test_model.py` prints them):
# colour and motion 100% in all three tasks; flicker max 2.1 (t2v), 2.7 (i2v), 2.1 (v2v); i2v first-frame error
# 2.6; held frames 0% everywhere (75% before the VAE decoder's time layers were trained: each latent frame
# decoded as four copies of one picture). Without guidance (`... off`) the earlier model lost t2v motion and v2v
# colour, so the floors keep guidance on; i2v's first frame carries the colour, so its floors check the picture.
# Floors: no clip may lose its colour or motion; flicker and first-frame error at most ~0.7 above today's; held
# frames under issue 16's 5%.
FLOORS = {
    "text_to_video": {"colour": 1.0, "motion": 1.0, "flicker_max": 2.8, "held_frames": 0.05},
    "image_to_video": {"colour": 1.0, "motion": 1.0, "flicker_max": 3.4, "first_frame_mad": 3.0,
                       "held_frames": 0.05},
    "video_to_video": {"colour": 1.0, "motion": 1.0, "flicker_max": 2.8, "held_frames": 0.05},
}


def held_frames(video: np.ndarray) -> float:
    """Share of consecutive frame pairs that barely change (the picture is held) in a clip whose object moves."""
    from studio.directing.motion import HELD_CHANGE, frame_changes

    return float(np.mean(frame_changes(video) < HELD_CHANGE))


def measure(task: str, pipe, count: int = EVAL_CLIPS, steps: int = EVAL_STEPS,  # type: ignore[no-untyped-def]
            guidance: float = 5.0) -> dict[str, float]:
    """Colour and motion adherence, background flicker and task figures of ``count`` held-out clips."""
    from diffusers import WanImageToVideoPipeline, WanVideoToVideoPipeline
    from PIL import Image

    from studio.embedded.analysis import analyse
    from studio.embedded.evaluate import FRAMES, GUIDE_OFFSET, clip_size, text_to_video
    from studio.embedded.scene_analysis import at_analysis_size
    from studio.embedded.world import OBJECT_COLOURS, ClipSpec, caption_for, eval_specs, render

    size = clip_size(MODEL)  # a model retrained at 128x128 says so in its studio_defaults.json
    pipe.studio_size = size
    common = {"height": size, "width": size, "num_inference_steps": steps, "guidance_scale": guidance,
              "output_type": "np"}
    colours = list(OBJECT_COLOURS)
    wanted, videos, extra = [], [], []
    if task == "text_to_video":
        for spec in eval_specs(count):
            wanted.append(spec)
            videos.append(text_to_video(pipe, spec, steps, guidance))
    elif task == "image_to_video":
        i2v = WanImageToVideoPipeline.from_pipe(pipe)
        i2v.set_progress_bar_config(disable=True)
        for spec in eval_specs(count):
            real, _ = render(spec, FRAMES, size)
            out = i2v(image=Image.fromarray(real[0]), prompt=spec.caption, num_frames=FRAMES,
                      generator=torch.Generator().manual_seed(spec.seed), **common)
            video = np.clip(np.round(out.frames[0] * 255.0), 0, 255).astype(np.uint8)
            wanted.append(spec)
            videos.append(video)
            extra.append(float(np.abs(video[0].astype(np.float32) - real[0].astype(np.float32)).mean()))
    else:  # the guide's object, recoloured by the prompt: motion from the guide, colour from the prompt
        v2v = WanVideoToVideoPipeline.from_pipe(pipe)
        v2v.set_progress_bar_config(disable=True)
        for guide in eval_specs(count, offset=GUIDE_OFFSET):
            clip, _ = render(guide, FRAMES, size)
            colour = colours[(colours.index(guide.colour) + 1) % len(colours)]
            prompt = caption_for(colour, guide.shape, guide.motion, guide.background, guide.background_to)
            out = v2v(video=[Image.fromarray(f) for f in clip], prompt=prompt, strength=0.7,
                      generator=torch.Generator().manual_seed(guide.seed), **common)
            wanted.append(ClipSpec(**{**guide.__dict__, "colour": colour}))
            videos.append(np.clip(np.round(out.frames[0] * 255.0), 0, 255).astype(np.uint8))
    seen = [analyse(at_analysis_size(video)) for video in videos]
    figures = {
        "colour": float(np.mean([a.colour == s.colour for a, s in zip(seen, wanted, strict=True)])),
        "motion": float(np.mean([a.motion == s.motion for a, s in zip(seen, wanted, strict=True)])),
        "flicker_max": max(a.background_flicker for a in seen),
        "held_frames": float(np.mean([held_frames(v) for v in videos])),
    }
    if extra:
        figures["first_frame_mad"] = float(np.mean(extra))
    return figures


def test_held_frames_counts_repeated_pictures() -> None:
    from studio.embedded.world import eval_specs, render

    real, _ = render(eval_specs(1)[0])  # the world's own clip moves every frame
    assert held_frames(real) == 0.0
    stepped = np.repeat(real[::4], 4, axis=0)[:17]  # each picture shown four times, as the VAE decodes today
    assert held_frames(stepped) == pytest.approx(12 / 16)


@pytest.mark.slow
@pytest.mark.parametrize("task", list(FLOORS))
def test_quality_stays_at_the_measured_figures(pipe, task) -> None:  # type: ignore[no-untyped-def]
    floor, figures = FLOORS[task], measure(task, pipe)
    assert figures["colour"] >= floor["colour"], figures
    assert figures["motion"] >= floor["motion"], figures
    assert figures["flicker_max"] <= floor["flicker_max"], figures
    if "first_frame_mad" in floor:
        assert figures["first_frame_mad"] <= floor["first_frame_mad"], figures
    if "held_frames" in floor:
        assert figures["held_frames"] <= floor["held_frames"], figures


# ---- the model card's figures are the evaluation report's


def _card_figures() -> tuple[str, str]:
    card = (MODEL / "MODEL_CARD.md").read_text()
    start = card.index("## Measured figures")
    end = card.find("\n## ", start + 1)
    return card[start:end if end != -1 else None], card


def test_the_card_states_the_evaluation_reports_figures() -> None:
    import re

    report = json.loads((MODEL / "eval_report.json").read_text())
    figures, _ = _card_figures()
    count = report["settings"]["count"]
    assert f"--count {count}`: {count} held-out" in figures
    assert f"{report['settings']['steps']} steps, guidance {report['settings']['guidance']}" in figures

    def pct(value: float) -> str:
        return f"{100 * value:.0f}%"

    rows = {"text-to-video": "text_to_video", "image-to-video": "image_to_video",
            f"video-to-video (strength {report['settings']['strength']})": "video_to_video"}
    for label, key in rows.items():
        part = report[key]
        row = (f"| {label} | {pct(part['colour_adherence'])} | {pct(part['motion_adherence'])} | "
               f"{pct(part['shape_adherence'])} | {part['background_flicker_max']:.1f} |")
        assert row in figures, f"the card's {label} row differs from eval_report.json: expected {row}"
    i2v = report["image_to_video"]
    assert (f"mean abs difference {i2v['first_frame_mad_mean']:.1f} (worst {i2v['first_frame_mad_max']:.1f})"
            in figures)
    timing = report["timing"]
    assert f"{timing['full_steps']} steps {timing['full_seconds']:.2f} s" in figures
    assert f"draft {timing['draft_steps']} steps\n  {timing['draft_seconds']:.2f} s" in figures
    # every percentage and figure in the table comes from the report: none is left from an older one
    table = [line for line in figures.splitlines() if line.startswith("| ") and "%" in line]
    assert len(table) == 3 and all(re.search(r"\d+%", line) for line in table)


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


if __name__ == "__main__":  # the figures the floors above are set from; add "off" to measure without guidance
    import sys

    from diffusers import DiffusionPipeline

    torch.set_num_threads(1)
    measured = DiffusionPipeline.from_pretrained(str(MODEL), use_safetensors=True)
    measured.set_progress_bar_config(disable=True)
    scale = 1.0 if "off" in sys.argv[1:] else 5.0
    for name in FLOORS:
        print(name, json.dumps(measure(name, measured, guidance=scale)), flush=True)
