"""Prompt schedules: parsing, segment planning at valid lengths, blend weights, embedding mixes."""

from __future__ import annotations

import numpy as np
import pytest

from studio.directing import DirectingError
from studio.directing.prompts import Segment, parse_schedule, plan_segments


def test_schedule_parsing():
    assert parse_schedule([{"time": 2, "prompt": " night "}], "day") == ((0.0, "day"), (2.0, "night"))
    assert parse_schedule([{"time": 0, "prompt": "dawn"}, {"time": 1, "prompt": "noon"}], "day") == \
        ((0.0, "dawn"), (1.0, "noon"))
    assert parse_schedule([{"time": 1, "prompt": "noon"}], "") == ((0.0, "noon"), (1.0, "noon"))
    for bad, message in (([{"time": 2, "prompt": "a"}, {"time": 1, "prompt": "b"}], "out of order"),
                         ([{"time": -1, "prompt": "a"}], "time"), ([{"time": 1, "prompt": ""}], "prompt"),
                         ([{"at": 1, "prompt": "a"}], "object"), ("night", "list")):
        with pytest.raises(DirectingError, match=message):
            parse_schedule(bad, "day")


def test_cue_entries_take_their_time_from_a_signal():
    from studio.directing.prompts import cue_times

    signal = [0, 0, 1, 1, 0, 0, 0.7, 0, 0, 0]
    cues = cue_times(signal, fps=4)
    assert cues == [0.5, 1.5]
    schedule = [{"cue": 2, "prompt": "the drop"}, {"time": 2.0, "prompt": "after"}]
    assert parse_schedule(schedule, "intro", cues) == ((0.0, "intro"), (1.5, "the drop"), (2.0, "after"))
    with pytest.raises(DirectingError, match="rises only 2"):
        parse_schedule([{"cue": 3, "prompt": "x"}], "intro", cues)
    with pytest.raises(DirectingError, match="no cue signal"):
        parse_schedule([{"cue": 1, "prompt": "x"}], "intro", None)
    with pytest.raises(DirectingError, match="out of order"):
        parse_schedule([{"time": 1.8, "prompt": "x"}, {"cue": 2, "prompt": "y"}], "intro", cues)


def test_segments_have_valid_lengths_share_boundaries_and_cover_the_clip():
    sections = ((0.0, "a"), (2.0, "b"), (3.1, "c"))
    for blend in (0.0, 0.5, 1.0):
        segments = plan_segments(sections, blend, num_frames=81, fps=16, step=4)
        assert segments[0].start == 0 and segments[-1].end == 80
        for before, after in zip(segments, segments[1:], strict=False):
            assert after.start == before.end  # chained: the last frame is the next one's first
        assert all((s.num_frames - 1) % 4 == 0 and s.num_frames >= 5 for s in segments)
    plain = plan_segments(sections, 0.0, 81, 16, 4)
    assert [s.start for s in plain] == [0, 32, 48] and [s.weights for s in plain] == [((0, 1.0),), ((1, 1.0),),
                                                                                       ((2, 1.0),)]
    blended = plan_segments(((0.0, "a"), (2.0, "b")), 0.5, 81, 16, 4)
    # 0.5 s at 16 fps = 8 frames = two ramp segments of 4 frames: 1/3 and 2/3 of the new prompt
    assert blended[1] == Segment(32, 36, ((0, pytest.approx(2 / 3)), (1, pytest.approx(1 / 3))))
    assert blended[2].weights[1][1] == pytest.approx(2 / 3) and blended[3].weights == ((1, 1.0),)


def test_changes_too_close_or_past_the_end_merge_away():
    segments = plan_segments(((0.0, "a"), (0.05, "b"), (9.0, "c")), 0.0, 17, 8, 4)
    assert segments == [Segment(0, 16, ((0, 1.0),))]
    with pytest.raises(DirectingError, match="4k\\+1"):
        plan_segments(((0.0, "a"),), 0.0, 16, 8, 4)


def test_embedding_mix_is_a_weighted_sum_and_joins_masks():
    import torch

    from studio.runtime import PromptEmbeds
    from studio.runtime.recipes.chain import mix_embeddings

    a = PromptEmbeds({"prompt_embeds": torch.ones(1, 2, 3), "prompt_attention_mask": torch.tensor([[1, 0]])})
    b = PromptEmbeds({"prompt_embeds": torch.zeros(1, 2, 3), "prompt_attention_mask": torch.tensor([[1, 1]])})
    mixed = mix_embeddings([(a, 0.25), (b, 0.75)])
    assert torch.allclose(mixed["prompt_embeds"], torch.full((1, 2, 3), 0.25))
    assert mixed["prompt_attention_mask"].tolist() == [[1, 1]]


def test_timed_weights_sum_to_one_and_ramp_over_the_blend():
    from studio.directing.prompts import latent_weights, section_weights

    sections = ((0.0, "a"), (1.0, "b"), (2.0, "c"))
    w = section_weights(sections, blend=0.5, num_frames=41, fps=16)
    assert w.shape == (3, 41) and np.allclose(w.sum(axis=0), 1.0)
    assert w[:, 0].tolist() == [1, 0, 0] and w[:, 24].tolist() == [0, 1, 0] and w[:, 40].tolist() == [0, 0, 1]
    ramp = w[1, 8:24]  # b fades in from 0.75 s to 1.25 s
    assert np.all(np.diff(ramp) >= 0) and w[1, 16] == pytest.approx(0.5)
    hard = section_weights(sections, blend=0.0, num_frames=41, fps=16)
    assert hard[:, 15].tolist() == [1, 0, 0] and hard[:, 16].tolist() == [0, 1, 0]
    latent = latent_weights(w, temporal=4, latent_frames=9)
    assert latent.shape == (3, 9) and np.allclose(latent.sum(axis=0), 1.0)
    assert latent[:, 0].tolist() == [1, 0, 0] and latent[1, 4] == pytest.approx(w[1, 13:17].mean())
