"""A one-pass prompt schedule's change plays as a cross-dissolve: each prompt's stretch of latent frames is
decoded apart and the stretches mixed by the schedule's weights, instead of the VAE morphing one scene into the
other over a latent frame (blobs of both colours in the prompt-schedule example's frames 33-35)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.directing.prompts import plan_section_decodes, section_weights

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
TWO = ((0.0, "a red circle on a gray background"), (2.0, "a green square on a white background"))


def covered(plan) -> np.ndarray:
    return np.arange(plan.first_frame, plan.first_frame + plan.num_frames)


@pytest.mark.parametrize("sections, blend", [
    (TWO, 0.25), (TWO, 0.0), (TWO, 1.0),
    (((0.0, "a"), (1.0, "b"), (1.1, "c"), (3.0, "d")), 0.0),  # 'b' too short to own a latent frame
    (((0.0, "a"), (0.5, "b"), (2.5, "c")), 0.5),
])
def test_each_stretch_covers_its_frames_and_the_shares_sum_to_one(sections, blend):
    weights = section_weights(sections, blend, 65, 16.0)
    plans = plan_section_decodes(weights, 4, 17)
    assert np.allclose(sum(p.weights for p in plans), 1.0)
    for plan in plans:
        seen = np.flatnonzero(plan.weights > 0)
        assert set(seen) <= set(covered(plan)), plan
        assert list(plan.latents) == sorted(plan.latents) and plan.latents[-1] <= 16
        # a stretch repeats only its edge latent frames (held), never another prompt's frame in between
        inner = [j for j in plan.latents if plan.latents[0] < j < plan.latents[-1]]
        assert len(inner) == len(set(inner))


# the latent steps of the example's render (seed 7): the change to the green square at latent frame 9 jumps
EXAMPLE_STEPS = np.array([4.5, 5.6, 17.9, 18.3, 27.6, 26.6, 20.8, 11.7, 72.2, 14.7, 8.7, 11.4, 8.3, 8.5, 4.4, 2.4])


def test_the_example_decodes_as_two_stretches_each_held_past_its_end():
    weights = section_weights(TWO, 0.25, 65, 16.0)
    first, second = plan_section_decodes(weights, 4, 17, EXAMPLE_STEPS)
    assert (first.sections, second.sections) == ((0,), (1,))
    assert first.latents == (0, 1, 2, 3, 4, 5, 6, 7, 8, 8)  # the red circle held over the blend's later frames
    assert second.latents[:4] == (9, 9, 9, 10) and second.first_frame == 28  # the green square held before
    assert np.flatnonzero((first.weights > 0) & (second.weights > 0)).tolist() == [31, 32, 33]  # the dissolve


def test_a_single_prompt_is_one_stretch_of_every_latent_frame():
    (plan,) = plan_section_decodes(section_weights(((0.0, "a"),), 0.5, 65, 16.0), 4, 17)
    assert plan.latents == tuple(range(17)) and plan.first_frame == 0 and plan.num_frames == 65


def test_a_change_within_one_scene_stays_one_stretch():
    # "a red circle moves left" -> "... moves right" (seed 7): the change is a step like the others
    steps = np.array([30.3, 28.7, 15.4, 3.5, 9.5, 15.0, 19.4, 19.3, 20.5, 27.0, 27.6, 29.3, 22.1, 18.0, 16.3, 25.1])
    (plan,) = plan_section_decodes(section_weights(TWO, 0.25, 65, 16.0), 4, 17, steps)
    assert plan.sections == (0, 1) and plan.latents == tuple(range(17)) and np.allclose(plan.weights, 1.0)
    three = (*TWO, (3.0, "a green square shrinks on a white background"))
    steps = EXAMPLE_STEPS.copy()
    plans = plan_section_decodes(section_weights(three, 0.25, 65, 16.0), 4, 17, steps)
    assert [p.sections for p in plans] == [(0,), (1, 2)]  # a cut, then the same scene shrinking


def test_decode_mixes_the_stretches_and_keeps_the_first_prompts_frames(tiny_wan):
    import torch

    from studio.runtime import load_model
    from studio.runtime.families import geometry
    from studio.runtime.sampling import Latents, decode, decode_schedule

    model = load_model(str(tiny_wan))
    geo = geometry(model.spec, model.pipe)
    frames = 33
    channels = int(model.pipe.vae.config.z_dim)
    shape = (1, channels, geo.latent_frames(frames), 32 // geo.spatial, 32 // geo.spatial)
    tensor = 0.2 * torch.randn(shape, generator=torch.Generator().manual_seed(0))
    weights = section_weights(((0.0, "a"), (1.2, "b")), 0.25, frames, 16.0)
    cut = plan_section_decodes(weights, geo.temporal, shape[2])[1].latents[0]  # the new prompt's first latent
    same_scene = Latents(tensor.clone(), model.spec.name, model.weights_id, frames, 32, 32, 0, "t2v")
    tensor[:, :, cut:] += 2.0  # the second prompt drew another scene
    latents = Latents(tensor, model.spec.name, model.weights_id, frames, 32, 32, 0, "t2v")
    plain = decode(model, latents)
    one = decode_schedule(model, latents, section_weights(((0.0, "a"),), 0.0, frames, 16.0))
    np.testing.assert_array_equal(one, plain)
    # a change within one scene decodes as one clip, exactly as before
    np.testing.assert_array_equal(decode_schedule(model, same_scene, weights), decode(model, same_scene))
    mixed = decode_schedule(model, latents, weights)
    assert mixed.shape == plain.shape
    before = int(np.flatnonzero(weights[1] > 0)[0])
    # the VAE decodes in time order: the first prompt's frames come out as in one clip up to its change
    np.testing.assert_array_equal(mixed[:before], plain[:before])
    assert not np.array_equal(mixed[before:], plain[before:])


def transition_mess(frames: np.ndarray, a: int, b: int) -> float:
    """How far the frames between ``a`` and ``b`` are from any cross-fade of the two (mean per pixel value)."""
    old, new = frames[a].astype(np.float64), frames[b].astype(np.float64)
    worst = 0.0
    for i in range(a + 1, b):
        d, x = (new - old).ravel(), (frames[i] - old).ravel()
        t = float(np.clip(d @ x / (d @ d), 0, 1))
        worst = max(worst, float(np.abs(x - t * d).mean()))
    return worst


@pytest.mark.slow
def test_the_example_dissolves_cleanly_and_obeys_both_prompts(tmp_path):
    from studio.embedded.analysis import analyse
    from studio.engine import Engine
    from studio.engine.engine import draft_copy
    from studio.graph import NodeRegistry, load_graph
    from studio.runtime.loading import embedded_folder

    if not (embedded_folder() / "model_index.json").is_file():
        pytest.skip("the embedded model is not trained yet")
    registry = NodeRegistry.default()
    shutil.copy(EXAMPLES / "prompt-schedule.studio.json", tmp_path)
    graph = load_graph(tmp_path / "prompt-schedule.studio.json", registry)
    engine = Engine(registry)
    for draft in (False, True):
        result = engine.run(draft_copy(graph, registry)[0] if draft else graph, base_dir=tmp_path)
        assert result.ok, result.failed
        frames = result.outputs["generate"]["video"].frames
        # decoded as one clip: 20.0 (full) and 22.8 (draft), frames 33-35 blobs of red, blue and white; now 4.6
        # and 12.4 (the draft's square grows a tail over frames 33-38 as it did before: that is what it drew)
        assert transition_mess(frames, 29, 38) < (16.0 if draft else 9.0), draft
        for (text, lo, hi) in ((TWO[0][1], 0, 28), (TWO[1][1], 40, 65)):
            said = re.search(r"\b(red|green)\b", text).group(1)
            assert analyse(frames[lo:hi]).colour == said, (draft, text)
