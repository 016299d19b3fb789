"""`studio render` renders unwatched: no live preview is decoded at any step (a terminal shows none), while the
editor's run of the same graph streams one at every step, and both make the same clip (tiny Wan pipeline)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.cli.render import _run_to_end
from studio.engine import Engine, NodeProgress
from studio.engine.outputs import OutputPolicy
from studio.graph import NodeRegistry
from studio.runtime.watching import previews_watched, unwatched
from tests.graphs import sequence_graph, text_to_video


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


def previews_of(events: list, node_id: str) -> list:
    """The preview of each denoising step's event (a sequence also says which shot renders, with none)."""
    return [e.preview for e in events if isinstance(e, NodeProgress) and e.node_id == node_id and e.step > 0
            and (not e.message or "step " in e.message)]


@pytest.mark.parametrize("build, node_id, output", [
    (lambda r, m: text_to_video(r, m, preview=True), "generate", "video"),
    (lambda r, m: sequence_graph(r, m, [{"prompt": "a red circle moves left", "seconds": 1.0, "seed": 1}],
                                 preview=True), "sequence", "video"),
])
def test_the_cli_decodes_no_preview_and_makes_the_same_clip(registry, tiny_wan, build, node_id, output,
                                                            tmp_path, monkeypatch):
    graph = build(registry, tiny_wan)
    cli_events: list = []
    cli = _run_to_end(Engine(registry), graph, cli_events.append, None, OutputPolicy())
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "another-home"))  # the shot store would hold the shot
    editor_events: list = []
    editor = Engine(registry).run(graph, listener=editor_events.append)
    assert cli.ok and editor.ok
    cli_previews, editor_previews = previews_of(cli_events, node_id), previews_of(editor_events, node_id)
    assert cli_previews and len(cli_previews) == len(editor_previews)  # the step bar still moves
    assert all(p is None for p in cli_previews)
    assert all(p is not None and p.ndim == 4 for p in editor_previews)
    np.testing.assert_array_equal(cli.outputs[node_id][output].frames, editor.outputs[node_id][output].frames)


def test_unwatched_holds_in_its_own_context_only():
    seen = {}
    with unwatched():
        assert not previews_watched()
        other = threading.Thread(target=lambda: seen.setdefault("thread", previews_watched()))
        other.start()
        other.join()
    assert previews_watched() and seen["thread"] is True  # the editor's render threads stay watched
