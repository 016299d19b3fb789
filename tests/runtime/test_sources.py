"""Finding and loading models: folders, the HF cache, the embedded model, refusals, listing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio import paths
from studio.errors import ModelError
from studio.runtime import LoadOptions, list_models, load_model, loading, preview, resolve_source
from studio.runtime.tiny import build_tiny_pipeline, main


def _copy(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


def test_loaded_model_describes_itself(tiny_model, tiny_folder):
    model = tiny_model("wan")
    assert model.family == "wan" and model.device == "cpu" and model.dtype == "float32"
    assert model.capabilities == {"t2v", "v2v"}
    assert model.nbytes > 100_000
    assert len(model.weights_id) == 32
    assert model.source == tiny_folder("wan").resolve()
    assert model.defaults == {
        "num_frames": 9,
        "height": 32,
        "width": 32,
        "fps": 8,
        "steps": 4,
        "guidance": 3.0,
    }
    assert not model.is_placeholder


def test_weights_id_is_stable_and_tells_weights_apart(tiny_folder, tmp_path):
    folder = tiny_folder("wan")
    assert loading.weights_id(folder) == loading.weights_id(_copy(folder, tmp_path / "copy"))
    other = build_tiny_pipeline("wan", tmp_path / "other", seed=1)
    assert loading.weights_id(other) != loading.weights_id(folder)


def test_relative_folder_resolves_against_the_graph_folder(tiny_folder, tmp_path):
    _copy(tiny_folder("ltx"), tmp_path / "models" / "mine")
    assert resolve_source("models/mine", base_dir=tmp_path) == (tmp_path / "models" / "mine").resolve()
    assert load_model("models/mine", base_dir=tmp_path).family == "ltx"


def test_missing_source_says_where_it_looked(tmp_path):
    with pytest.raises(ModelError, match="not found; looked in folder") as info:
        resolve_source("nowhere/at-all", base_dir=tmp_path)
    assert "Hugging Face cache" in str(info.value) and "huggingface-cli download nowhere/at-all" in str(
        info.value
    )
    with pytest.raises(ModelError, match="check the path"):
        resolve_source(str(tmp_path / "a" / "b" / "c"))


def _fake_hf_cache(root: Path, repo_id: str, source: Path) -> Path:
    repo = root / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "blobs").mkdir()
    return _copy(source, repo / "snapshots" / commit)


def test_repo_id_found_in_the_hf_cache_and_listed(tiny_folder, tmp_path, monkeypatch):
    from huggingface_hub import constants

    snapshot = _fake_hf_cache(tmp_path / "hub", "tiny-org/tiny-cog", tiny_folder("cogvideox"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_source("tiny-org/tiny-cog") == snapshot
    model = load_model("tiny-org/tiny-cog")
    assert model.name == "tiny-org/tiny-cog" and model.family == "cogvideox"
    listed = [m for m in list_models() if m.kind == "hf-cache"]
    assert [(m.name, m.source, m.family) for m in listed] == [
        ("tiny-org/tiny-cog", "tiny-org/tiny-cog", "cogvideox")
    ]


def test_embedded_falls_back_to_a_quiet_random_wan_placeholder(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(loading, "embedded_folder", lambda: tmp_path / "not-trained-yet")
    folder = resolve_source("embedded")
    assert folder == paths.cache_dir() / "models" / "random-wan"
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    model = load_model("embedded")
    assert model.is_placeholder and model.family == "wan" and model.name == "studio-tiny"
    assert model.capabilities == {"t2v", "i2v", "v2v"}
    assert resolve_source("embedded") == folder  # built once
    entry = next(m for m in list_models() if m.kind == "embedded")
    assert entry.source == "embedded" and entry.is_placeholder


def test_embedded_uses_the_trained_model_when_present(tiny_folder, tmp_path, monkeypatch):
    trained = _copy(tiny_folder("wan"), tmp_path / "studio-tiny")
    monkeypatch.setattr(loading, "embedded_folder", lambda: trained)
    assert resolve_source("embedded") == trained
    assert not load_model("embedded").is_placeholder


def test_folder_without_model_index(tmp_path):
    with pytest.raises(ModelError, match="no model_index.json"):
        load_model(str(tmp_path))


def test_pickle_only_weights_are_refused(tiny_folder, tmp_path):
    folder = _copy(tiny_folder("wan"), tmp_path / "pickled")
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()
    (folder / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(ModelError, match="only pickle weights.*convert the weights to safetensors"):
        load_model(str(folder))


def test_unsupported_pipeline_class_lists_the_supported_ones(tiny_folder, tmp_path):
    folder = _copy(tiny_folder("wan"), tmp_path / "sd")
    index = json.loads((folder / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionPipeline"
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match="not a video pipeline Studio supports") as info:
        load_model(str(folder))
    for name in ("WanPipeline", "LTXConditionPipeline", "CogVideoXVideoToVideoPipeline"):
        assert name in str(info.value)


def test_components_from_other_libraries_are_refused(tiny_folder, tmp_path):
    folder = _copy(tiny_folder("wan"), tmp_path / "remote")
    index = json.loads((folder / "model_index.json").read_text())
    index["transformer"] = ["my_remote_code", "EvilTransformer"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match="never remote code"):
        load_model(str(folder))


def test_bad_load_options():
    with pytest.raises(ModelError, match="unknown device"):
        load_model("embedded", LoadOptions(device="tpu"))
    with pytest.raises(ModelError, match="unknown dtype"):
        load_model("embedded", LoadOptions(dtype="int8"))
    with pytest.raises(ModelError, match="unknown offload"):
        load_model("embedded", LoadOptions(offload="disk"))
    with pytest.raises(ModelError, match="no CUDA GPU"):
        load_model("embedded", LoadOptions(device="cuda"))


def test_offload_is_ignored_off_cuda(tiny_folder):
    model = load_model(str(tiny_folder("ltx")), LoadOptions(device="cpu", offload="model", vae_tiling=True))
    assert model.options.offload == "none" and model.pipe.vae.use_tiling


def test_release_drops_the_pipeline(tiny_folder):
    model = load_model(str(tiny_folder("ltx")))
    model.release()
    assert model.pipe is None
    from studio.runtime import encode_prompt

    with pytest.raises(ModelError, match="released"):
        encode_prompt(model, "a cat")


def test_list_models_finds_user_folders(tiny_folder, tmp_path):
    _copy(tiny_folder("ltx"), tmp_path / "collection" / "ltx-mine")
    (tmp_path / "collection" / "not-a-model").mkdir()
    found = list_models([tmp_path / "collection", tiny_folder("cogvideox")])
    folders = {(m.name, m.family, m.class_name) for m in found if m.kind == "folder"}
    assert ("ltx-mine", "ltx", "LTXPipeline") in folders
    assert (tiny_folder("cogvideox").name, "cogvideox", "CogVideoXPipeline") in folders
    assert any(m.kind == "embedded" and m.source == "embedded" for m in found)


def test_preview_projection_is_cached_on_disk_without_pickle(tiny_folder, tiny_embeds):
    from studio.runtime import VideoRequest, sample

    model = load_model(str(tiny_folder("cogvideox")))
    sample(model, tiny_embeds(model), VideoRequest(9, 32, 32, steps=1), on_step=lambda u: None)
    cached = preview.cache_path(model.weights_id)
    assert cached.parent == paths.cache_dir() / "previews"
    with np.load(cached, allow_pickle=False) as data:
        assert data["matrix"].shape == (4, 3) and data["bias"].shape == (3,)
    again = load_model(str(tiny_folder("cogvideox")))
    projection = preview.LatentProjection.load(cached, 4)
    assert projection is not None
    sample(again, tiny_embeds(again), VideoRequest(9, 32, 32, steps=1), on_step=lambda u: None)
    assert np.array_equal(again._previewer.matrix.numpy(), projection.matrix)


def test_frame_to_latent_index_follows_the_causal_vae():
    assert preview.frame_to_latent_index(9, 3, 4).tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_tiny_cli_builds_a_loadable_folder(tmp_path, capsys):
    assert main(["ltx", str(tmp_path / "cli-ltx")]) == 0
    assert (tmp_path / "cli-ltx" / "model_index.json").is_file()
    assert load_model(str(tmp_path / "cli-ltx")).family == "ltx"
