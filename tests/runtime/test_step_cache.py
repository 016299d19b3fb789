"""Step caching (studio.runtime.speed) on tiny random-weight pipelines: it skips work, it is reset between
renders, it leaves no hooks behind, and 'off' is the plain render."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from studio.errors import Cancelled, ModelError
from studio.runtime import VideoRequest, decode, load_model, sample
from tests.benchmarks.bench_step_cache import TailCounter, deeper_tiny, psnr
from tests.runtime.conftest import FAMILIES


def _request(**changes) -> VideoRequest:
    values = dict(num_frames=9, height=32, width=32, steps=4, guidance=3.0, seed=7, preview=False)
    values.update(changes)
    return VideoRequest(**values)


# A threshold far above any step-to-step change: every step after the first reuses the cache.
ALWAYS = dict(speed="first_block@1")


@pytest.fixture(scope="module")
def deep_model(tmp_path_factory):
    """Tiny pipelines with three transformer blocks: the stock tiny ones have one, and nothing to skip."""
    loaded: dict = {}

    def get(family: str):
        if family not in loaded:
            folder = deeper_tiny(family, tmp_path_factory.mktemp(f"deep-{family}") / family, layers=3)
            loaded[family] = load_model(str(folder))
        return loaded[family]

    return get


def _counter(model) -> TailCounter:
    if not hasattr(model, "_test_tail_counter"):
        model._test_tail_counter = TailCounter(model.pipe.transformer)
    counter = model._test_tail_counter
    counter.count = 0
    return counter


@pytest.mark.parametrize("family", FAMILIES)
def test_first_block_cache_skips_the_rest_of_the_model_and_changes_the_clip(family, deep_model, tiny_embeds):
    model = deep_model(family)
    embeds = tiny_embeds(model)
    counter = _counter(model)
    plain = decode(model, sample(model, embeds, _request()))
    full = counter.count
    assert full >= 4  # every step ran the whole stack (twice with guidance, where the family splits the passes)

    counter.count = 0
    cached = decode(model, sample(model, embeds, _request(**ALWAYS)))
    # Only the first step (per guidance pass) computed the blocks after the first one.
    assert 0 < counter.count < full and counter.count <= full // 4
    assert not np.array_equal(plain, cached)
    assert not model.pipe.transformer.is_cache_enabled  # the hooks went with the render


def test_cache_is_reset_between_renders_and_off_is_the_plain_render(deep_model, tiny_embeds):
    model = deep_model("wan")
    embeds = tiny_embeds(model)
    plain = decode(model, sample(model, embeds, _request()))
    first = decode(model, sample(model, embeds, _request(**ALWAYS)))
    # Another clip in between: a cache carried over would change the next cached render.
    sample(model, embeds, _request(seed=99, **ALWAYS))
    again = decode(model, sample(model, embeds, _request(**ALWAYS)))
    np.testing.assert_array_equal(first, again)
    after = decode(model, sample(model, embeds, _request(speed="off")))
    np.testing.assert_array_equal(plain, after)


def test_a_tiny_threshold_keeps_the_clip(deep_model, tiny_embeds):
    model = deep_model("wan")
    embeds = tiny_embeds(model)
    plain = decode(model, sample(model, embeds, _request()))
    counter = _counter(model)
    close = decode(model, sample(model, embeds, _request(speed="first_block@1e-6")))
    assert psnr(plain, close) == float("inf")
    assert counter.count > 0


def test_a_cancelled_render_leaves_no_cache_hooks(deep_model, tiny_embeds):
    model = deep_model("wan")
    embeds = tiny_embeds(model)
    steps = []
    with pytest.raises(Cancelled):
        sample(model, embeds, _request(preview=True, **ALWAYS), on_step=steps.append,
               is_cancelled=lambda: len(steps) >= 2)
    assert not model.pipe.transformer.is_cache_enabled
    plain = decode(model, sample(model, embeds, _request()))
    np.testing.assert_array_equal(plain, decode(model, sample(model, embeds, replace(_request(), speed="off"))))


def test_a_one_block_model_is_refused_with_the_reason(tiny_model, tiny_embeds):
    model = tiny_model("wan")
    with pytest.raises(ModelError, match="fewer than two blocks"):
        sample(model, tiny_embeds(model), _request(**ALWAYS))
    assert not model.pipe.transformer.is_cache_enabled


def test_an_unknown_method_is_refused_with_the_choices(deep_model, tiny_embeds):
    model = deep_model("wan")
    with pytest.raises(ModelError, match="first_block@"):
        sample(model, tiny_embeds(model), _request(speed="teacache@0.1"))
    assert not model.pipe.transformer.is_cache_enabled


def test_generate_video_node_renders_again_when_the_step_cache_changes(tmp_path):
    """Through the engine: the setting reaches the render, changes the clip, and is part of the cache key."""
    from studio.engine import Engine
    from studio.graph import NodeRegistry
    from tests.graphs import text_to_video

    folder = deeper_tiny("wan", tmp_path / "deep-wan", layers=3)
    registry = NodeRegistry.default()
    engine = Engine(registry)
    graph = text_to_video(registry, folder, steps=4, preview=False)

    def frames():
        result = engine.run(graph, base_dir=tmp_path)
        assert result.ok, result.failed
        return result.outputs["generate"]["video"].frames

    plain = frames()
    graph.nodes["generate"].params.update(speed="first_block@1")
    cached = frames()
    assert not np.array_equal(plain, cached)
    graph.nodes["generate"].params.update(speed="off")
    np.testing.assert_array_equal(plain, frames())


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("setting", ["taylorseer@2", "pab@2"])
def test_every_offered_method_runs_on_every_family(family, setting, deep_model, tiny_embeds):
    """TaylorSeer and PAB through diffusers' hooks: the clip changes, and no hook outlives the render."""
    model = deep_model(family)
    embeds = tiny_embeds(model)
    counter = _counter(model)
    plain = decode(model, sample(model, embeds, _request(steps=8)))
    full = counter.count
    counter.count = 0
    cached = decode(model, sample(model, embeds, _request(steps=8, speed=setting)))
    assert not np.array_equal(plain, cached)
    if setting.startswith("taylorseer"):  # the block stack runs only on refresh steps
        assert counter.count < full
    assert not model.pipe.transformer.is_cache_enabled
    np.testing.assert_array_equal(plain, decode(model, sample(model, embeds, _request(steps=8))))


def test_settings_are_read_with_their_knob_and_refused_with_the_choices():
    from studio.runtime import speed

    assert speed.parse("off") is None and speed.parse("") is None
    assert str(speed.parse("first_block@0.08")) == "first_block@0.08"
    assert str(speed.parse(" PAB@3 ")) == "pab@3"
    assert speed.parse("first_block") == speed.Setting("first_block", 0.06)  # the method's default
    for bad, says in [("teacache@0.1", "first_block@<threshold>"), ("taylorseer@2.5", "whole number"),
                      ("first_block@0", "must be in"), ("first_block@x", "needs a number"),
                      ("balanced", "preset")]:
        with pytest.raises(ModelError, match=says):
            speed.parse(bad)
    assert speed.is_valid("balanced") and speed.is_valid("fast") and not speed.is_valid("fastest")


def test_old_graphs_keep_their_step_cache_as_the_speed_setting():
    from studio.graph import NodeRegistry
    from studio.graph.fileformat import graph_from_dict

    registry = NodeRegistry.default()

    def loaded(params: dict) -> dict:
        doc = {"format": "studio.graph", "version": 2, "nodes": [{"id": "g", "type": "studio.GenerateVideo", "version": 1,
                                         "params": params, "position": [0, 0]}], "links": []}
        node = graph_from_dict(doc, registry).nodes["g"]
        assert node.version == 2
        return node.params

    assert loaded({"step_cache": "first_block", "cache_threshold": 0.1, "steps": 9}) == {
        "speed": "first_block@0.1", "steps": 9}
    assert loaded({"step_cache": "first_block", "cache_threshold": 0.0})["speed"] == "first_block@0.06"
    assert loaded({"step_cache": "off", "cache_threshold": 0.3}) == {"speed": "off"}
    assert loaded({"seed": 3}) == {"seed": 3, "speed": "off"}


def test_a_sped_up_render_says_which_setting_and_why_in_its_generation_record():
    from nodes.generate import _speed_text

    assert _speed_text(_request()) is None
    assert _speed_text(_request(speed="first_block@0.1", speed_reason="as set")) == "first_block@0.1 (as set)"
    from studio.values import Generation

    assert Generation(speed="first_block@0.1").settings()["speed"] == "first_block@0.1"
    assert "speed" not in Generation().settings()
