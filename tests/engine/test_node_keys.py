"""A node's cache key, kind by kind: every change that can change its output changes the key, nothing else does.

The key is observed the way a person meets it: after a run, ``Engine.explain`` says "cached" for a node
whose key is unchanged, and why it would run again otherwise.
"""

from __future__ import annotations

import json
import os
from hashlib import sha256
from pathlib import Path

import numpy as np
import pytest

from studio.engine import Engine
from studio.engine.keys import digest, key_digest
from studio.graph import Column, Graph, Group, NodeRegistry, ParamSpec, PortSpec, node
from studio.values import Signal
from tests.toy_nodes import number, sink

KEYFRAMES = [
    {"time": 0.0, "pan_x": 0.0, "zoom": 1.0},
    {"time": 1.0, "pan_x": -0.2, "zoom": 1.1, "ease": "smooth"},
    {"time": 2.5, "pan_x": -0.3, "zoom": 1.4, "roll": 3.0, "ease": "ease_in_out"},
]
SCHEDULE = [{"time": 2.0, "prompt": "the sun sets"}, {"cue": 1, "prompt": "rain"}]


@node("test.Wave", title="Wave", category="Test", outputs=[PortSpec("signal", "SIGNAL")],
      params=[ParamSpec("peak", "float", 1.0, minimum=0, maximum=10)])
def wave(ctx, peak):
    return Signal(np.array([0.0, 0.5, 1.0, 0.5]) * peak, 8.0)


@node("test.Every", title="Every", category="Test", inputs=[PortSpec("x", "FLOAT", optional=True)],
      outputs=[PortSpec("out", "FLOAT")],
      params=[ParamSpec("count", "int", 3, minimum=0, maximum=100),
              ParamSpec("gain", "float", 0.5, minimum=-10, maximum=10, animatable=True),
              ParamSpec("flag", "bool", False),
              ParamSpec("name", "string", "a"),
              ParamSpec("prompt", "text", "a red kite"),
              ParamSpec("mode", "enum", "fast", choices=("fast", "fine")),
              ParamSpec("path", "path", ""),
              ParamSpec("seed", "seed", 1),
              ParamSpec("tint", "color", "#ff8800"),
              ParamSpec("keyframes", "json", KEYFRAMES, columns=(
                  Column("time"), Column("pan_x"), Column("zoom"), Column("roll"),
                  Column("ease", "enum", choices=("linear", "smooth", "ease_in_out")))),
              ParamSpec("schedule", "json", SCHEDULE, columns=(
                  Column("time"), Column("cue", "int"), Column("prompt", "text")))])
def every(ctx, x, **params):
    return float(x or 0.0)


def registry() -> NodeRegistry:
    return NodeRegistry([wave, every, number, sink])


@pytest.fixture
def asset(tmp_path) -> Path:
    path = tmp_path / "a.bin"
    path.write_bytes(b"first")
    return path


def graph() -> Graph:
    g = Graph()
    g.add_node(number, "up", params={"value": 2.0})
    g.add_node(every, "node", params={"path": "a.bin"})
    g.add_node(sink, "out")
    g.add_node(number, "other", params={"value": 5.0})
    g.add_node(sink, "other_out")
    g.add_node(wave, "wave")
    g.connect("up", "value", "node", "x")
    g.connect("node", "out", "out", "x")
    g.connect("other", "value", "other_out", "x")
    return g


def ran(g: Graph, base: Path) -> Engine:
    engine = Engine(registry())
    result = engine.run(g, base_dir=base)
    assert result.ok, result.errors
    return engine


def deep_change(table, row: int, field: str, value):
    changed = [dict(entry) for entry in table]
    changed[row][field] = value
    return changed


PARAM_CHANGES = {
    "int": ("count", 4),
    "float": ("gain", 0.5000000000000001),  # the next float: a repr that rounds would miss it
    "bool": ("flag", True),
    "string": ("name", "b"),
    "text, one space more": ("prompt", "a red kite "),
    "text, composed vs decomposed": ("prompt", "a red kite\u0301"),
    "enum": ("mode", "fine"),
    "path": ("path", "b.bin"),
    "seed": ("seed", 2),
    "color": ("tint", "#ff8801"),
    "keyframe cell": ("keyframes", deep_change(KEYFRAMES, 2, "pan_x", -0.31)),
    "keyframe ease": ("keyframes", deep_change(KEYFRAMES, 1, "ease", "linear")),
    "keyframe added": ("keyframes", [*KEYFRAMES, {"time": 3.0, "zoom": 2.0}]),
    "keyframes reordered": ("keyframes", [KEYFRAMES[1], KEYFRAMES[0], KEYFRAMES[2]]),
    "keyframe field removed": ("keyframes", [KEYFRAMES[0], KEYFRAMES[1], {"time": 2.5, "pan_x": -0.3}]),
    "schedule prompt": ("schedule", deep_change(SCHEDULE, 0, "prompt", "the sun rises")),
    "schedule time": ("schedule", deep_change(SCHEDULE, 0, "time", 2.5)),
    "schedule cue": ("schedule", deep_change(SCHEDULE, 1, "cue", 2)),
    "schedule emptied": ("schedule", []),
}


@pytest.mark.parametrize("change", PARAM_CHANGES, ids=list(PARAM_CHANGES))
def test_each_parameter_kind_changes_the_key_and_only_of_its_node_and_downstream(change, tmp_path, asset):
    name, value = PARAM_CHANGES[change]
    g = graph()
    engine = ran(g, tmp_path)
    (tmp_path / "b.bin").write_bytes(b"second")
    g.set_param("node", name, value)
    why = engine.explain(g, base_dir=tmp_path)
    assert why["node"].startswith(f"parameter '{name}' changed"), why
    assert why["out"] == "input 'x' changed (upstream node 'node' changed)"
    assert why["up"] == why["other"] == why["other_out"] == "cached"
    g.set_param("node", name, every.default_params()[name] if name != "path" else "a.bin")
    assert set(engine.explain(g, base_dir=tmp_path).values()) == {"cached"}


def test_what_does_not_change_the_output_does_not_change_the_key(tmp_path, asset):
    g = graph()
    engine = ran(g, tmp_path)
    g.update_node("node", position=(300.0, -40.0), title="My node")
    g.update_node("up", position=(1.0, 2.0), title="Upstream")
    g.set_groups([Group("g1", "Shot 1", (0.0, 0.0, 400.0, 300.0))])
    g.set_meta("notes", "remember the rain")
    g.set_param("other", "value", 6.0)  # an unrelated node
    g.set_param("node", "count", 3)  # its default, written out
    g.add_node(number, "new", params={"value": 9.0})  # a new node nothing reads
    why = engine.explain(g, base_dir=tmp_path)
    assert why["node"] == why["out"] == why["up"] == "cached", why
    assert why["other"].startswith("parameter 'value' changed")


def test_bypass_and_an_upstream_change_change_the_key(tmp_path, asset):
    g = graph()
    engine = ran(g, tmp_path)
    g.set_param("up", "value", 2.5)
    why = engine.explain(g, base_dir=tmp_path)
    assert why["node"] == "input 'x' changed (upstream node 'up' changed)"
    assert why["out"] == "input 'x' changed (upstream node 'node' changed)"
    g.set_param("up", "value", 2.0)
    g.update_node("node", bypassed=True)
    assert engine.explain(g, base_dir=tmp_path)["node"] == "bypass turned on"
    g.update_node("node", bypassed=False)
    g.connect("other", "value", "node", "x")  # the same value type from another node
    assert engine.explain(g, base_dir=tmp_path)["node"] == "input 'x' now comes from 'other.value'"


def test_a_new_version_of_the_node_type_changes_the_key(tmp_path, asset):
    g = graph()
    engine = ran(g, tmp_path)
    upgraded = node("test.Every", title="Every", category="Test", version=2, inputs=every.inputs,
                    outputs=every.outputs, params=every.params)(lambda ctx, x, **params: 0.0)
    engine.registry = NodeRegistry([wave, upgraded, number, sink])
    assert engine.explain(g, base_dir=tmp_path)["node"] == "node type changed"


def test_a_driven_parameter_keys_on_its_driver_not_its_stored_value(tmp_path, asset):
    g = graph()
    g.connect("wave", "signal", "node", "gain")
    engine = ran(g, tmp_path)
    g.set_param("node", "gain", 9.0)  # not used while a link drives it
    assert engine.explain(g, base_dir=tmp_path)["node"] == "cached"
    g.set_param("wave", "peak", 2.0)
    assert engine.explain(g, base_dir=tmp_path)["node"] == "input 'gain' changed (upstream node 'wave' changed)"
    g.set_param("wave", "peak", 1.0)
    g.disconnect(g.link_into("node", "gain"))
    why = engine.explain(g, base_dir=tmp_path)["node"]
    assert "input 'gain' disconnected" in why and "parameter 'gain' changed" in why


def test_the_file_behind_a_path_parameter_is_part_of_the_key(tmp_path, asset):
    g = graph()
    engine = ran(g, tmp_path)
    stamp = asset.stat().st_mtime_ns
    asset.write_bytes(b"first, longer")
    assert engine.explain(g, base_dir=tmp_path)["node"] == "file of 'path' changed on disk"
    asset.write_bytes(b"other")  # the same size, a new modification time
    os.utime(asset, ns=(stamp + 1_000_000, stamp + 1_000_000))
    assert engine.explain(g, base_dir=tmp_path)["node"] == "file of 'path' changed on disk"
    asset.unlink()
    assert engine.explain(g, base_dir=tmp_path)["node"] == "file of 'path' changed on disk"
    # the same name beside another graph is another file
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "a.bin").write_bytes(b"first")
    assert engine.explain(g, base_dir=other)["node"] != "cached"


def test_a_file_replaced_by_another_of_the_same_size_and_time_changes_the_key(tmp_path, asset):
    g = graph()
    engine = ran(g, tmp_path)
    before = asset.stat()
    restored = tmp_path / "restored.bin"
    restored.write_bytes(b"FIRST")  # e.g. another version restored from a backup with its times
    os.utime(restored, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(restored, asset)
    assert engine.explain(g, base_dir=tmp_path)["node"] == "file of 'path' changed on disk"


# ---- the digest itself: values of different content never share a key


def test_values_of_different_kinds_never_spell_the_same_key():
    pairs = [
        (Path("a.png"), ["path", "a.png"]),
        (np.float32(0.25), ["numpy", "<f4", 0.25]),
        (b"raw", ["bytes", "a" * 64]),
        ({1: "x"}, {"1": "x"}),
        ({True: "x"}, {1: "x"}),
        ("1", 1),
        (1, 1.0),
        (True, 1),
        (None, "null"),
        ("snull", None),
        # text spelling the record another kind's value is keyed by
        (Path("a.png"), 't["path","a.png"]'),
        (np.zeros(3, np.uint8), "t" + json.dumps(["ndarray", "|u1", [3], sha256(bytes(3)).hexdigest()],
                                                 separators=(",", ":"))),
        ({"a": 1}, {"sa": 1}),
    ]
    for first, second in pairs:
        assert digest([first]) != digest([second]), (first, second)
        assert key_digest([first])[1] and key_digest([second])[1]


def test_arrays_never_share_a_key_unless_equal_in_content_shape_and_dtype():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)
    changed = base.copy()
    changed[32, 24, 1] ^= 1  # one bit, where numpy's repr shows '...'
    variants = [base, changed, base.reshape(48, 64, 3), base.view(np.int8), base.astype(np.uint16),
                base[:, :, :2], np.asfortranarray(base).T, np.zeros((0,), np.uint8), np.zeros((0, 3), np.uint8)]
    keys = [digest({"picture": v}) for v in variants]
    assert len(set(keys)) == len(keys)
    assert digest({"picture": base.copy()}) == keys[0]
    assert digest({"picture": np.ascontiguousarray(base[::1])}) == keys[0]
    nested = digest([{"a": base, "b": [changed, 1]}])
    assert nested != digest([{"a": changed, "b": [base, 1]}])
    assert nested == digest([{"b": [changed, 1], "a": base}])  # dict order is not content


def test_anything_without_exact_content_never_matches():
    class Opaque:
        def __repr__(self) -> str:
            return "same"

    for value in (Opaque(), np.array([object()]), {1, 2}, 1 + 2j, {(1, 2): "tuple key"}):
        first, exact = key_digest(["model", value])
        assert not exact and first != key_digest(["model", value])[0]
