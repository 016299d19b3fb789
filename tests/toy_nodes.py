"""A small pure-Python node library for graph and engine tests (no torch, fast)."""

from __future__ import annotations

import time

from studio.errors import NodeError
from studio.graph import NodeRegistry, ParamSpec, PortSpec, node

CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


@node("test.Number", title="Number", category="Test", outputs=[PortSpec("value", "FLOAT")],
      params=[ParamSpec("value", "float", 1.0, minimum=-100, maximum=100)])
def number(ctx, value):
    _count("number")
    return value


@node("test.Add", title="Add", category="Test",
      inputs=[PortSpec("a", "FLOAT"), PortSpec("b", "FLOAT", optional=True)],
      outputs=[PortSpec("sum", "FLOAT")])
def add(ctx, a, b):
    _count("add")
    return a + (b or 0.0)


@node("test.Slow", title="Slow", category="Test", inputs=[PortSpec("x", "FLOAT")],
      outputs=[PortSpec("y", "FLOAT")],
      params=[ParamSpec("steps", "int", 5, minimum=1, maximum=1000), ParamSpec("seed", "seed", 0)])
def slow(ctx, x, steps, seed):
    """Memoizes a seed-independent part, then 'denoises' step by step."""
    _count("slow")
    base = ctx.memo("prepare", [ctx.input_key("x")], lambda: (_count("prepare"), x * 2)[1])
    for k in range(1, steps + 1):
        time.sleep(0.01)
        ctx.check_cancelled()
        ctx.progress(k, steps, preview=[base, k])
    return base + seed


@node("test.Fail", title="Fail", category="Test", inputs=[PortSpec("x", "FLOAT")],
      outputs=[PortSpec("y", "FLOAT")], params=[ParamSpec("crash", "bool", False)])
def fail(ctx, x, crash):
    if crash:
        raise ZeroDivisionError("boom")
    raise NodeError("the input is not usable", hint="try another one")


@node("test.Sink", title="Sink", category="Test", inputs=[PortSpec("x", "FLOAT")],
      outputs=[PortSpec("x", "FLOAT")], is_output=True)
def sink(ctx, x):
    _count("sink")
    return x


@node("test.File", title="File", category="Test", outputs=[PortSpec("size", "FLOAT")],
      params=[ParamSpec("path", "path", ""), ParamSpec("mode", "enum", "a", choices=("a", "b"))])
def file_size(ctx, path, mode):
    _count("file")
    return float(ctx.resolve_path(path).stat().st_size)


def registry() -> NodeRegistry:
    return NodeRegistry([number, add, slow, fail, sink, file_size])
