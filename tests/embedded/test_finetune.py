"""The CPU fine-tune onto the richer world: it starts exactly from the shipped model and only adds words."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.embedded import finetune as FT

MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "studio-tiny"


def test_growing_the_vocabulary_keeps_every_old_row_and_refuses_to_shrink() -> None:
    table = torch.randn(29, 8)
    old = {"shared.weight": table, "encoder.embed_tokens.weight": table, "encoder.block.0.w": torch.ones(3)}
    grown = FT.grown_text_encoder_state(old, 38, seed=0)
    for key in ("shared.weight", "encoder.embed_tokens.weight"):
        assert grown[key].shape == (38, 8)
        assert torch.equal(grown[key][:29], table)
        assert 0.3 < float(grown[key][29:].std() / table.std()) < 3.0  # at the old rows' scale
    assert torch.equal(grown["shared.weight"], grown["encoder.embed_tokens.weight"])  # still tied
    assert grown["encoder.block.0.w"] is old["encoder.block.0.w"]
    with pytest.raises(ValueError, match="smaller"):
        FT.grown_text_encoder_state(old, 20, seed=0)


@pytest.mark.slow
def test_a_run_at_step_0_exports_the_shipped_model_with_new_words(tmp_path) -> None:
    from diffusers import DiffusionPipeline

    out = tmp_path / "run"
    FT.main(["--model", str(MODEL), "--out", str(out), "--stages", "prepare,latents,export", "--clips", "25",
             "--mix", "camera=0", "--projection-clips", "1"])
    new = DiffusionPipeline.from_pretrained(out / "pipeline")
    old = DiffusionPipeline.from_pretrained(MODEL)
    for a, b in zip(new.transformer.state_dict().values(), old.transformer.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # An old prompt is the same tokens, so the same embedding: nothing the shipped model knew has moved.
    prompt = "a red circle moves left on a black background"
    embeds = [p.encode_prompt(prompt, do_classifier_free_guidance=False, max_sequence_length=16)[0]
              for p in (new, old)]
    assert torch.equal(embeds[0], embeds[1])
    ids = new.tokenizer("the camera pans left on a checkered background").input_ids
    assert new.tokenizer.unk_token_id not in ids
    assert old.tokenizer.unk_token_id in old.tokenizer("the camera pans left").input_ids
    # Camera clips were left out (mixed at 0): their words have token ids but are not listed as known, so
    # Studio warns when a prompt uses them.
    from studio.runtime.vocabulary import read_vocabulary

    known = read_vocabulary(out / "pipeline")
    assert known is not None and known.knows("circle") and known.knows("still")
    assert not known.knows("pans") and not known.knows("zooms")
    assert (out / "pipeline" / "preview_decoder" / "model.safetensors").read_bytes() == \
        (MODEL / "preview_decoder" / "model.safetensors").read_bytes()


def test_the_mix_drops_or_repeats_a_condition_and_refuses_what_it_does_not_know() -> None:
    mix = FT.parse_mix("camera=0,two_objects=2")
    assert mix == {"base": 1, "textured": 1, "camera": 0, "two_objects": 2}
    assert FT.mixed_indices(["base", "camera", "two_objects", "textured"], mix) == [0, 2, 2, 3]
    with pytest.raises(SystemExit, match="dolly"):
        FT.parse_mix("dolly=1")
    with pytest.raises(SystemExit, match="CONDITION=TIMES"):
        FT.parse_mix("camera=half")
