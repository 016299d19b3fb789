"""A LoRA on Load Model: a tiny random LoRA for the tiny Wan pipeline changes the clip at strength > 0, leaves
it untouched at 0, is recorded in the clip's Generation, and a wrong file is refused with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.errors import ModelError
from studio.runtime import LoadOptions, VideoRequest, decode, encode_prompt, load_model, sample

pytest.importorskip("peft", reason="LoRA loading needs peft (pyproject: add 'peft>=0.17')")


def make_tiny_lora(model_folder: Path, dest: Path, seed: int = 0) -> Path:
    """A random rank-4 LoRA on the attention projections of the tiny Wan transformer, saved as diffusers
    saves LoRAs (transformer.* keys in pytorch_lora_weights.safetensors)."""
    import diffusers
    import torch
    from peft import LoraConfig, get_peft_model_state_dict

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        transformer = diffusers.WanTransformer3DModel.from_pretrained(model_folder / "transformer")
        # init_lora_weights=False: random B as well as A, so the adapter changes the output
        transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                           target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
        layers = get_peft_model_state_dict(transformer)
    diffusers.WanPipeline.save_lora_weights(dest, transformer_lora_layers=layers, safe_serialization=True)
    return dest / "pytorch_lora_weights.safetensors"


@pytest.fixture(scope="module")
def tiny_lora(tiny_wan, tmp_path_factory) -> Path:
    return make_tiny_lora(Path(tiny_wan), tmp_path_factory.mktemp("lora"))


def _render(model) -> np.ndarray:
    embeds = encode_prompt(model, "a red ball rolling", "", 3.0)
    request = VideoRequest(num_frames=9, height=32, width=32, steps=3, guidance=3.0, seed=5, preview=False)
    return decode(model, sample(model, embeds, request))


def test_lora_changes_the_clip_at_strength_and_not_at_zero(tiny_wan, tiny_lora):
    plain = _render(load_model(str(tiny_wan)))
    zero = load_model(str(tiny_wan), LoadOptions(lora=str(tiny_lora), lora_scale=0.0))
    np.testing.assert_array_equal(plain, _render(zero))
    full = load_model(str(tiny_wan), LoadOptions(lora=str(tiny_lora), lora_scale=1.0))
    with_lora = _render(full)
    assert not np.array_equal(plain, with_lora)
    # the record names the file, its hash and the strength; the base weights' id is unchanged (the prompt
    # encoder and the VAE are the base model's)
    (record,) = full.adapters
    assert record.startswith("pytorch_lora_weights.safetensors sha256:") and record.endswith("@1")
    assert full.weights_id == zero.weights_id
    assert zero.adapters[0].endswith("@0")


def test_a_relative_lora_path_is_read_beside_the_graph(tiny_wan, tiny_lora):
    model = load_model(str(tiny_wan), LoadOptions(lora=tiny_lora.name, lora_scale=0.5), base_dir=tiny_lora.parent)
    assert model.adapters[0].endswith("@0.5")


def test_wrong_lora_files_are_refused_with_the_reason(tiny_wan, tmp_path):
    pickled = tmp_path / "lora.bin"
    pickled.write_bytes(b"not read")
    with pytest.raises(ModelError, match="safetensors") as err:
        load_model(str(tiny_wan), LoadOptions(lora=str(pickled)))
    assert err.value.path == str(pickled)
    with pytest.raises(ModelError, match="no LoRA file"):
        load_model(str(tiny_wan), LoadOptions(lora=str(tmp_path / "missing.safetensors")))

    import torch
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"transformer.nothing_here.lora_A.weight": torch.zeros(4, 8),
               "transformer.nothing_here.lora_B.weight": torch.zeros(8, 4)}, str(foreign))
    with pytest.raises(ModelError, match="does not fit the Wan model"):
        load_model(str(tiny_wan), LoadOptions(lora=str(foreign)))


def test_generate_video_records_the_lora_in_the_generation(registry_and_engine, tiny_wan, tiny_lora, tmp_path):
    registry, engine = registry_and_engine
    from tests.graphs import text_to_video

    graph = text_to_video(registry, tiny_wan, preview=False)
    graph.nodes["model"].params.update(lora=str(tiny_lora), lora_scale=0.75)
    result = engine.run(graph, base_dir=tmp_path)
    assert result.ok, result.failed
    generation = result.outputs["generate"]["video"].generation
    assert len(generation.adapters) == 1 and generation.adapters[0].endswith("@0.75")


@pytest.fixture
def registry_and_engine():
    from studio.engine import Engine
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    return registry, Engine(registry)
