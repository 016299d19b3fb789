"""`studio bench-speed`: what each speed setting costs on a graph's model, remembered for 'balanced' and 'fast'."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.cli.exits import EXIT_CANCELLED, EXIT_OK
from studio.cli.registry import load_registry


def add_commands(sub) -> None:  # noqa: ANN001 - argparse's private subparsers action
    p = sub.add_parser(
        "bench-speed",
        help="measure the speed settings on a graph's model (speedup, PSNR, SSIM) and remember which keep 25 dB",
        description="Renders the graph's Generate node at its seed in full and with each speed setting, "
                    "compares the clips, and remembers per model which settings keep PSNR >= 25 dB: "
                    "speed 'balanced' then uses the fastest of those, 'fast' the fastest of all.")
    p.add_argument("graph")
    p.add_argument("--seed", type=int, default=None, help="render at this seed (default: the node's)")
    p.add_argument("--settings", default=None,
                   help="comma-separated settings to measure, e.g. first_block@0.08,taylorseer@3 "
                        "(default: every method at a few values)")
    p.add_argument("--node", default=None, help="the Generate node to measure, when the graph has several")
    p.add_argument("--device", default=None, help="run the model on this device (as studio render --device)")
    p.add_argument("--json", action="store_true", help="machine-readable results")
    p.set_defaults(func=cmd_bench_speed)


def cmd_bench_speed(args: argparse.Namespace) -> int:
    from studio.graph import load_graph
    from studio.runtime import fidelity

    registry = load_registry()
    path = Path(args.graph)
    graph = load_graph(path, registry)
    if args.device:
        for nid, node in graph.nodes.items():
            if node.type in registry.types_with_role("model_loader"):
                graph.set_param(nid, "device", args.device)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()] if args.settings else None

    def show(result) -> None:
        if not args.json:
            print("  " + result.line(), flush=True)

    if not args.json:
        print(f"{path.name}: rendering in full, then with each setting (same seed)...", file=sys.stderr)
    try:
        bench = fidelity.bench_graph(graph, registry, settings, node_id=args.node, seed=args.seed,
                                     base_dir=path.parent.resolve(), on_result=show)
    except KeyboardInterrupt:
        print("\ncancelled", file=sys.stderr)
        return EXIT_CANCELLED
    memory = fidelity.SpeedMemory()
    balanced = fidelity.resolve("balanced", bench.model, memory)
    fast = fidelity.resolve("fast", bench.model, memory)
    if args.json:
        rows = [{"setting": r.setting, "speedup": r.speedup, "psnr": min(r.psnr, 999.0), "ssim": r.ssim,
                 "seconds": r.seconds, "full_seconds": r.full_seconds, "passed": r.passed, "error": r.error}
                for r in bench.results]
        print(json.dumps({"model": bench.model.name, "node": bench.node_id, **bench.context, "results": rows,
                          "balanced": balanced.setting, "fast": fast.setting, "memory": str(memory.path)},
                         indent=2))
        return EXIT_OK
    print(f"model {bench.model.name}, node '{bench.node_id}', seed {bench.seed}, {bench.context['steps']} steps, "
          f"clip {bench.context['clip']}; full render {bench.results[0].full_seconds:.2f} s")
    print(f"balanced -> {balanced.setting} ({balanced.why})")
    print(f"fast     -> {fast.setting} ({fast.why})")
    print(f"remembered in {memory.path}")
    return EXIT_OK
