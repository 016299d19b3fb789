"""A real tiny diffusers pipeline through Studio's loader, nodes and engine: steps, cache, cancel, CLI."""

from __future__ import annotations

import av
import numpy as np
import pytest

from studio.cli import main
from studio.engine import CancelToken, Engine, NodeProgress
from studio.graph import Graph, NodeRegistry, save_graph
from tests.graphs import text_to_video

STEPS = 3


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


def make_graph(registry, model_dir, steps=STEPS, seed=1) -> Graph:
    return text_to_video(registry, model_dir, steps=steps, seed=seed)


def test_render_streams_every_step_and_caches_what_did_not_change(registry, tiny_wan):
    engine = Engine(registry)
    g = make_graph(registry, tiny_wan)
    events = []
    result = engine.run(g, listener=events.append)
    assert result.ok, result.failed
    video = result.outputs["preview"]["video"]
    assert video.frames.shape == (9, 32, 32, 3) and video.frames.dtype == np.uint8 and video.fps == 8.0
    steps = [e for e in events if isinstance(e, NodeProgress) and e.node_id == "generate"]
    assert [e.step for e in steps] == list(range(1, STEPS + 1))
    assert all(e.preview is not None and e.preview.shape[0] == 9 for e in steps)

    # nothing changed: nothing runs
    again = engine.run(g)
    assert sorted(again.cached) == ["generate", "model", "preview", "text"] and again.timings == {}

    # only the seed changed: the sampler runs, the model load and the prompt encode do not
    g.set_param("generate", "seed", 2)
    reseeded = engine.run(g)
    assert sorted(reseeded.cached) == ["model", "text"]
    assert engine.memo_stats["encode_prompt"] == [1, 1]
    assert reseeded.reasons["generate"] == "parameter 'seed' changed (1 -> 2)"
    assert not np.array_equal(reseeded.outputs["preview"]["video"].frames, video.frames)

    # back to the first seed: same frames as the first render (reproducible)
    g.set_param("generate", "seed", 1)
    g.set_param("generate", "steps", STEPS)
    back = engine.run(g)
    np.testing.assert_array_equal(back.outputs["preview"]["video"].frames, video.frames)


def test_cancel_takes_effect_within_one_step(registry, tiny_wan):
    engine = Engine(registry)
    g = make_graph(registry, tiny_wan, steps=8)
    token = CancelToken()
    seen = []

    def listener(event):
        if isinstance(event, NodeProgress) and event.node_id == "generate":
            seen.append(event.step)
            if event.step == 2:
                token.cancel()

    result = engine.run(g, listener=listener, cancel=token)
    assert result.status == "cancelled"
    assert seen == [1, 2]
    rerun = engine.run(g)
    assert rerun.ok and "model" in rerun.cached and "generate" in rerun.timings


def test_cli_render_writes_the_clip(capsys, registry, tiny_wan, tmp_path):
    graph_path = tmp_path / "g.studio.json"
    save_graph(make_graph(registry, tiny_wan), graph_path, registry)
    out = tmp_path / "renders" / "clip.mp4"
    code = main(["render", str(graph_path), "-o", str(out), "--set", "generate.seed=5", "-q"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "node times:" in err and "generate" in err
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.width, stream.height, frames) == (32, 32, 9)
        assert float(stream.average_rate) == 8.0


def test_out_of_memory_in_decode_retries_without_sampling_again(registry, tiny_wan, monkeypatch):
    from studio import runtime
    from studio.errors import OutOfMemoryError

    real_decode = runtime.decode
    calls = []

    def decode_once_short_of_memory(model, latents):
        calls.append(latents)
        if len(calls) == 1:
            raise OutOfMemoryError("cuda ran out of memory while decoding", hint="vae_tiling")
        return real_decode(model, latents)

    monkeypatch.setattr(runtime, "decode", decode_once_short_of_memory)
    engine = Engine(registry)
    steps = []
    result = engine.run(make_graph(registry, tiny_wan), listener=lambda e: isinstance(e, NodeProgress)
                        and e.node_id == "generate" and steps.append(e.step))
    assert result.ok
    assert len(calls) == 2 and calls[0] is calls[1]  # the same latents decoded again
    assert steps == list(range(1, STEPS + 1))  # sampled once
    assert engine.memo_stats["sample"] == [1, 1]


def test_a_draft_render_runs_the_draft_steps_with_the_same_seed_and_leaves_the_document(registry, tiny_wan,
                                                                                        capsys, tmp_path):
    from studio.engine.engine import draft_copy

    graph = make_graph(registry, tiny_wan, steps=8)
    graph.set_param("generate", "draft_steps", 2)
    draft, changed = draft_copy(graph, registry)
    assert changed == ["generate"] and draft.nodes["generate"].params["steps"] == 2
    assert graph.nodes["generate"].params["steps"] == 8  # the document is untouched
    assert draft.nodes["generate"].params["seed"] == graph.nodes["generate"].params["seed"]
    steps = []
    result = Engine(registry).run(draft, listener=lambda e: isinstance(e, NodeProgress) and e.node_id == "generate"
                                  and steps.append(e.total))
    assert result.ok and set(steps) == {2}
    # Fewer steps than the draft: the steps stay (other draft pairs, such as a gentler guidance, may still apply).
    graph.set_param("generate", "steps", 1)
    assert draft_copy(graph, registry)[0].nodes["generate"].params["steps"] == 1

    graph.set_param("generate", "steps", 8)
    graph_path = tmp_path / "g.studio.json"
    save_graph(graph, graph_path, registry)
    code = main(["render", str(graph_path), "-o", str(tmp_path / "d.mp4"), "--draft"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "draft: generate at their draft settings" in err and "2/2" in err
