"""Training plumbing: pickle-free checkpoints that resume exactly, and the parallel world drawing."""

from __future__ import annotations

import json

import pytest
import torch

from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint, save_checkpoint


def _trained_optimizer() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.99))
    for _ in range(3):
        loss = model(torch.randn(5, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, optimizer


def test_checkpoint_round_trip_resumes_training_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model, optimizer = _trained_optimizer()
    path = tmp_path / "run.json"
    save_checkpoint(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 3, "captions": ["a", "b"]},
        path,
    )
    assert exists(path)
    # Data only: the JSON holds no code, and the tensors are in a safetensors file beside it.
    record = json.loads(path.read_text())
    assert record["tensors"] == "run.safetensors"
    state = load_checkpoint(path)
    assert state["step"] == 3 and state["captions"] == ["a", "b"]

    clone = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
    clone.load_state_dict(state["model"])
    clone_optimizer = torch.optim.AdamW(clone.parameters(), lr=1e-2)
    clone_optimizer.load_state_dict(state["optimizer"])
    batch = torch.randn(5, 4)
    for m, o in ((model, optimizer), (clone, clone_optimizer)):
        loss = m(batch).pow(2).mean()
        o.zero_grad()
        loss.backward()
        o.step()
    for a, b in zip(model.parameters(), clone.parameters(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_loads_only_the_entries_asked_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    save_checkpoint({"latents": torch.randn(5, 4), "mean": torch.arange(4.0), "std": torch.ones(4),
                     "captions": ["a"] * 5}, tmp_path / "l.json")
    stats = load_checkpoint(tmp_path / "l.json", keys=("mean", "std"))
    assert set(stats) == {"mean", "std"} and torch.equal(stats["mean"], torch.arange(4.0))


def test_checkpoint_refuses_values_json_cannot_hold(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="object"):
        save_checkpoint({"bad": object()}, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_checkpoint_saves_views_and_tied_tensors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = torch.arange(24.0).reshape(4, 6)
    save_checkpoint({"view": base.t(), "same": base, "again": base}, tmp_path / "v.json")
    state = load_checkpoint(tmp_path / "v.json")
    assert torch.equal(state["view"], base.t()) and torch.equal(state["again"], base)


def test_frame_batches_from_worker_processes_equal_in_process() -> None:
    local = V.frame_batches(3, base_seed=5, workers=0, first_step=10)
    pooled = V.frame_batches(3, base_seed=5, workers=2, first_step=10)
    for _ in range(2):
        (xa, ca), (xb, cb) = next(local), next(pooled)
        assert xa.shape == (3, 3, 1, 64, 64) and ca.shape == (3, 1, 1, 64, 64)
        assert torch.equal(xa, xb) and torch.equal(ca, cb)
    pooled.close()


def test_transformer_stage_stops_and_resumes_from_its_checkpoint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from studio.embedded import train
    from studio.embedded.world import spec_for_seed

    run = tmp_path / "run"
    run.mkdir()
    sizes = '{"dit_layers": 1, "dit_ffn": 64, "dit_heads": 2, "dit_head_dim": 16}'
    latents = torch.randn(6, 16, 5, 8, 8)
    captions = [spec_for_seed(i).caption for i in range(6)]
    save_checkpoint(
        {
            "latents": latents,
            "captions": captions,
            "mean": latents.mean((0, 2, 3, 4)),
            "std": latents.std((0, 2, 3, 4)),
        },
        run / "latents.json",
    )
    common = [
        "--out",
        str(run),
        "--resume",
        "--stages",
        "dit",
        "--dit-batch",
        "2",
        "--save-every",
        "2",
        "--sizes",
        sizes,
    ]
    train.main([*common, "--dit-steps", "2"])
    first = load_checkpoint(run / "dit.json")
    assert first["step"] == 2 and json.loads((run / "sizes.json").read_text())["dit_layers"] == 1
    train.main([*common, "--dit-steps", "4", "--dit-schedule", "cosine"])
    second = load_checkpoint(run / "dit.json")
    assert second["step"] == 4
    moved = [not torch.equal(first["transformer"][k], second["transformer"][k]) for k in first["transformer"]]
    assert any(moved)
    assert "from step 2 to 4" in (run / "train.log").read_text()
