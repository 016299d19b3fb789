"""A model's weights identity is read from its files once, then known by their stat stamps, here and in the
next process (the cache file); a changed file is read again."""

from __future__ import annotations

import json
import os

import pytest

from studio import paths
from studio.runtime import model_files


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A model folder with two weights files (weights_id reads only bytes: no real safetensors needed), and a
    process that has seen no model yet."""
    monkeypatch.setattr(model_files, "_ids", {})
    root = tmp_path / "model"
    (root / "transformer").mkdir(parents=True)
    (root / "vae").mkdir()
    (root / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(os.urandom(3 << 20))
    (root / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(os.urandom(1000))
    return root


def _forge(folder, fake: str) -> None:
    """Put ``fake`` in the cache file for ``folder``, with its true stamps: what the next process will read."""
    cache = paths.cache_dir() / "weights-ids.json"
    data = json.loads(cache.read_text(encoding="utf-8"))
    data[str(folder.resolve())]["id"] = fake
    cache.write_text(json.dumps(data), encoding="utf-8")


def test_unchanged_files_are_not_read_again_in_the_next_process(folder, monkeypatch):
    first = model_files.weights_id(folder)
    assert first == model_files._read_weights_id(folder, sorted(folder.rglob("*.safetensors")))
    fake = "f" * 32
    _forge(folder, fake)
    monkeypatch.setattr(model_files, "_ids", {})  # the next process: only the cache file knows the folder
    assert model_files.weights_id(folder) == fake  # taken from the stamps, the files were not hashed
    assert model_files.weights_id(folder) == fake  # and remembered in this process


def test_a_changed_file_is_read_again(folder, monkeypatch):
    first = model_files.weights_id(folder)
    _forge(folder, "f" * 32)
    monkeypatch.setattr(model_files, "_ids", {})
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[0] ^= 0xFF  # same size, a new first byte, written in place
    weights.write_bytes(bytes(data))
    changed = model_files.weights_id(folder)
    assert changed not in (first, "f" * 32)
    assert changed == model_files._read_weights_id(folder, sorted(folder.rglob("*.safetensors")))


def test_a_new_file_is_read_again(folder):
    first = model_files.weights_id(folder)
    (folder / "text_encoder").mkdir()
    (folder / "text_encoder" / "model.safetensors").write_bytes(b"x" * 100)
    assert model_files.weights_id(folder) != first


def test_an_unwritable_cache_still_gives_the_id(folder, monkeypatch, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where Studio's folders would be")
    monkeypatch.setenv("STUDIO_HOME", str(blocked))
    assert model_files.weights_id(folder) == model_files._read_weights_id(
        folder, sorted(folder.rglob("*.safetensors")))
