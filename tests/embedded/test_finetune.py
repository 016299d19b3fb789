"""The CPU fine-tune onto the richer world: it starts exactly from the shipped model and only adds words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_the_held_latents_term_pulls_only_the_masked_samples() -> None:
    from diffusers import AutoencoderKLWan

    from studio.embedded import scenes as S
    from studio.embedded import vae_training as V

    vae = AutoencoderKLWan.from_pretrained(MODEL / "vae").eval()
    drawn = [S.render_scene_frame(S.scene_for_condition(seed, condition), 4) for seed, condition in
             ((1, "base"), (2, "camera"))]
    x = V.to_tensor(np.stack([image[None] for image, _ in drawn]))
    cover = torch.from_numpy(np.stack([c[None] for _, c in drawn]))[:, None]
    mask = torch.tensor([True, False])
    with torch.no_grad():
        own = V.encode_mean(vae, x)[0]
        plain, parts = V.vae_loss(vae, x, cover)
        same, same_parts = V.vae_loss(vae, x, cover, keep=(mask, own[mask]))
        moved, moved_parts = V.vae_loss(vae, x, cover, keep=(mask, own[mask] + 0.5))
    assert "held" not in parts and same_parts["held"] < 1e-10 and float(same - plain) < 1e-6
    assert abs(moved_parts["held"] - 0.25) < 1e-4 and float(moved - plain) > 0.2
    # the camera frame's texture edges weigh in: its loss is not the object-only loss
    edges = V.texture_edges(x, cover).sum(dim=(1, 2, 3, 4))
    assert edges[1] > 10 * edges[0]  # the first world's frame: only its object's rim


@pytest.mark.slow
def test_the_vae_stage_tunes_a_copy_and_a_finished_stage_is_not_run_again(tmp_path) -> None:
    from diffusers import AutoencoderKLWan

    from studio.embedded.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = ["--model", str(MODEL), "--out", str(out), "--stages", "prepare,vae", "--vae-steps", "3",
            "--vae-batch", "3", "--save-every", "2"]
    FT.main(args)
    shipped = AutoencoderKLWan.from_pretrained(MODEL / "vae").state_dict()
    kept = load_checkpoint(out / "vae_shipped.json")["model"]
    tuned = load_checkpoint(out / "vae_final.json")["model"]
    assert all(torch.equal(kept[k], shipped[k]) for k in shipped)
    assert any(not torch.equal(tuned[k], shipped[k]) for k in shipped)
    assert load_checkpoint(out / "vae_texture.json")["step"] == 3
    before = (out / "vae_final.safetensors").read_bytes()
    FT.main([*args, "--resume"])
    assert (out / "vae_final.safetensors").read_bytes() == before
