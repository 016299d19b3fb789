"""No import loops between files: a module never imports (directly or through others) a module that imports it.

At run time there are none, and a new one fails the first test. Counting the imports made only for type
checking too, a few loops remain (a mixin's or a helper's annotation naming the class that holds it): they are
listed, the second test fails on any beyond them, so the list can only shrink as the editor moves to composition.
"""

from __future__ import annotations

import sys

import grimp

# Loops that close only through imports for type checking; do not add to this list (it held six, all mended:
# the parts that needed their owner's type now name what they need as a Protocol).
KNOWN_TYPE_LOOPS: list[set[str]] = []


def import_loops(*packages: str, type_checking: bool = False) -> list[set[str]]:
    """The groups of modules that import each other in a circle (strongly connected, more than one module);
    ``type_checking``: count imports made only for type checking too."""
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=not type_checking, cache_dir=None)
    modules = sorted(graph.modules)
    edges = {m: sorted(set(graph.find_modules_directly_imported_by(m)) & set(modules)) for m in modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[set[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(modules)))

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            group = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.add(top)
                if top == module:
                    break
            if len(group) > 1:
                loops.append(group)

    for module in modules:
        if module not in order:
            visit(module)
    return loops


def test_no_import_loop_at_run_time():
    loops = import_loops("studio", "nodes")
    assert not loops, "import loops: " + "; ".join(" <-> ".join(sorted(loop)) for loop in loops)


def test_no_type_checking_loop_beyond_the_known_ones():
    loops = import_loops("studio", "nodes", type_checking=True)
    new = [loop for loop in loops if not any(loop <= known for known in KNOWN_TYPE_LOOPS)]
    assert not new, "new import loops: " + "; ".join(" <-> ".join(sorted(loop)) for loop in new)
    gone = [known for known in KNOWN_TYPE_LOOPS if not any(loop <= known for loop in loops)]
    assert not gone, "mended, so take them off KNOWN_TYPE_LOOPS: " + "; ".join(" <-> ".join(sorted(g)) for g in gone)


def test_the_loop_finder_finds_a_loop(tmp_path, monkeypatch):
    package = tmp_path / "looped"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from looped import b\n")
    (package / "b.py").write_text("def f():\n    from looped import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from looped import a\n")
    (package / "d.py").write_text("from looped import c\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_loops("looped") == [{"looped.a", "looped.b"}]
    (package / "a.py").write_text("from looped import b\nfrom looped import d\n")
    assert sorted(map(sorted, import_loops("looped", type_checking=True))) == [
        ["looped.a", "looped.b", "looped.c", "looped.d"]
    ]
