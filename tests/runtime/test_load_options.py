"""Load Model's memory and speed options on tiny real pipelines: a GGUF transformer file built from the tiny Wan
transformer's weights loads and renders close to the original; int8 weights (torchao) shrink the transformer and
change the clip a little; fp8 and GPU-only kernels are refused on the CPU with a sentence; the attention backend
and the offload mode picked are said; the offload picking rule is checked with figures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from studio.errors import ModelError
from studio.runtime import LoadOptions, VideoRequest, decode, encode_prompt, load_model, sample
from studio.runtime.offload import GB, pick_offload

# diffusers' single-file converter reads Wan's own checkpoint names (as the community's GGUF files use them)
_TO_WAN_NAMES = [
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn2", "cross_attn"), ("attn1", "self_attn"),
    (".to_out.0.", ".o."), (".to_q.", ".q."), (".to_k.", ".k."), (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"), ("ffn.net.2", "ffn.2"),
    ("norm2", "norm_swap"), ("norm3", "norm2"), ("norm_swap", "norm3"),
]


def _wan_name(key: str) -> str:
    for ours, theirs in _TO_WAN_NAMES:
        key = key.replace(ours, theirs)
    if key == "scale_shift_table":
        return "head.modulation"
    key = re.sub(r"^blocks\.(\d+)\.scale_shift_table", r"blocks.\1.modulation", key)
    return key.replace("proj_out", "head.head", 1) if key.startswith("proj_out") else key


def make_gguf_transformer(model_folder: Path, dest: Path) -> Path:
    """The tiny Wan transformer's weights as a GGUF file as the community writes them: Wan's own tensor names,
    Q8_0 blocks where a row holds whole blocks of 32, float32 elsewhere (norms, biases, small rows)."""
    gguf = pytest.importorskip("gguf")
    from safetensors.torch import load_file

    state = load_file(str(model_folder / "transformer" / "diffusion_pytorch_model.safetensors"))
    writer = gguf.GGUFWriter(str(dest), arch="wan")
    for key, tensor in state.items():
        values = tensor.float().numpy()
        if values.ndim == 2 and values.shape[1] % 32 == 0:
            packed = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(_wan_name(key), packed, raw_shape=packed.shape,
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(_wan_name(key), values.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest


def _render(model, seed: int = 5) -> np.ndarray:
    embeds = encode_prompt(model, "a red ball rolling", "", 3.0)
    request = VideoRequest(num_frames=9, height=32, width=32, steps=3, guidance=3.0, seed=seed, preview=False)
    return decode(model, sample(model, embeds, request))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def plain_clip(tiny_wan):
    return _render(load_model(str(tiny_wan)))


def test_a_gguf_transformer_file_loads_with_the_rest_from_the_folder(tiny_wan, tmp_path, plain_clip):
    gguf_file = make_gguf_transformer(Path(tiny_wan), tmp_path / "wan-tiny-Q8_0.gguf")
    model = load_model(str(tiny_wan), LoadOptions(transformer_file=gguf_file.name), base_dir=tmp_path)
    from diffusers.quantizers.gguf.utils import GGUFParameter

    packed = [p for p in model.pipe.transformer.parameters() if isinstance(p, GGUFParameter)]
    assert packed, "no weight stayed in GGUF blocks: the file was not read as GGUF"
    clip = _render(model)
    assert not np.array_equal(clip, plain_clip) and _psnr(clip, plain_clip) > 30  # Q8_0: close, not equal
    # the model's name and weights id say which transformer made the clip (they reach its credentials)
    plain = load_model(str(tiny_wan))
    assert "wan-tiny-Q8_0.gguf" in model.name and model.weights_id.startswith(plain.weights_id + "+gguf:")


def test_anything_but_a_gguf_file_is_refused(tiny_wan, tmp_path):
    pickled = tmp_path / "transformer.ckpt"
    pickled.write_bytes(b"PK\x03\x04 a pickle in a zip")
    with pytest.raises(ModelError, match=r"\.gguf file only") as err:
        load_model(str(tiny_wan), LoadOptions(transformer_file=str(pickled)))
    assert err.value.port == "transformer_file" and err.value.path == str(pickled)
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"\x80\x04 pickle bytes")
    with pytest.raises(ModelError, match="not a GGUF file"):
        load_model(str(tiny_wan), LoadOptions(transformer_file=str(fake)))
    with pytest.raises(ModelError, match="no transformer file"):
        load_model(str(tiny_wan), LoadOptions(transformer_file=str(tmp_path / "missing.gguf")))


def test_a_gguf_file_of_another_model_is_refused_with_the_reason(tiny_wan, tiny_folder, tmp_path):
    gguf_file = make_gguf_transformer(Path(tiny_wan), tmp_path / "wan.gguf")
    # the LTX folder's transformer is another class with other names: it cannot take Wan's tensors
    with pytest.raises(ModelError, match="does not fit") as err:
        load_model(str(tiny_folder("ltx")), LoadOptions(transformer_file=str(gguf_file)))
    assert err.value.path == str(gguf_file)


def test_int8_weights_shrink_the_transformer_and_change_the_clip_a_little(tiny_wan, plain_clip, caplog):
    pytest.importorskip("torchao")
    from studio.runtime.quantize import module_bytes

    plain = load_model(str(tiny_wan))
    quantized = load_model(str(tiny_wan), LoadOptions(quantize="int8"))
    before, after = module_bytes(plain.pipe.transformer), module_bytes(quantized.pipe.transformer)
    # int8 linear weights with a float scale per row: well under the float32 weights
    assert after < 0.6 * before, (before, after)
    note = next(n for n in quantized.base.notes if n.startswith("quantize int8"))
    assert "saved" in note
    clip = _render(quantized)
    assert not np.array_equal(clip, plain_clip) and _psnr(clip, plain_clip) > 25
    assert quantized.weights_id == plain.weights_id + "+int8" and quantized.name.endswith("(int8)")


def test_gpu_only_options_are_refused_on_the_cpu_with_a_sentence(tiny_wan):
    with pytest.raises(ModelError, match="fp8 weights compute on a CUDA GPU only") as err:
        load_model(str(tiny_wan), LoadOptions(device="cpu", quantize="fp8"))
    assert err.value.port == "quantize"
    with pytest.raises(ModelError, match="attention 'flash' runs on a CUDA GPU only"):
        load_model(str(tiny_wan), LoadOptions(device="cpu", attention="flash"))
    with pytest.raises(ModelError, match="unknown offload"):
        load_model(str(tiny_wan), LoadOptions(offload="disk"))


def test_a_named_backend_that_is_not_installed_says_what_to_install():
    from studio.runtime.attention import pick_attention

    with pytest.raises(ModelError, match="'sage' is not installed") as err:
        pick_attention("sage", "cuda", is_installed=lambda name: name == "native")
    assert "pip install sageattention" in err.value.hint
    assert pick_attention("auto", "cuda", is_installed=lambda name: name in ("flash", "native")).backend == "flash"
    assert pick_attention("auto", "cuda", is_installed=lambda name: True).backend == "sage"
    assert pick_attention("auto", "cuda", is_installed=lambda name: name == "native").backend == "native"
    assert pick_attention("auto", "cpu").backend == "native"


def test_the_load_says_which_attention_and_offload_it_used(tiny_wan):
    model = load_model(str(tiny_wan), LoadOptions(device="cpu", offload="group", attention="native"))
    notes = " | ".join(model.base.notes)
    assert "attention native" in notes and "offload none: 'group' does nothing on cpu" in notes
    assert model.base.options.offload == "none"
    auto = load_model(str(tiny_wan), LoadOptions(device="cpu", offload="auto"))
    assert "nothing to offload to" in " ".join(auto.base.notes)


@pytest.mark.parametrize(("free_gb", "parts", "mode", "words"), [
    (80, {"transformer": 2.8, "text_encoder": 11.4, "vae": 0.5}, "none", "holds the whole model"),  # H100, Wan 1.3B
    (16, {"transformer": 2.8, "text_encoder": 11.4, "vae": 0.5}, "model", "largest part (text_encoder"),
    (12, {"transformer": 2.8, "text_encoder": 11.4, "vae": 0.5}, "group", "blocks stream"),  # a 12 GB card
    (24, {"transformer": 28.0, "text_encoder": 11.4, "vae": 0.5}, "group", "cannot hold the largest"),  # 14B, 4090
    (40, {"transformer": 28.0, "text_encoder": 11.4, "vae": 0.5}, "model", "largest part (transformer"),
])
def test_auto_offload_picks_from_free_memory_and_the_model_size(free_gb, parts, mode, words):
    sizes = {name: int(gb * GB) for name, gb in parts.items()}
    choice = pick_offload(int(free_gb * GB), sizes, device="cuda")
    assert choice.mode == mode and words in choice.reason, choice
    assert pick_offload(int(free_gb * GB), sizes, device="cpu").mode == "none"
    assert pick_offload(None, sizes, device="cuda").mode == "none"
    assert pick_offload(int(1 * GB), sizes, device="cuda", has_streams=False).mode == "sequential"


def test_the_run_log_says_what_the_load_chose_and_saved(tiny_wan, tmp_path, caplog):
    pytest.importorskip("torchao")
    import logging

    from studio.engine import Engine
    from studio.graph import NodeRegistry
    from tests.graphs import text_to_video

    registry = NodeRegistry.default()
    graph = text_to_video(registry, tiny_wan, preview=False)
    graph.nodes["model"].params.update(quantize="int8", offload="auto", attention="auto")
    caplog.set_level(logging.INFO, logger="nodes")
    result = Engine(registry).run(graph, base_dir=tmp_path)
    assert result.ok, result.failed
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Load Model 'model': ")]
    (line,) = [text for text in lines if "LoRAs" not in text]
    assert "quantize int8: transformer weights" in line and "saved" in line
    assert "attention native (auto:" in line and "offload none" in line
    assert result.outputs["generate"]["video"].generation.model_hash.endswith("+int8")
