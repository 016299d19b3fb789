"""Third-party node packs plug in through the 'studio.nodes' entry-point group; broken ones are reported."""

from __future__ import annotations

import json
import sys
import textwrap

from studio.graph import NodeRegistry, fileformat, loads


def make_distribution(root, name: str, module_source: str, entry: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[studio.nodes]\n{name} = {entry}\n")


def test_entry_point_packs_are_found_and_broken_ones_reported(tmp_path, monkeypatch):
    make_distribution(tmp_path, "depth_pack", """
        from studio.graph import ParamSpec, PortSpec, node

        @node("depth.Estimate", title="Depth Map", category="Inputs",
              outputs=[PortSpec("depth", "VIDEO")], params=[ParamSpec("scale", "float", 1.0)])
        def estimate(ctx, scale):
            return None
    """, "depth_pack")
    make_distribution(tmp_path, "broken_pack", "raise ImportError('needs a library that is not installed')\n",
                      "broken_pack")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = NodeRegistry.default()
    assert registry.get("depth.Estimate").title == "Depth Map"
    assert registry.get("studio.Text") is not None
    assert len(registry.load_errors) == 1 and "broken_pack" in registry.load_errors[0]
    assert "needs a library that is not installed" in registry.load_errors[0]
    for name in ("depth_pack", "broken_pack"):
        sys.modules.pop(name, None)


def test_format_migrations_run_in_order(monkeypatch):
    current = fileformat.FORMAT_VERSION

    def to_next(doc):
        for n in doc["nodes"]:
            n["params"] = n.pop("settings", {})
        return doc

    monkeypatch.setattr(fileformat, "FORMAT_VERSION", current + 1)
    monkeypatch.setitem(fileformat.MIGRATIONS, current, to_next)
    # a file from the oldest format runs through every migration, the real ones and then this one
    doc = {"format": "studio.graph", "version": 1,
           "nodes": [{"id": "t", "type": "studio.Text", "settings": {"prompt": "hello"}}]}
    graph = loads(json.dumps(doc), NodeRegistry.default())
    assert graph.nodes["t"].params["prompt"] == "hello"


def test_a_pack_adds_a_port_type_and_nodes_that_carry_it(tmp_path, monkeypatch):
    from studio.graph import Graph, Link, check_link, port_colour, spec
    from studio.graph.spec import PortSpec

    # the catalogue only grows: this test's pack must not leave its type behind for the others
    monkeypatch.setattr(spec, "PORT_TYPES", dict(spec.PORT_TYPES))
    make_distribution(tmp_path, "depth_types_pack", """
        from studio.graph import PortSpec, PortType, node, register_port_type

        class DepthMap:
            def __init__(self, values):
                self.values = values

        DEPTH = register_port_type(PortType("DEPTH_MAP", "distance per pixel, 0 near to 1 far", "#123456",
                                            DepthMap))

        @node("depth.Estimate", title="Depth Map", category="Inputs", inputs=[PortSpec("video", "VIDEO")],
              outputs=[PortSpec("depth", "DEPTH_MAP")])
        def estimate(ctx, video):
            return DepthMap([0.5])

        @node("depth.Fog", title="Depth Fog", category="Directing", inputs=[PortSpec("depth", "DEPTH_MAP")],
              outputs=[PortSpec("video", "VIDEO")])
        def fog(ctx, depth):
            return None
    """, "depth_types_pack")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry = NodeRegistry.default()
        assert not registry.load_errors
        depth = spec.PORT_TYPES["DEPTH_MAP"]
        assert depth.help.startswith("distance per pixel") and port_colour("DEPTH_MAP") == "#123456"
        assert depth.value_class().__name__ == "DepthMap"
        assert port_colour("NO_SUCH_TYPE") == "#c0c0c0" and port_colour("VIDEO") == "#ff7a59"
        assert [s.type_id for s, _ in registry.compatible_with("DEPTH_MAP", "output")] == ["depth.Fog"]
        graph = Graph()
        graph.add_node(registry.get("depth.Estimate"), "estimate")
        graph.add_node(registry.get("depth.Fog"), "fog")
        assert check_link(graph, registry, Link("estimate", "depth", "fog", "depth")) is None
        graph.add_node(registry.get("depth.Estimate"), "again")
        wrong = check_link(graph, registry, Link("estimate", "depth", "again", "video"))
        assert wrong is not None and "cannot connect DEPTH_MAP output" in wrong
        # a name keeps its meaning: another declaration under it is refused, the same one is welcome
        from depth_types_pack import DEPTH

        assert spec.register_port_type(DEPTH) is DEPTH
        try:
            spec.register_port_type(spec.PortType("DEPTH_MAP", "something else"))
        except ValueError as exc:
            assert "already registered" in str(exc)
        else:
            raise AssertionError("a second meaning for DEPTH_MAP was accepted")
        try:
            PortSpec("x", "DEPTH_MAPS")
        except ValueError as exc:
            assert "unknown port type" in str(exc)
        else:
            raise AssertionError("an undeclared port type was accepted")
    finally:
        sys.modules.pop("depth_types_pack", None)


def test_roles_declared_on_specs_are_what_the_app_asks_for():
    import pytest

    from studio.engine.engine import draft_copy
    from studio.graph import Graph, ParamSpec, PortSpec, Roles, node

    builtin = NodeRegistry.default()
    assert builtin.types_with_role("exporter") == {"studio.Export"}
    assert builtin.types_with_role("camera_source") == {"studio.CameraPath"}
    assert builtin.types_with_role("preview") == {"studio.Preview"}
    assert builtin.types_with_role("model_loader") == {"studio.LoadModel"}
    assert builtin.get("studio.GenerateVideo").roles.clip_rate == "fps"

    # a draft mapping under other names than Generate Video's: the engine follows the declaration
    @node("pack.Solver", title="Solver", category="Test", outputs=[PortSpec("y", "FLOAT")],
          params=[ParamSpec("iterations", "int", 40), ParamSpec("quick_iterations", "int", 5),
                  ParamSpec("steps", "int", 30), ParamSpec("draft_steps", "int", 2)],
          roles=Roles(draft=(("iterations", "quick_iterations"),)))
    def solver(ctx, iterations, quick_iterations, steps, draft_steps):
        return 0.0

    registry = NodeRegistry([solver])
    graph = Graph()
    graph.add_node(solver, "s")
    draft, changed = draft_copy(graph, registry)
    assert changed == ["s"] and draft.nodes["s"].params["iterations"] == 5
    assert draft.nodes["s"].params["steps"] == 30  # not declared: the names alone mean nothing
    assert graph.nodes["s"].params["iterations"] == 40
    with pytest.raises(ValueError, match="lacks"):
        node("pack.Bad", title="Bad", category="Test", roles=Roles(clip_rate="fps"))(lambda ctx: None)
