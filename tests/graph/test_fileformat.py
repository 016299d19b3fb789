"""The .studio.json format: lossless round trip, relative assets, clear refusals, fuzzing."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.errors import GraphFileError
from studio.graph import Graph, Group, dumps, load_graph, loads, save_graph
from studio.graph.fileformat import FORMAT_VERSION
from tests.toy_nodes import add, file_size, number, registry, sink

REG = registry()


def sample_graph(asset: str) -> Graph:
    g = Graph()
    g.add_node(number, "n1", position=(10.5, -20.0), params={"value": 2.5})
    g.add_node(number, "n2", position=(10.0, 80.0))
    g.add_node(add, "add", position=(200.0, 0.0))
    g.add_node(sink, "out", position=(400.0, 0.0))
    g.add_node(file_size, "f", params={"path": asset, "mode": "b"})
    g.update_node("add", title="Sum of two", bypassed=False)
    g.update_node("n2", bypassed=True)
    g.connect("n1", "value", "add", "a")
    g.connect("n2", "value", "add", "b")
    g.connect("add", "sum", "out", "x")
    g.set_groups([Group("g1", "Inputs", (0.0, -50.0, 150.0, 200.0), "#335544")])
    g.meta["render"] = {"fps": 16}
    return g


def test_round_trip_is_lossless_and_assets_are_relative(tmp_path):
    asset = tmp_path / "media" / "ref.png"
    asset.parent.mkdir()
    asset.write_bytes(b"x")
    g = sample_graph(str(asset))
    path = tmp_path / "graphs" / "a.studio.json"
    save_graph(g, path, REG)
    data = json.loads(path.read_text())
    assert data["format"] == "studio.graph" and data["version"] == FORMAT_VERSION
    assert next(n for n in data["nodes"] if n["id"] == "f")["params"]["path"] == "../media/ref.png"
    loaded = load_graph(path, REG)
    assert loaded.nodes["f"].params["path"] == str(asset.resolve())
    assert dumps(loaded, REG) == dumps(g, REG)
    # saving elsewhere rewrites the relative path for the new place
    other = tmp_path / "elsewhere" / "deep" / "b.studio.json"
    save_graph(loaded, other, REG)
    assert load_graph(other, REG).nodes["f"].params["path"] == str(asset.resolve())


def test_unknown_node_types_are_kept_and_saved_back_unchanged(tmp_path):
    doc = {"format": "studio.graph", "version": 1, "nodes": [
        {"id": "p", "type": "plugin.Fancy", "position": [1, 2], "params": {"k": [1, 2]}, "extra": {"x": 1}},
        {"id": "n", "type": "test.Number", "position": [0, 0], "params": {}}],
        "links": []}
    g = loads(json.dumps(doc), REG)
    assert g.nodes["p"].unknown is not None
    again = json.loads(dumps(g, REG))
    assert next(n for n in again["nodes"] if n["id"] == "p") == doc["nodes"][0] | {"position": [1, 2]}


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"format": "studio.graph", "version": 1, "nodes": [', "not valid JSON (line 1"),
        ("[]", "top level must be a JSON object"),
        ('{"format": "other", "version": 1}', "'format' is 'other'"),
        ('{"format": "studio.graph", "version": 99}', "saved by a newer Studio (format version 99"),
        ('{"format": "studio.graph", "version": "1"}', "'version' must be a positive whole number"),
        ('{"format": "studio.graph", "version": 1, "nodes": {}}', "'nodes' must be a list"),
        ('{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "t", "position": [NaN, 1]}]}',
         "contains NaN"),
        ('{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "t", "position": [1e999, 1]}]}',
         "'position' must be two numbers"),
        ('{"format": "studio.graph", "version": 1, "nodes": [{"id": 5, "type": "t"}]}', "needs a text 'id'"),
        ('{"format": "studio.graph", "version": 1, "nodes": [], "links": [{"from": ["a", "b"], "to": ["c", "d"]}]}',
         "names node 'a', which is not in the graph"),
        ('{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "t"}, {"id": "a", "type": "t"}]}',
         "two nodes have the id 'a'"),
        ('{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "t", "params": {"v": '
         + "1" * 5000 + "}}]}", "not a readable graph"),
        ("[" * 100000 + "]" * 100000, "not"),
    ],
)
def test_malformed_files_are_refused_clearly(text, expected):
    with pytest.raises(GraphFileError) as info:
        loads(text, REG)
    assert expected in str(info.value)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(GraphFileError, match="no such graph file"):
        load_graph(tmp_path / "missing.studio.json", REG)
    bad = tmp_path / "bad.studio.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(GraphFileError) as info:
        load_graph(bad, REG)
    assert str(bad) in str(info.value)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "g.studio.json"
    save_graph(sample_graph(""), path, REG)
    before = path.read_text()

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    g = sample_graph("")
    g.set_param("n1", "value", 9.0)
    with pytest.raises(OSError):
        save_graph(g, path, REG)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.studio.json"]


def test_node_upgrade_hook_runs_on_old_versions():
    from studio.graph import NodeRegistry, ParamSpec, PortSpec, node

    def upgrade(params, version):
        params["strength"] = params.pop("amount", 0.5)
        return params

    spec = node("t.Up", title="Up", category="T", version=2, outputs=[PortSpec("v", "FLOAT")],
                params=[ParamSpec("strength", "float", 0.1)], upgrade=upgrade)(lambda ctx, strength: strength)
    doc = {"format": "studio.graph", "version": 1,
           "nodes": [{"id": "u", "type": "t.Up", "version": 1, "params": {"amount": 0.7}}]}
    g = loads(json.dumps(doc), NodeRegistry([spec]))
    assert g.nodes["u"].params == {"strength": 0.7} and g.nodes["u"].version == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
graphish = st.fixed_dictionaries(
    {"format": st.sampled_from(["studio.graph", "x"]), "version": st.sampled_from([1, 0, 2, "1"])},
    optional={
        "nodes": st.lists(st.dictionaries(st.sampled_from(["id", "type", "params", "position", "version",
                                                            "title", "bypassed"]), json_values), max_size=4)
        | json_values,
        "links": st.lists(st.dictionaries(st.sampled_from(["from", "to"]), json_values), max_size=3) | json_values,
        "groups": json_values,
        "meta": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(graphish, json_values))
def test_random_documents_raise_only_our_error(doc):
    try:
        g = loads(json.dumps(doc), REG)
    except GraphFileError:
        return
    dumps(g, REG)  # whatever loads must also save


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_raises_only_our_error(text):
    try:
        loads(text, REG)
    except GraphFileError:
        pass


FORMAT_1_CAMERA = {
    "format": "studio.graph", "version": 1,
    "nodes": [
        {"id": "model", "type": "studio.LoadModel", "params": {"source": "MODEL"}},
        {"id": "text", "type": "studio.Text", "params": {"prompt": "a red circle on a gray background"}},
        {"id": "camera", "type": "studio.CameraPath", "params": {"preset": "pan_left", "amount": 0.4}},
        {"id": "guide", "type": "studio.CameraGuide", "params": {"steer": "guide", "num_frames": 5, "fps": 8.0}},
        {"id": "generate", "type": "studio.GenerateVideo",
         "params": {"num_frames": 9, "width": 32, "height": 32, "steps": 2, "fps": 8.0, "preview": False}},
        {"id": "adherence", "type": "studio.CameraAdherence", "params": {}},
        {"id": "shown", "type": "studio.Preview", "params": {}},
        {"id": "move", "type": "studio.Preview", "params": {}},
    ],
    "links": [
        {"from": ["model", "model"], "to": ["generate", "model"]},
        {"from": ["text", "prompt"], "to": ["generate", "prompt"]},
        {"from": ["camera", "camera"], "to": ["guide", "camera"]},
        # format 1: the camera instruction went in as a VIDEO through Generate Video's 'guide'
        {"from": ["guide", "guide"], "to": ["generate", "guide"]},
        {"from": ["guide", "guide"], "to": ["adherence", "guide"]},
        {"from": ["guide", "guide"], "to": ["move", "video"]},  # the move shown as a clip
        {"from": ["generate", "video"], "to": ["adherence", "video"]},
        {"from": ["generate", "video"], "to": ["shown", "video"]},
    ],
}


def test_format_1_camera_guide_links_are_upgraded():
    from studio.graph import NodeRegistry, validate

    registry = NodeRegistry.default()
    graph = loads(json.dumps(FORMAT_1_CAMERA), registry)
    ends = {(lk.src, lk.src_port, lk.dst, lk.dst_port) for lk in graph.links}
    assert ("guide", "guide", "generate", "camera_guide") in ends
    assert ("guide", "guide", "adherence", "guide") in ends
    assert ("guide", "preview", "move", "video") in ends
    assert graph.link_into("generate", "guide") is None
    assert validate(graph, registry) == []
    # saved again, it is the current format and loads to the same links
    again = json.loads(dumps(graph, registry))
    assert again["version"] == FORMAT_VERSION
    assert {(lk.src, lk.src_port, lk.dst, lk.dst_port) for lk in loads(json.dumps(again), registry).links} == ends


def test_a_migration_leaves_its_input_alone_and_odd_documents_to_the_loader():
    from studio.graph.fileformat_migrations import MIGRATIONS

    before = json.dumps(FORMAT_1_CAMERA)
    upgraded = MIGRATIONS[1](FORMAT_1_CAMERA)
    assert json.dumps(FORMAT_1_CAMERA) == before and upgraded["version"] == 2
    for odd in ({"nodes": 5, "links": 7}, {"nodes": [1, "x"], "links": [[], {"from": 3}]}):
        assert MIGRATIONS[1](odd)["version"] == 2
