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
    def v1_to_v2(doc):
        for n in doc["nodes"]:
            n["params"] = n.pop("settings", {})
        return doc

    monkeypatch.setattr(fileformat, "FORMAT_VERSION", 2)
    monkeypatch.setitem(fileformat.MIGRATIONS, 1, v1_to_v2)
    doc = {"format": "studio.graph", "version": 1,
           "nodes": [{"id": "t", "type": "studio.Text", "settings": {"prompt": "hello"}}]}
    graph = loads(json.dumps(doc), NodeRegistry.default())
    assert graph.nodes["t"].params["prompt"] == "hello"
