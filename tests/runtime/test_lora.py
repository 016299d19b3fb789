"""LoRAs on Load Model: a table of diffusers-format .safetensors files, several at once. A tiny random LoRA for
the tiny Wan pipeline changes the clip at strength > 0 and leaves it untouched at 0; a strength changed in the
graph re-renders without loading the base model again (counted through the engine's memo of the base); the clip's
Generation and its signed credentials name each LoRA with its hash; a wrong file is refused naming node and
file; a graph saved with the old single 'lora' parameter opens with it as the table's row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.errors import ModelError
from studio.runtime import LoadOptions, VideoRequest, decode, encode_prompt, load_model, sample
from studio.runtime.lora import LoraSpec

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
    dest.mkdir(parents=True, exist_ok=True)
    diffusers.WanPipeline.save_lora_weights(dest, transformer_lora_layers=layers, safe_serialization=True)
    return dest / "pytorch_lora_weights.safetensors"


@pytest.fixture(scope="module")
def tiny_lora(tiny_wan, tmp_path_factory) -> Path:
    return make_tiny_lora(Path(tiny_wan), tmp_path_factory.mktemp("lora"))


@pytest.fixture(scope="module")
def second_lora(tiny_wan, tmp_path_factory) -> Path:
    return make_tiny_lora(Path(tiny_wan), tmp_path_factory.mktemp("lora2"), seed=1)


def _render(model) -> np.ndarray:
    embeds = encode_prompt(model, "a red ball rolling", "", 3.0)
    request = VideoRequest(num_frames=9, height=32, width=32, steps=3, guidance=3.0, seed=5, preview=False)
    return decode(model, sample(model, embeds, request))


def _one(path, strength: float = 1.0, enabled: bool = True) -> LoadOptions:
    return LoadOptions(loras=(LoraSpec(str(path), strength, enabled),))


def test_lora_changes_the_clip_at_strength_and_not_at_zero(tiny_wan, tiny_lora):
    plain = _render(load_model(str(tiny_wan)))
    zero = load_model(str(tiny_wan), _one(tiny_lora, 0.0))
    np.testing.assert_array_equal(plain, _render(zero))
    full = load_model(str(tiny_wan), _one(tiny_lora, 1.0))
    with_lora = _render(full)
    assert not np.array_equal(plain, with_lora)
    # the record names the file, its hash and the strength; the base weights' id is unchanged
    (record,) = full.adapters
    assert record.startswith("pytorch_lora_weights.safetensors sha256:") and record.endswith("@1")
    assert full.weights_id == zero.weights_id
    assert zero.adapters[0].endswith("@0")
    # a disabled row is not applied, and not recorded
    off = load_model(str(tiny_wan), _one(tiny_lora, 1.0, enabled=False))
    assert off.adapters == ()
    np.testing.assert_array_equal(plain, _render(off))


def test_two_models_of_one_base_render_with_their_own_strengths(tiny_wan, tiny_lora, second_lora):
    """Two LoadedModels share one base pipeline; each makes its own adapters active when it renders."""
    from studio.runtime.loading import load_base, with_loras

    base = load_base(str(tiny_wan))
    plain = with_loras(base, LoadOptions())
    one = with_loras(base, _one(tiny_lora, 1.0))
    both = with_loras(base, LoadOptions(loras=(LoraSpec(str(tiny_lora), 1.0), LoraSpec(str(second_lora), 0.7))))
    assert one.base is both.base is plain.base and len(base.adapters) == 2  # each file loaded once
    clips = [_render(m) for m in (one, both, plain, one)]
    assert not np.array_equal(clips[0], clips[1]) and not np.array_equal(clips[0], clips[2])
    np.testing.assert_array_equal(clips[0], clips[3])  # back to one LoRA after the others: the same clip
    np.testing.assert_array_equal(clips[2], _render(load_model(str(tiny_wan))))
    assert [r.split(" @")[1] for r in both.adapters] == ["1", "0.7"]


def test_a_relative_lora_path_is_read_beside_the_graph(tiny_wan, tiny_lora):
    model = load_model(str(tiny_wan), _one(tiny_lora.name, 0.5), base_dir=tiny_lora.parent)
    assert model.adapters[0].endswith("@0.5")


def test_wrong_lora_files_are_refused_with_the_reason(tiny_wan, tmp_path):
    pickled = tmp_path / "lora.bin"
    pickled.write_bytes(b"not read")
    with pytest.raises(ModelError, match="safetensors") as err:
        load_model(str(tiny_wan), _one(pickled))
    assert err.value.path == str(pickled) and err.value.port == "loras"
    with pytest.raises(ModelError, match="no LoRA file"):
        load_model(str(tiny_wan), _one(tmp_path / "missing.safetensors"))

    import torch
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"transformer.nothing_here.lora_A.weight": torch.zeros(4, 8),
               "transformer.nothing_here.lora_B.weight": torch.zeros(8, 4)}, str(foreign))
    with pytest.raises(ModelError, match="does not fit the Wan model"):
        load_model(str(tiny_wan), _one(foreign))
    # a LoRA for another architecture (its layers exist here, at other sizes) is refused too
    wrong_size = tmp_path / "other-model.safetensors"
    save_file({"transformer.blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 64),
               "transformer.blocks.0.attn1.to_q.lora_B.weight": torch.zeros(64, 4)}, str(wrong_size))
    with pytest.raises(ModelError, match="does not fit the Wan model") as err:
        load_model(str(tiny_wan), _one(wrong_size))
    assert err.value.path == str(wrong_size)


def test_the_table_is_read_row_by_row_with_each_problem_named():
    from studio.runtime.lora import parse_loras

    rows = [{"file": "a.safetensors"}, {"file": ""}, {"file": "b.safetensors", "strength": 0.5, "enabled": "no"}]
    assert parse_loras(rows) == (LoraSpec("a.safetensors", 1.0, True), LoraSpec("b.safetensors", 0.5, False))
    with pytest.raises(ModelError, match="row 1: 'strength' must be a number") as err:
        parse_loras([{"file": "a.safetensors", "strength": "lots"}], node_id="model")
    assert err.value.node_id == "model"
    with pytest.raises(ModelError, match="row 2: 'enabled' is yes or no"):
        parse_loras([{"file": "a.safetensors"}, {"file": "b.safetensors", "enabled": "maybe"}])


@pytest.fixture
def registry_and_engine():
    from studio.engine import Engine
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    return registry, Engine(registry)


def test_a_strength_change_renders_again_without_loading_the_base(registry_and_engine, tiny_wan, tiny_lora,
                                                                   second_lora, tmp_path):
    registry, engine = registry_and_engine
    from tests.graphs import text_to_video

    graph = text_to_video(registry, tiny_wan, preview=False)
    model = graph.nodes["model"]
    model.params["loras"] = [{"file": str(tiny_lora), "strength": 0.75}]
    clips = {}
    for strength in (0.75, 0.25, 0.75):
        model.params["loras"] = [{"file": str(tiny_lora), "strength": strength}]
        result = engine.run(graph, base_dir=tmp_path)
        assert result.ok, result.failed
        clips.setdefault(strength, []).append(result.outputs["generate"]["video"])
    hits, loads = engine.memo_stats["load_model"]
    assert loads == 1, "the base model was loaded again for a strength change"
    first, later = clips[0.75]
    assert not np.array_equal(first.frames, clips[0.25][0].frames)
    np.testing.assert_array_equal(first.frames, later.frames)
    assert clips[0.25][0].generation.adapters[0].endswith("@0.25")
    # the seed changes while the cached 0.75 model is reused after 0.25 was active: it renders at 0.75
    graph.nodes["generate"].params["seed"] = 2
    seeded = engine.run(graph, base_dir=tmp_path).outputs["generate"]["video"]
    reference = load_model(str(tiny_wan), _one(tiny_lora, 0.75))
    embeds = encode_prompt(reference, "a red circle moves left", "", 5.0)
    request = VideoRequest(num_frames=9, height=32, width=32, steps=3, guidance=5.0, seed=2, preview=False)
    expected = decode(reference, sample(reference, embeds, request))
    np.testing.assert_allclose(seeded.frames.astype(int), expected.astype(int), atol=1)
    # a second LoRA, and then a disabled row: still no base reload; both recorded, then only the first
    model.params["loras"] = [{"file": str(tiny_lora), "strength": 0.75}, {"file": str(second_lora), "strength": 1}]
    two = engine.run(graph, base_dir=tmp_path).outputs["generate"]["video"].generation.adapters
    model.params["loras"][1]["enabled"] = "no"
    one = engine.run(graph, base_dir=tmp_path).outputs["generate"]["video"].generation.adapters
    assert len(two) == 2 and len(one) == 1 and engine.memo_stats["load_model"][1] == 1


def test_the_lora_is_an_ingredient_of_the_signed_clip(tmp_path, tiny_lora, monkeypatch):
    import c2pa

    from studio.media.export import export_video
    from studio.media.provenance import offline_context
    from studio.media.signing import local_anchor_pem
    from studio.runtime.lora import file_digest
    from studio.values import Generation, Video

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    digest = file_digest(tiny_lora)
    made = Generation(model="wan", adapters=(f"style lora.safetensors {digest} @0.8",), prompt="a red kite")
    frames = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    result = export_video(Video(frames, 8, made), tmp_path / "clip.mp4")
    with open(result.path, "rb") as fh, c2pa.Reader("video/mp4", fh,
                                                  context=offline_context(local_anchor_pem().decode())) as reader:
        manifest, state = reader.get_active_manifest(), reader.get_validation_state()
    assert state == "Trusted"
    (ingredient,) = manifest["ingredients"]
    assert ingredient["title"] == "style lora.safetensors" and ingredient["instance_id"] == digest
    assert ingredient["relationship"] == "inputTo" and "0.8" in ingredient["description"]


def test_a_graph_saved_with_one_lora_opens_with_it_in_the_table(tmp_path):
    from studio.graph import NodeRegistry, loads

    registry = NodeRegistry.default()
    doc = {"format": "studio.graph", "version": 2, "links": [], "nodes": [
        {"id": "model", "type": "studio.LoadModel", "version": 1, "position": [0, 0],
         "params": {"source": "embedded", "lora": "styles/grain.safetensors", "lora_scale": 0.6}},
        {"id": "plain", "type": "studio.LoadModel", "version": 1, "position": [0, 0],
         "params": {"source": "embedded", "lora": "", "lora_scale": 1.0}}]}
    graph = loads(json.dumps(doc), registry, base_dir=tmp_path)
    upgraded = graph.nodes["model"].params
    # opened, a relative file name reads beside the graph, as a path parameter's does
    assert upgraded["loras"] == [{"file": str(tmp_path / "styles" / "grain.safetensors"), "strength": 0.6,
                                  "enabled": "yes"}]
    assert "lora" not in upgraded and "lora_scale" not in upgraded
    assert "loras" not in graph.nodes["plain"].params and "lora" not in graph.nodes["plain"].params
    assert graph.nodes["model"].version == 2


def test_a_wrong_file_in_the_table_fails_the_node_naming_it(registry_and_engine, tiny_wan, tmp_path):
    registry, engine = registry_and_engine
    from tests.graphs import text_to_video

    pickled = tmp_path / "style.ckpt"
    pickled.write_bytes(b"not read")
    graph = text_to_video(registry, tiny_wan, preview=False)
    graph.nodes["model"].params["loras"] = [{"file": "style.ckpt", "strength": 1}]
    result = engine.run(graph, base_dir=tmp_path)
    assert not result.ok and "model" in result.failed
    message = result.failed["model"]
    assert "port 'loras'" in message and str(pickled) in message and "safetensors" in message
    assert "load_model" not in engine.memo_stats  # refused before any model was loaded


def test_a_model_outlives_its_base_entry_and_the_weights_go_with_the_last_holder(registry_and_engine, tiny_wan,
                                                                                  tmp_path):
    """The cache may drop the base's memo entry while the Load Model output that holds it stays: that model
    still renders; when both are gone, the weights are released."""
    registry, engine = registry_and_engine
    from tests.graphs import text_to_video

    graph = text_to_video(registry, tiny_wan, preview=False)
    first = engine.run(graph, base_dir=tmp_path)
    model = first.outputs["model"]["model"]
    (memo_key,) = [key for key in list(engine.cache._entries) if key.startswith("memo:load_model:")]
    engine.cache.discard(memo_key)
    assert model.base.pipe is not None and model.base.holders == 1
    graph.nodes["generate"].params["seed"] = 3
    again = engine.run(graph, base_dir=tmp_path)
    assert again.ok, again.failed
    assert again.outputs["model"]["model"] is model  # the cached output, its base kept by it alone
    engine.cache.clear()
    assert model.base.pipe is None and model.pipe is None


def test_a_lora_replaced_under_the_same_name_renders_again(registry_and_engine, tiny_wan, tiny_lora, second_lora,
                                                           tmp_path):
    import shutil

    registry, engine = registry_and_engine
    from tests.graphs import text_to_video

    shutil.copyfile(tiny_lora, tmp_path / "style.safetensors")
    graph = text_to_video(registry, tiny_wan, preview=False)
    graph.nodes["model"].params["loras"] = [{"file": "style.safetensors", "strength": 1}]
    first = engine.run(graph, base_dir=tmp_path)
    assert first.ok, first.failed
    again = engine.run(graph, base_dir=tmp_path)
    assert "model" in again.cached  # nothing changed: nothing re-runs
    shutil.copyfile(second_lora, tmp_path / "style.safetensors")  # the person saved a new version over it
    changed = engine.run(graph, base_dir=tmp_path)
    assert changed.ok and "model" not in changed.cached and "generate" not in changed.cached
    assert changed.outputs["generate"]["video"].generation.adapters != first.outputs["generate"]["video"].generation.adapters


def test_a_missing_lora_is_named_before_anything_loads_and_in_problems(registry_and_engine, tiny_wan, tmp_path):
    from studio.engine.assets import missing_files

    registry, engine = registry_and_engine
    from tests.graphs import text_to_video

    graph = text_to_video(registry, tiny_wan, preview=False)
    graph.nodes["model"].params["loras"] = [{"file": "gone.safetensors", "strength": 1}]
    problems = missing_files(graph, registry, tmp_path)
    assert [(p.node_id, p.where) for p in problems] == [("model", "loras")]
    assert "loras row 1 file" in problems[0].message and "gone.safetensors" in problems[0].message
    result = engine.run(graph, base_dir=tmp_path)
    assert not result.ok and "gone.safetensors" in result.failed["model"]
    assert "load_model" not in engine.memo_stats


def test_a_lora_beside_the_graph_is_saved_relative_and_opens_absolute(tmp_path):
    from studio.graph import Graph, NodeRegistry, dumps, load_graph

    registry = NodeRegistry.default()
    graph = Graph()
    graph.add_node(registry.get("studio.LoadModel"), "model",
                   params={"loras": [{"file": str(tmp_path / "loras" / "style.safetensors"), "strength": 0.5}]})
    saved = json.loads(dumps(graph, registry, base_dir=tmp_path))
    assert saved["nodes"][0]["params"]["loras"][0]["file"] == "loras/style.safetensors"
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "shot.studio.json").write_text(json.dumps(saved))
    opened = load_graph(moved / "shot.studio.json", registry)
    assert opened.nodes["model"].params["loras"][0] == {"file": str(moved / "loras" / "style.safetensors"),
                                                        "strength": 0.5}
