"""The graph document, validation and the registry."""

from __future__ import annotations

import pytest

from studio.graph import (
    ChangeKind,
    Graph,
    Group,
    Link,
    Node,
    NodeRegistry,
    ParamSpec,
    PortSpec,
    check_link,
    find_cycle,
    node,
    validate,
)
from tests.toy_nodes import add, number, registry, sink, slow


def test_ids_are_stable_and_readable():
    g = Graph()
    a = g.add_node(number)
    b = g.add_node(number)
    assert (a.id, b.id) == ("number", "number_2")
    g.remove_node("number")
    assert g.add_node(number).id == "number"
    assert "number_2" in g.nodes


def test_connect_replaces_the_existing_link_into_an_input():
    g = Graph()
    g.add_node(number, "n1"), g.add_node(number, "n2"), g.add_node(add, "add")
    g.connect("n1", "value", "add", "a")
    link, replaced = g.connect("n2", "value", "add", "a")
    assert replaced == Link("n1", "value", "add", "a")
    assert g.links == [link]


def test_remove_node_returns_its_links_for_undo():
    g = Graph()
    g.add_node(number, "n"), g.add_node(add, "add")
    g.connect("n", "value", "add", "a")
    node_obj, links = g.remove_node("n")
    assert node_obj.id == "n" and links == [Link("n", "value", "add", "a")]
    assert g.links == []


def test_changes_are_published():
    g = Graph()
    seen = []
    unsubscribe = g.subscribe(lambda c: seen.append(c.kind))
    g.add_node(number, "n")
    g.set_param("n", "value", 3.0)
    g.update_node("n", position=(5.0, 6.0))
    unsubscribe()
    g.remove_node("n")
    assert seen == ["node_added", "node_changed", "node_changed"]


def test_validation_reports_every_problem_at_once():
    reg = registry()
    g = Graph()
    g.add_node(add, "add")  # missing required input a
    g.add_node(number, "big", params={"value": 1e9})  # above maximum
    g.add_node(number, "txt", params={"value": "three"})  # wrong type
    g.add_node(slow, "slow")
    g.add_node(sink, "sink")
    g.connect("slow", "y", "sink", "x")
    g.connect("sink", "x", "slow", "x")  # cycle
    from studio.graph import Node

    g.insert_node(Node("mystery", "test.Nmber"))
    problems = validate(g, reg)
    kinds = sorted(p.kind for p in problems)
    assert kinds == ["bad_value", "bad_value", "cycle", "missing_input", "unknown_type"]
    text = "\n".join(str(p) for p in problems)
    assert "node 'add', input 'a': required FLOAT input is not connected" in text
    assert "node 'big', parameter 'value': 1000000000.0 is above the maximum 100" in text
    assert "node 'txt', parameter 'value': expects a number, got 'three'" in text
    assert "did you mean 'test.Number'?" in text
    assert "cycle" in text and "slow" in text


def test_type_mismatch_is_refused_with_the_ports_named():
    prompt_source = node("test.P", title="P", category="Test", outputs=[PortSpec("p", "PROMPT")])(lambda ctx: "")
    reg = NodeRegistry([prompt_source, add])
    g = Graph()
    g.add_node(prompt_source, "p"), g.add_node(add, "add")
    reason = check_link(g, reg, Link("p", "p", "add", "a"))
    assert reason == "cannot connect PROMPT output 'p' of 'p' to FLOAT input 'a' of 'add'"


def test_check_link_refuses_a_cycle_before_it_exists():
    reg = registry()
    g = Graph()
    g.add_node(add, "a1"), g.add_node(add, "a2")
    g.connect("a1", "sum", "a2", "a")
    assert "cycle" in check_link(g, reg, Link("a2", "sum", "a1", "a"))
    assert find_cycle(g) is None


def test_closest_name_and_compatible_types():
    reg = registry()
    assert reg.closest("test.add") == "test.Add"
    assert reg.closest("Slwo") == "test.Slow"
    assert reg.closest("zzzzzz") is None
    types = {spec.type_id for spec, _ in reg.compatible_with("FLOAT", "output")}
    assert types == {"test.Add", "test.Slow", "test.Fail", "test.Sink"}


def test_spec_refuses_shared_names_and_bad_defaults():
    with pytest.raises(ValueError):
        node("x.Y", title="Y", category="T", inputs=[PortSpec("a", "FLOAT")],
             params=[ParamSpec("a", "int", 1)])(lambda ctx, a: a)
    with pytest.raises(ValueError):
        ParamSpec("mode", "enum", "c", choices=("a", "b"))


def test_builtin_library_registers_and_stays_light():
    import subprocess
    import sys

    code = ("import sys; from studio.graph import NodeRegistry; r = NodeRegistry.default(); "
            "print(len(r)); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) >= 6
    assert out[1] == "False", "importing the node library must not import torch (slow editor start-up)"


def test_json_parameters_hold_structured_data():
    keyframes = ParamSpec("keys", "json", [])
    assert keyframes.problems([{"frame": 0, "zoom": 1.0}, {"frame": 16, "zoom": 1.5}]) == []
    assert keyframes.problems("0:1.0") == ["expects a list or object of plain data, got '0:1.0'"]
    assert keyframes.problems([float("inf")]) != []
    assert keyframes.parse('[{"frame": 3}]') == [{"frame": 3}]


def test_link_lookups_follow_every_edit():
    g = Graph()
    for nid in ("a", "b", "c"):
        g.add_node(number, nid)
    g.add_node(add, "sum")
    g.connect("a", "value", "sum", "a")
    assert g.link_into("sum", "a") == Link("a", "value", "sum", "a")
    g.connect("b", "value", "sum", "a")  # replaces
    g.connect("c", "value", "sum", "b")
    assert g.link_into("sum", "a").src == "b" and g.links_from("a") == []
    assert [lk.src for lk in g.inputs_of("sum")] == ["b", "c"]
    copy = g.copy()
    g.remove_node("c")
    assert g.link_into("sum", "b") is None and copy.link_into("sum", "b") is not None
    g.links = []
    assert g.inputs_of("sum") == [] and g.link_into("sum", "a") is None
    seen = []
    g.subscribe(lambda change: seen.append(change.kind))
    g.set_meta("reroutes", {"x": [[1, 2]]})
    assert g.meta["reroutes"] == {"x": [[1, 2]]} and seen == ["meta_changed"]


def _two_node_graph() -> Graph:
    g = Graph()
    g.add_node(number, "n", position=(1.0, 2.0), params={"value": 3.0})
    g.add_node(add, "sum", position=(300.0, 0.0))
    g.connect("n", "value", "sum", "a")
    g.set_groups([Group("frame", "Inputs", (0.0, 0.0, 100.0, 80.0))])
    g.set_meta("render", {"fps": 8, "size": [640, 360]})
    return g


def test_copy_carries_every_field_by_name_and_shares_no_mutable_data():
    g = _two_node_graph()
    g.insert_node(Node("odd", "gone.Plugin", {"curve": [[0, 1], [2, 3]]}, (5.0, 6.0), "Mine", True, 3,
                       unknown={"id": "odd", "extra": [1, 2]}))
    other = g.copy()
    assert other.same_content(g)
    for nid, original in g.nodes.items():  # every attribute, so a field added later is checked too
        assert vars(other.nodes[nid]) == vars(original) and other.nodes[nid] is not original
    other.nodes["odd"].params["curve"][0][0] = 9
    other.nodes["odd"].unknown["extra"].append(3)
    other.meta["render"]["size"][0] = 1
    other.groups[0].title = "changed"
    assert g.nodes["odd"].params["curve"] == [[0, 1], [2, 3]] and g.nodes["odd"].unknown["extra"] == [1, 2]
    assert g.meta["render"]["size"] == [640, 360] and g.groups[0].title == "Inputs"
    assert not other.same_content(g)


def test_restore_goes_through_the_evented_methods_and_is_exact():
    g = _two_node_graph()
    before = g.copy()
    g.update_node("sum", title="Total", position=(310.0, 0.0))
    g.remove_node("n")
    g.set_meta("render", None)
    g.set_meta("reroutes", {"x": [[1, 2]]})
    seen = []
    g.subscribe(lambda c: seen.append((c.kind, c.node_id or (str(c.link) if c.link else c.detail.get("key")))))
    g.restore(before)
    assert g.same_content(before) and list(g.nodes) == ["n", "sum"]
    assert seen == [
        (ChangeKind.NODE_ADDED, "n"),
        (ChangeKind.NODE_CHANGED, "sum"),
        (ChangeKind.LINK_ADDED, "n.value -> sum.a"),
        (ChangeKind.META_CHANGED, "reroutes"),
        (ChangeKind.META_CHANGED, "render"),
        (ChangeKind.ORDER_CHANGED, None),
    ]
    seen.clear()
    g.restore(before)
    assert seen == []  # nothing to do, nothing announced
    g.set_param("n", "value", 3)
    assert not g.same_content(before)
    seen.clear()
    g.restore(before)
    assert seen == [(ChangeKind.NODE_CHANGED, "n")] and type(g.nodes["n"].params["value"]) is float


def test_every_write_is_announced_even_a_whole_attribute():
    g = _two_node_graph()
    seen = []
    g.subscribe(lambda c: seen.append(c.kind))
    g.meta = {}
    g.nodes = {}
    g.links = []
    g.groups = []
    assert seen == [ChangeKind.RESET] * 4
    seen.clear()
    g.replace_with(_two_node_graph())
    assert seen == ["reset"] and g.same_content(_two_node_graph())
