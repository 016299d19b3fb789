"""Every mode each family advertises renders through the engine, on tiny pipelines that carry the scheduler
configuration of the family's published checkpoints (a tiny pipeline's default scheduler hid that LTX-Video
video-to-video failed on every real LTX checkpoint: "`mu` must be passed when `use_dynamic_shifting`...")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.runtime.tiny import build_tiny_pipeline

# scheduler/scheduler_config.json of the published diffusers checkpoints (values as published).
WAN_2_1 = {  # Wan-AI/Wan2.1-T2V-1.3B-Diffusers (and 14B, I2V, VACE): UniPC on flow sigmas, shift 3 for 480p
    "_class_name": "UniPCMultistepScheduler", "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001,
    "disable_corrector": [], "dynamic_thresholding_ratio": 0.995, "final_sigmas_type": "zero",
    "flow_shift": 3.0, "lower_order_final": True, "num_train_timesteps": 1000, "predict_x0": True,
    "prediction_type": "flow_prediction", "rescale_betas_zero_snr": False, "sample_max_value": 1.0,
    "solver_order": 2, "solver_p": None, "solver_type": "bh2", "steps_offset": 0, "thresholding": False,
    "timestep_spacing": "linspace", "trained_betas": None, "use_beta_sigmas": False,
    "use_exponential_sigmas": False, "use_flow_sigmas": True, "use_karras_sigmas": False,
}
LTX_0_9 = {  # Lightricks/LTX-Video (0.9.x): shifted by the clip's token count, stretched to end at 0.1
    "_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 1024, "base_shift": 0.95,
    "invert_sigmas": False, "max_image_seq_len": 4096, "max_shift": 2.05, "num_train_timesteps": 1000,
    "shift": 1.0, "shift_terminal": 0.1, "use_beta_sigmas": False, "use_dynamic_shifting": True,
    "use_exponential_sigmas": False, "use_karras_sigmas": False,
}
_COGVIDEOX = {
    "_class_name": "CogVideoXDDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "clip_sample": False, "clip_sample_range": 1.0, "num_train_timesteps": 1000,
    "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "sample_max_value": 1.0,
    "set_alpha_to_one": True, "steps_offset": 0, "timestep_spacing": "trailing", "trained_betas": None,
}
COGVIDEOX_2B = {**_COGVIDEOX, "snr_shift_scale": 3.0}  # THUDM/CogVideoX-2b
COGVIDEOX_5B = {**_COGVIDEOX, "snr_shift_scale": 1.0}  # THUDM/CogVideoX-5b and -5b-I2V
PUBLISHED = {("wan", "t2v"): WAN_2_1, ("wan", "i2v"): WAN_2_1, ("wan", "ti2v"): WAN_2_1,
             ("wan-vace", "t2v"): WAN_2_1, ("ltx", "t2v"): LTX_0_9,
             ("cogvideox", "t2v"): COGVIDEOX_2B, ("cogvideox", "i2v"): COGVIDEOX_5B}


def with_published_scheduler(folder: Path, config: dict) -> Path:
    """Give a saved pipeline folder the scheduler a published checkpoint ships (class and settings)."""
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(config, indent=2))
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["scheduler"] = ["diffusers", config["_class_name"]]
    index_path.write_text(json.dumps(index, indent=2))
    return folder


# (family, tiny build, mode): every mode the tiny build of each family advertises.
CASES = [("wan", "t2v", "t2v"), ("wan", "t2v", "v2v"), ("wan", "i2v", "i2v"),
         ("wan", "ti2v", "t2v"), ("wan", "ti2v", "i2v"), ("wan", "ti2v", "v2v"),
         ("ltx", "t2v", "t2v"), ("ltx", "t2v", "i2v"), ("ltx", "t2v", "v2v"),
         ("cogvideox", "t2v", "t2v"), ("cogvideox", "t2v", "v2v"), ("cogvideox", "i2v", "i2v"),
         ("wan-vace", "t2v", "t2v"), ("wan-vace", "t2v", "v2v")]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    built: dict = {}

    def get(family: str, build: str) -> Path:
        if (family, build) not in built:
            folder = build_tiny_pipeline(family, tmp_path_factory.mktemp(f"{family}-{build}") / "m", task=build)
            built[family, build] = with_published_scheduler(folder, PUBLISHED[family, build])
        return built[family, build]

    return get


def _graph(registry, folder: Path, mode: str, tmp_path: Path, fps: float = 8.0):
    from tests.graphs import text_to_video

    graph = text_to_video(registry, folder, steps=3, preview=False, fps=fps)
    if mode == "i2v":
        picture = np.zeros((32, 32, 3), np.uint8)
        picture[8:24, 8:24] = (220, 30, 30)
        Image.fromarray(picture).save(tmp_path / "first.png")
        graph.add_node(registry.get("studio.ReferenceImage"), "image", params={"path": str(tmp_path / "first.png")})
        graph.connect("image", "image", "generate", "image")
    if mode == "v2v":  # the clip of a first generator guides a second one
        graph.add_node(registry.get("studio.GenerateVideo"), "guided",
                       params={**graph.nodes["generate"].params, "seed": 2, "strength": 0.6})
        graph.connect("model", "model", "guided", "model")
        graph.connect("text", "prompt", "guided", "prompt")
        graph.connect("generate", "video", "guided", "guide")
        return graph, "guided"
    return graph, "generate"


@pytest.mark.parametrize(("family", "build", "mode"), CASES, ids=["-".join(c) for c in CASES])
def test_every_advertised_mode_renders_with_the_published_scheduler(family, build, mode, published, tmp_path):
    from studio.engine import Engine
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    graph, target = _graph(registry, published(family, build), mode, tmp_path)
    result = Engine(registry).run(graph, [target], base_dir=tmp_path)
    assert result.ok, result.failed
    video = result.outputs[target]["video"]
    assert video.frames.shape == (9, 32, 32, 3) and video.generation.mode == mode
    assert video.frames.std() > 0  # a clip, not a blank


def test_ltx_video_to_video_follows_the_schedule_its_text_to_video_uses(published):
    """The shift the checkpoint asks for (dynamic, by token count, stretched to 0.1) reaches the condition
    pipeline: its timesteps are those LTXPipeline computes for the same clip."""
    from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift

    from studio.runtime import families, load_model

    model = load_model(str(published("ltx", "t2v")))
    pipe = model.task_pipeline("v2v")
    extra, scheduler = families.FAMILIES["ltx"].schedule(pipe, "v2v", (3, 8, 8), 6)
    cfg = pipe.scheduler.config
    reference = type(pipe.scheduler).from_config(cfg)
    mu = calculate_shift(3 * 8 * 8, cfg.base_image_seq_len, cfg.max_image_seq_len, cfg.base_shift, cfg.max_shift)
    reference.set_timesteps(sigmas=np.linspace(1.0, 1 / 6, 6), mu=mu)
    np.testing.assert_allclose(extra["timesteps"], reference.timesteps.numpy(), rtol=1e-6)
    assert not scheduler.config.use_dynamic_shifting and pipe.scheduler.config.use_dynamic_shifting
    assert families.FAMILIES["ltx"].schedule(pipe, "t2v", (3, 8, 8), 6) == ({}, None)


@pytest.mark.parametrize(("family", "changes"), [("ltx", True), ("wan", False)])
def test_the_requested_frame_rate_reaches_ltx(family, changes, published, tmp_path):
    """LTX places its tokens in seconds: the clip's fps changes it (it was always the model's default)."""
    from studio.engine import Engine
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    engine = Engine(registry)
    clips = []
    for fps in (8.0, 30.0):
        graph, target = _graph(registry, published(family, "t2v"), "t2v", tmp_path, fps=fps)
        result = engine.run(graph, [target], base_dir=tmp_path)
        assert result.ok, result.failed
        clips.append(result.outputs[target]["video"].frames)
    assert (not np.array_equal(*clips)) == changes
