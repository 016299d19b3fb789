"""The quality floor of a sequence on the embedded model (a small version of `bench_sequence.py --shots50`): six
shots, two characters, three "continue" cuts, at draft steps. Fails when the character, the motion or the seams
drop below the issue's figures (the seams as measured against the steps that move: see below)."""

from __future__ import annotations

import math

import pytest

from studio.engine import Engine
from studio.engine.engine import draft_copy
from studio.graph import NodeRegistry
from tests.directing.sequence_quality import EXAMPLE, score, sequence_graph, shot_rows


@pytest.mark.slow
def test_six_shots_keep_their_characters_motions_and_hide_their_seams():
    registry = NodeRegistry.default()
    rows = shot_rows(6)
    assert {r.get("character") for r in rows} == {"a", "b", None} and sum("transition" in r for r in rows) == 3
    graph, _ = draft_copy(sequence_graph(registry, rows), registry)
    result = Engine(registry).run(graph, base_dir=EXAMPLE.parent)
    assert result.ok, result.failed
    found = score(result.outputs["preview"]["video"], rows)
    # the targets, rounded up to whole shots: 95% of 6 is 6, 80% is 5, 90% of 3 seams is 3
    assert found["kept"] >= math.ceil(0.95 * 6), found
    assert found["obeyed"] >= math.ceil(0.80 * 6), found
    # seams: the figure, within the p95 of all in-shot frame-to-frame change in 90% of the continue cuts
    # (3 of 3). Before the VAE decoded 4 distinct frames per latent frame, 3 in 4 in-shot changes were 0 and this
    # held for 2 of 3; before seam_fade the redrawn first frame's offset put the seams just over the p95.
    assert found["seams_within"] >= math.ceil(0.90 * found["continues"]), found
    # and each seam within the p95 of the two shots it joins, the motion around it: with seam_blend (the continued
    # frame carried along the new shot's motion) 25 of 25 in the 50-shot run and 3 of 3 here, against 17 of 25 and
    # 2 of 3 with seam_fade, whose seams still showed the model's fresh grain and edge colours in one step
    assert found["seams_within_local"] == found["continues"], found
