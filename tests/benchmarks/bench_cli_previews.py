"""`studio render` unwatched against the editor's watched render: the demo graph (first-clip example, embedded
model) rendered N times each way, alternating, in one process on one engine (the model loads once, untimed).

Watched: the engine runs as the editor runs it, a live whole-clip preview decoded at every step. Unwatched: as
`studio render` runs it (studio.cli.render._run_to_end), no preview made. Each run takes a fresh seed so the
generator runs again (the engine would answer from its cache; a seed does not change the work). The
Export node writes into a temporary folder. Reports the Generate Video node's seconds and the whole run's,
median per way with the ratio, and `uptime`.

Run on demand:
    HF_HUB_OFFLINE=1 python -m tests.benchmarks.bench_cli_previews [--rounds 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

from studio import warmup

warmup.short_spin_waits()  # as `studio` does before torch loads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    from studio.cli.render import _run_to_end
    from studio.engine import Engine, NodeProgress
    from studio.engine.outputs import OutputPolicy
    from studio.graph import NodeRegistry, load_graph
    from studio.paths import RESOURCES

    registry = NodeRegistry.default()
    example = RESOURCES / "examples" / "first-clip.studio.json"
    graph = load_graph(example, registry)
    graph.set_param("generate", "steps", args.steps)
    policy = OutputPolicy(root=Path(tempfile.mkdtemp(prefix="bench-cli-previews-")), overwrite=True)
    engine = Engine(registry)
    made = {"previews": 0}

    def listener(event) -> None:  # noqa: ANN001 - an engine event; counts the previews that reached a front end
        if isinstance(event, NodeProgress) and event.preview is not None:
            made["previews"] += 1

    def watched(g):  # noqa: ANN001, ANN202 - the editor's way: a worker thread, previews on
        out = {}
        worker = threading.Thread(target=lambda: out.setdefault(
            "r", engine.run(g, listener=listener, base_dir=example.parent, outputs=policy)))
        worker.start()
        worker.join()
        return out["r"]

    def unwatched(g):  # noqa: ANN001, ANN202 - `studio render`'s way
        return _run_to_end(engine, g, listener, example.parent, policy)

    graph.set_param("generate", "seed", 10_000)
    assert watched(graph).ok  # loads the model, fits nothing later rounds pay for; untimed
    ways = {"watched (editor)": watched, "unwatched (studio render)": unwatched}
    generate: dict[str, list[float]] = {name: [] for name in ways}
    total: dict[str, list[float]] = {name: [] for name in ways}
    previews: dict[str, int] = {name: 0 for name in ways}
    for round_ in range(args.rounds):
        order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
        for index, name in enumerate(order):
            graph.set_param("generate", "seed", 2 * round_ + index + 1)  # a seed per run: none is cached
            made["previews"] = 0
            result = ways[name](graph)
            assert result.ok, result.failed
            generate[name].append(result.timings["generate"])
            total[name].append(result.seconds)
            previews[name] += made["previews"]
    print(f"demo graph, {args.steps} steps, {args.rounds} rounds each way, alternating; "
          f"torch threads {_threads()}; pid {os.getpid()}")
    base = statistics.median(generate["watched (editor)"])
    for name in ways:
        g, t = statistics.median(generate[name]), statistics.median(total[name])
        print(f"  {name:27s} generate median {g:6.2f} s (min {min(generate[name]):.2f}, max "
              f"{max(generate[name]):.2f})  whole run median {t:6.2f} s  ratio to watched {g / base:.3f}  "
              f"previews {previews[name]}")
    saved = base - statistics.median(generate["unwatched (studio render)"])
    print(f"  saved per clip: {saved:.2f} s ({saved / args.steps * 1000:.1f} ms a step)")
    print("  uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
