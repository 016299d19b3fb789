"""compile on Load Model: the tiny Wan's repeated blocks compile on the first render through the engine, and a
seed change or a prompt change renders again with the same compiled model: no reload, no recompile.

Slow: torch's inductor compiles C++ for the CPU, 20-30 s for one tiny block on the shared 2-core machine."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from studio.runtime.compile import compiler_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not compiler_available(), reason="torch.compile needs a C++ compiler on the CPU (g++)"),
]


def test_a_seed_or_prompt_change_neither_reloads_nor_recompiles(tiny_wan, tmp_path, caplog):
    from studio.engine import Engine
    from studio.graph import NodeRegistry
    from tests.graphs import text_to_video

    registry = NodeRegistry.default()
    engine = Engine(registry)
    graph = text_to_video(registry, tiny_wan, preview=False)
    graph.nodes["model"].params["compile"] = "blocks"
    caplog.set_level(logging.INFO)
    first = engine.run(graph, base_dir=tmp_path)
    assert first.ok, first.failed
    model = first.outputs["model"]["model"]
    watch = model.base.compile_watch
    assert watch is not None and watch.graphs >= 1 and watch.recompiles == 0
    assert any("compile blocks:" in r.getMessage() and "compiled in" in r.getMessage() for r in caplog.records)
    calls = watch.calls
    graph.nodes["generate"].params["seed"] = 2
    second = engine.run(graph, base_dir=tmp_path)
    graph.nodes["text"].params["prompt"] = "a blue square moves up"
    third = engine.run(graph, base_dir=tmp_path)
    assert second.ok and third.ok
    assert watch.calls > calls  # the transformer ran again, through the compiled blocks
    assert watch.recompiles == 0, "a seed or prompt change recompiled the transformer"
    assert engine.memo_stats["load_model"][1] == 1  # loaded once
    clips = [r.outputs["generate"]["video"].frames for r in (first, second, third)]
    assert not np.array_equal(clips[0], clips[1]) and not np.array_equal(clips[1], clips[2])
