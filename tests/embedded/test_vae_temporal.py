"""The VAE decoder's temporal stage: what it trains, that it resumes exactly, that it installs only into a Studio
model, and that the held-frames measurement counts what it says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.embedded import vae_temporal as T
from studio.embedded.checkpoint import load_checkpoint
from studio.embedded.temporal_measure import held_pairs, held_share
from studio.errors import ModelError
from studio.paths import RESOURCES

MODEL = RESOURCES / "models" / "studio-tiny"
# A few steps on tiny crops of short clips: under a second each on one CPU thread.
TINY = [
    "--seed",
    "0",
    "--batch",
    "1",
    "--frames",
    "5",
    "--crop",
    "16",
    "--threads",
    "1",
    "--steps",
    "4",
    "--save-every",
    "1",
    "--log-every",
    "1",
    "--stages",
    "train",
]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / T.CHECKPOINT)["model"]


def test_the_stage_trains_the_decoders_time_layers_and_leaves_the_encoder_alone(tmp_path) -> None:
    T.main(["--model", str(MODEL), "--out", str(tmp_path / "run"), *TINY])
    before = T.load_model_vae(MODEL, torch.device("cpu")).state_dict()
    after = _weights(tmp_path / "run")
    encoder = [k for k in before if k.startswith(("encoder.", "quant_conv."))]
    assert encoder and all(torch.equal(before[k], after[k]) for k in encoder)
    time_convs = [k for k in before if "time_conv.weight" in k and k.startswith("decoder.")]
    assert time_convs and any(not torch.equal(before[k], after[k]) for k in time_convs)
    # The last time tap of a causal conv is all a clip's first frame sees: held, so that frame decodes as before.
    conv_in = "decoder.conv_in.weight"
    assert not torch.equal(before[conv_in], after[conv_in])
    assert torch.equal(before[conv_in][:, :, -1], after[conv_in][:, :, -1])
    assert torch.equal(before["decoder.conv_in.bias"], after["decoder.conv_in.bias"])


def test_a_resumed_run_ends_with_the_weights_of_an_unbroken_one(tmp_path) -> None:
    T.main(["--model", str(MODEL), "--out", str(tmp_path / "whole"), *TINY])
    T.main(["--model", str(MODEL), "--out", str(tmp_path / "broken"), *TINY, "--stop-at", "2"])
    assert load_checkpoint(tmp_path / "broken" / T.CHECKPOINT)["step"] == 2
    T.main(["--model", str(MODEL), "--out", str(tmp_path / "broken"), *TINY, "--resume"])
    whole, broken = _weights(tmp_path / "whole"), _weights(tmp_path / "broken")
    assert all(torch.equal(whole[k], broken[k]) for k in whole)
    # A run continued with other settings would not end at the same weights: refused.
    with pytest.raises(SystemExit, match="trained with"):
        T.main(["--model", str(MODEL), "--out", str(tmp_path / "broken"), *TINY, "--resume", "--lr", "5e-4"])


def test_install_refuses_a_folder_that_is_not_a_studio_model(tmp_path) -> None:
    folder = tmp_path / "not-a-model"
    (folder / "vae").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    with pytest.raises(ModelError, match="studio_sizes.json is missing") as caught:
        T.main(["--model", str(folder), "--out", str(tmp_path / "run"), *TINY, "--install"])
    assert str(folder) in str(caught.value)
    assert not (tmp_path / "run").exists()  # refused before any training


def test_held_frames_count_repeated_pictures_while_the_object_moves() -> None:
    from studio.embedded.world import eval_specs, render

    real, _ = render(eval_specs(1)[0])
    assert held_pairs(real, real) == (0, 16)
    stepped = np.repeat(real[::4], 4, axis=0)[:17]  # each picture four times, as the per-frame VAE decodes
    assert held_pairs(stepped, real) == (12, 16)
    assert held_share([stepped, real], [real, real]) == pytest.approx(12 / 32)
    # Pairs where the true clip does not move are not counted, held or not.
    still = np.repeat(real[:1], 17, axis=0)
    assert held_pairs(still, still) == (0, 0)
    # Without a true clip (a generated one) every pair counts.
    assert held_pairs(stepped) == (12, 16)


def test_the_card_notes_the_new_vae_once() -> None:
    report = {
        "training": {"steps": 10},
        "command": "python -m studio.embedded.vae_temporal --steps 10",
        "eval_clips": 4,
        "before": {"held_frames": 0.75, "psnr": 26.0, "psnr_between_frames": 24.0, "first_frame_mad": 2.4},
        "after": {"held_frames": 0.01, "psnr": 27.0, "psnr_between_frames": 26.0, "first_frame_mad": 2.4},
    }
    card = (MODEL / "MODEL_CARD.md").read_text()
    once = T._card_with(card, report, None)
    twice = T._card_with(once, report, None)
    assert once == twice
    assert once.count(T.CARD_MARK) == 1 and once.count(T.PREVIEW_MARK) == 1
    assert "held frames 75% to 1%" in once
    lines = once.splitlines()
    assert lines[lines.index(next(x for x in lines if x.startswith(T.CARD_MARK))) - 1].startswith("  ")


@pytest.mark.slow
def test_install_writes_the_new_vae_and_the_old_preview_decoder_stops_matching(tmp_path) -> None:
    from studio.runtime import preview as P

    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    old_hash = P.vae_fingerprint(model)
    args = [
        "--model",
        str(model),
        "--out",
        str(tmp_path / "run"),
        *TINY[:-2],
        "--eval-clips",
        "2",
        "--install",
    ]
    with pytest.raises(SystemExit, match="not installed"):  # four steps measure worse than the shipped VAE
        T.main(args)
    assert P.vae_fingerprint(model) == old_hash
    T.main([*args, "--resume", "--force"])
    assert P.vae_fingerprint(model) != old_hash
    assert json.loads((model / "preview_decoder" / "config.json").read_text())["vae_sha256"] == old_hash
    # The old preview decoder no longer matches the VAE, so previews fall back to the colour map.
    assert P.shipped_decoder(model, 16, torch.device("cpu"), 4) is None
    assert T.CARD_MARK in (model / "MODEL_CARD.md").read_text()
    installed = T.load_model_vae(model, torch.device("cpu")).state_dict()
    trained = _weights(tmp_path / "run")
    assert all(torch.equal(installed[k], trained[k]) for k in trained)
