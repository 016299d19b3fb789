"""The preview decoder's training: a run stopped at a checkpoint and resumed ends where an unbroken run does."""

from __future__ import annotations

import argparse

import torch

from studio.embedded import preview_data as D
from studio.embedded import preview_training as T
from studio.embedded.checkpoint import load_checkpoint, save_checkpoint
from studio.runtime.loading import embedded_folder


def _run(out, steps: int) -> None:
    args = argparse.Namespace(
        model=embedded_folder(), seed=3, steps=steps, batch=2, lr=2e-3, save_every=2, widths=(8, 4), device="cpu"
    )
    T.train(args, out)


def test_a_resumed_run_ends_where_an_unbroken_one_does(tmp_path):
    generator = torch.Generator().manual_seed(0)
    shape = D.ClipShape.of(embedded_folder())
    pairs = D.Pairs(
        latents=torch.randn(6, 16, 5, 8, 8, generator=generator),
        targets=torch.randint(0, 256, (6, 5, 3, 64, 64), generator=generator, dtype=torch.uint8),
        target_index=D.target_index(True, 5, shape),
        progress=torch.ones(6),
    )
    for name in ("whole", "broken"):
        (tmp_path / name).mkdir()
        save_checkpoint(pairs.to_dict() | {"per_frame": True}, tmp_path / name / "data.json")
    _run(tmp_path / "whole", steps=4)
    # As if killed after its checkpoint at step 2 (in the warm-up the learning rate does not depend on the total).
    _run(tmp_path / "broken", steps=2)
    assert load_checkpoint(tmp_path / "broken" / "decoder.json")["step"] == 2
    _run(tmp_path / "broken", steps=4)
    whole = load_checkpoint(tmp_path / "whole" / "decoder.json")
    resumed = load_checkpoint(tmp_path / "broken" / "decoder.json")
    assert resumed["step"] == 4
    for key, tensor in whole["model"].items():
        assert torch.equal(tensor, resumed["model"][key]), key
