"""A number parameter driven by a link: a SIGNAL per frame where the node is animatable, else its mean."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engine import Engine, NodeFinished, NodeWarning
from studio.graph import Graph, NodeRegistry, ParamSpec, PortSpec, node
from studio.graph.fileformat import dumps, loads
from studio.graph.validate import check_link, validate
from studio.values import Signal
from tests.toy_nodes import number

SEEN: dict[str, object] = {}


@node("test.Wave", title="Wave", category="Test", outputs=[PortSpec("signal", "SIGNAL")],
      params=[ParamSpec("peak", "float", 1.0, minimum=0, maximum=10)])
def wave(ctx, peak):
    return Signal(np.array([0.0, 0.5, 1.0, 0.5]) * peak, 8.0, label="wave")


@node("test.Knobs", title="Knobs", category="Test", outputs=[PortSpec("out", "FLOAT")], is_output=True,
      params=[ParamSpec("level", "float", 0.2, minimum=0, maximum=1, animatable=True),
              ParamSpec("gain", "float", 1.0, minimum=0, maximum=4),
              ParamSpec("count", "int", 3, minimum=1, maximum=10),
              ParamSpec("name", "string", "x"),
              ParamSpec("seed", "seed", 0)])
def knobs(ctx, level, gain, count, name, seed):
    SEEN.update(level=level, gain=gain, count=count)
    return float(np.mean(level.values) if isinstance(level, Signal) else level) * gain * count


def registry() -> NodeRegistry:
    return NodeRegistry([wave, knobs, number])


def graph(peak: float = 1.0) -> Graph:
    g = Graph()
    g.add_node(wave, "wave", params={"peak": peak})
    g.add_node(knobs, "knobs")
    return g


def test_an_animatable_parameter_gets_the_whole_signal_and_others_its_mean():
    g = graph()
    g.connect("wave", "signal", "knobs", "level")
    g.connect("wave", "signal", "knobs", "gain")
    assert validate(g, registry()) == []
    result = Engine(registry()).run(g)
    assert result.ok, result.errors
    assert isinstance(SEEN["level"], Signal)
    assert np.allclose(SEEN["level"].values, [0.0, 0.5, 1.0, 0.5])
    assert SEEN["gain"] == pytest.approx(0.5) and SEEN["count"] == 3
    assert result.outputs["knobs"]["out"] == pytest.approx(0.5 * 0.5 * 3)


def test_driven_values_are_clamped_to_the_range_with_a_warning_and_ints_rounded():
    g = graph(peak=10.0)  # 0, 5, 10, 5: level (0..1) is clamped per frame; count gets the mean 5
    g.connect("wave", "signal", "knobs", "level")
    g.connect("wave", "signal", "knobs", "count")
    events = []
    result = Engine(registry()).run(g, listener=events.append)
    assert result.ok, result.errors
    assert np.allclose(SEEN["level"].values, [0.0, 1.0, 1.0, 1.0])
    assert SEEN["count"] == 5 and isinstance(SEEN["count"], int)
    warnings = [e.message for e in events if isinstance(e, NodeWarning)]
    assert any("'level'" in w and "clamped" in w for w in warnings), warnings
    assert any("'count' takes one value per clip" in w for w in warnings), warnings


def test_a_float_output_drives_a_parameter_as_a_number():
    g = graph()
    g.add_node(number, "n", params={"value": 2.5})
    g.connect("n", "value", "knobs", "gain")
    result = Engine(registry()).run(g)
    assert result.ok and SEEN["gain"] == pytest.approx(2.5)


def test_a_change_upstream_reruns_the_driven_node_and_the_stored_value_is_ignored():
    engine = Engine(registry())
    g = graph()
    g.connect("wave", "signal", "knobs", "gain")
    engine.run(g)
    events = []
    g.set_param("knobs", "gain", 3.0)  # driven: the stored value does not count, nothing reruns
    engine.run(g, listener=events.append)
    assert not [e for e in events if isinstance(e, NodeFinished)]
    g.set_param("wave", "peak", 2.0)
    events.clear()
    engine.run(g, listener=events.append)
    assert {e.node_id for e in events if isinstance(e, NodeFinished)} == {"wave", "knobs"}
    assert SEEN["gain"] == pytest.approx(1.0)


def test_only_number_parameters_can_be_driven():
    reg = registry()
    g = graph()
    g.connect("wave", "signal", "knobs", "name")
    reason = check_link(g, reg, g.links[0])
    assert reason is not None and "'name'" in reason and "only number parameters" in reason
    g2 = graph()
    g2.connect("wave", "signal", "knobs", "seed")
    assert "only number parameters" in (check_link(g2, reg, g2.links[0]) or "")
    problems = validate(g, reg)
    assert [p.kind for p in problems] == ["bad_link"]


def test_a_driven_parameter_survives_save_and_load():
    g = graph()
    g.connect("wave", "signal", "knobs", "level")
    again = loads(dumps(g, registry()), registry())
    assert [(lk.src, lk.dst, lk.dst_port) for lk in again.links] == [("wave", "knobs", "level")]


def test_real_nodes_one_signal_gates_another_and_drives_the_camera_shake():
    from nodes.camera import camera_path
    from nodes.signal import signal_math

    reg = NodeRegistry([wave, signal_math, camera_path])
    g = Graph()
    g.add_node(wave, "a", params={"peak": 1.0})
    g.add_node(wave, "b", params={"peak": 0.5})
    g.add_node(signal_math, "gate", params={"clamp": False})
    g.add_node(camera_path, "cam", params={"preset": "static"})
    g.connect("a", "signal", "gate", "signal")
    g.connect("b", "signal", "gate", "scale")  # frame by frame: a x b
    g.connect("gate", "signal", "cam", "shake")
    assert validate(g, reg) == []
    result = Engine(reg).run(g)
    assert result.ok, result.errors
    gated = result.outputs["gate"]["signal"]
    assert np.allclose(gated.values, [0.0, 0.125, 0.5, 0.125])
    # Shake follows the signal: none on the frame where it is 0, most where it peaks.
    track = result.outputs["cam"]["camera"].track(4, 8.0)
    still = np.array([0, 0, 1, 0, 0, 0, 0], dtype=np.float64)
    moves = np.abs(track.values - still).sum(axis=1)
    assert moves[0] == pytest.approx(0.0, abs=1e-6) and moves[2] > 0
