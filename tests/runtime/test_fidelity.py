"""The fidelity guard (studio.runtime.fidelity): measuring a setting against the full render, remembering it per
model, and what 'balanced', 'fast' and a draft then run, through the engine, on tiny random-weight pipelines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from studio.runtime import VideoRequest, fidelity, load_model
from studio.runtime.fidelity import Measurement, SpeedMemory
from tests.benchmarks.bench_step_cache import deeper_tiny


@pytest.fixture(scope="module")
def deep_wan(tmp_path_factory):
    """A tiny Wan with three blocks (a first-block cache needs blocks after the first to skip)."""
    return deeper_tiny("wan", tmp_path_factory.mktemp("fidelity") / "deep-wan", layers=3)


def _row(setting: str, speedup: float, db: float) -> Measurement:
    return Measurement(setting, speedup, db, 0.9, 1.0 / speedup, 1.0)


def test_psnr_and_ssim_tell_identical_from_different_clips():
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    assert fidelity.psnr(clip, clip) == math.inf and fidelity.ssim(clip, clip) == pytest.approx(1.0)
    noisy = np.clip(clip.astype(int) + rng.integers(-20, 21, clip.shape), 0, 255).astype(np.uint8)
    assert 20 < fidelity.psnr(clip, noisy) < 30
    assert 0.5 < fidelity.ssim(clip, noisy) < 1.0
    assert fidelity.ssim(clip, 255 - clip) < 0.2


def test_balanced_and_fast_choose_from_what_was_measured_on_this_model(deep_wan, tmp_path):
    model = load_model(str(deep_wan))
    memory = SpeedMemory(tmp_path / "speed.json")
    before = fidelity.resolve("balanced", model, memory)
    assert before.setting == "off" and "run studio bench-speed" in before.why
    unmeasured = fidelity.resolve("fast", model, memory)
    assert unmeasured.setting == "first_block@0.2" and "not measured" in unmeasured.why

    memory.record(model, [_row("first_block@0.08", 1.3, 31.0), _row("pab@3", 1.6, 26.0),
                          _row("first_block@0.2", 2.4, 19.0), _row("taylorseer@2", 0.9, 40.0)])
    balanced = fidelity.resolve("balanced", model, memory)
    assert balanced.setting == "pab@3" and "1.60x at 26.0 dB" in balanced.why
    assert fidelity.resolve("fast", model, memory).setting == "first_block@0.2"
    assert fidelity.resolve("first_block@0.1", model, memory).setting == "first_block@0.1"
    assert fidelity.resolve("off", model, memory).record is None

    # Measured again: the new row replaces the old one, and the file is plain JSON keyed by the weights.
    memory.record(model, [_row("pab@3", 1.7, 22.0)])
    assert fidelity.resolve("balanced", model, memory).setting == "first_block@0.08"
    data = json.loads(memory.path.read_text())
    assert data["models"][model.weights_id]["folder"] == str(model.source)
    other = SpeedMemory(tmp_path / "other.json")
    other.record(model, [_row("pab@3", 1.7, 20.0)])
    assert fidelity.resolve("balanced", model, other).setting == "off"
    assert "none of the 1 settings" in fidelity.resolve("balanced", model, other).why


def test_fast_on_a_one_block_model_renders_in_full(tiny_model, tmp_path):
    model = tiny_model("wan")
    resolved = fidelity.resolve("fast", model, SpeedMemory(tmp_path / "speed.json"))
    assert resolved.setting == "off" and "one block" in resolved.why


def test_measure_compares_each_setting_with_the_full_render(deep_wan, tiny_embeds):
    model = load_model(str(deep_wan))
    request = VideoRequest(num_frames=9, height=32, width=32, steps=4, guidance=3.0, seed=3, preview=False)
    seen = []
    results = fidelity.measure(model, tiny_embeds(model), request, ["first_block@1e-6", "first_block@1", "off"],
                               on_result=seen.append)
    assert [r.setting for r in results] == ["first_block@1e-06", "first_block@1"] and seen == results
    exact, skipping = results
    assert exact.psnr == math.inf and exact.passed
    assert math.isfinite(skipping.psnr) and skipping.ssim < 1.0 and skipping.speedup > 0


def _graph(registry, folder, speed: str):
    from tests.graphs import text_to_video

    graph = text_to_video(registry, folder, steps=4, preview=False)
    graph.set_param("generate", "speed", speed)
    return graph


def _render(graph, registry, tmp_path, draft: bool = False):
    from studio.engine import Engine, NodeWarning
    from studio.engine.outputs import OutputPolicy

    warnings = []
    result = Engine(registry).run(graph, listener=lambda e: isinstance(e, NodeWarning) and warnings.append(e.message),
                                  base_dir=tmp_path, outputs=OutputPolicy(draft=draft))
    assert result.ok, result.failed
    return result.outputs["generate"]["video"], warnings


def test_the_generate_node_runs_the_resolved_setting_and_says_why(deep_wan, tmp_path):
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    full, said = _render(_graph(registry, deep_wan, "off"), registry, tmp_path)
    assert full.generation.speed is None and said == []

    unmeasured, said = _render(_graph(registry, deep_wan, "balanced"), registry, tmp_path)
    np.testing.assert_array_equal(full.frames, unmeasured.frames)  # nothing measured yet: every step computed
    assert any("no setting measured for this model yet" in s for s in said)

    model = load_model(str(deep_wan))
    # the user's memory (STUDIO_HOME): one setting that keeps 25 dB, and a faster one that does not
    SpeedMemory().record(model, [_row("first_block@1", 3.0, 30.0), _row("pab@2", 4.0, 14.0)])
    balanced, said = _render(_graph(registry, deep_wan, "balanced"), registry, tmp_path)
    assert balanced.generation.speed.startswith("first_block@1 (balanced: the fastest")
    assert not np.array_equal(full.frames, balanced.frames)
    assert any("first_block@1" in s for s in said)

    draft, said = _render(_graph(registry, deep_wan, "off"), registry, tmp_path, draft=True)
    # a draft of an exact render is sped up only as far as fidelity is guarded: never the 14 dB setting,
    # which would show another clip than the final the draft previews
    assert draft.generation.speed.startswith("first_block@1 (balanced:")
    assert any(s.startswith("draft: speed 'balanced' instead of 'off'") for s in said)


def test_an_unknown_setting_fails_on_the_speed_port(deep_wan, tmp_path):
    from studio.engine import Engine
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    result = Engine(registry).run(_graph(registry, deep_wan, "turbo"), base_dir=tmp_path)
    assert not result.ok and "unknown speed setting 'turbo'" in result.failed["generate"]
