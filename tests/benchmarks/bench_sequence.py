"""Sequences on the embedded model: time per second of video, peak RAM and seams as the shot list grows.

Each shot count renders in a fresh process (so VmHWM, the process's peak resident memory, is its own) from the
shipped example ``resources/examples/shots.studio.json``: its first N shots (past 6 the list repeats with new
seeds, the first repeated shot a cut). Reported per count: the Generate Sequence node's seconds per second of
video, VmHWM, how many shots show their captioned colour, shape and motion (studio.embedded.analysis), and the
frame-to-frame change across each "continue" seam against the 95th percentile of the change inside shots.

Run on demand:
    python -m tests.benchmarks.bench_sequence [--counts 1,3,6] [--draft] [--runs 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "shots.studio.json"

CHILD = r"""
import json, sys, time
from pathlib import Path
count, draft, example = int(sys.argv[1]), sys.argv[2] == "1", Path(sys.argv[3])
from studio.directing.shots import seam_report
from studio.embedded.analysis import analyse
from studio.engine import Engine
from studio.engine.engine import draft_copy
from studio.graph import NodeRegistry, load_graph

registry = NodeRegistry.default()
graph = load_graph(example, registry)
graph.remove_node("export")
base = graph.nodes["shots"].params["shots"]
rows = []
for i in range(count):
    row = dict(base[i % len(base)])
    if i >= len(base):
        row["seed"] = row["seed"] + 100 * (i // len(base))
        if i % len(base) == 0:
            row["transition"] = "cut"
    rows.append(row)
graph.set_param("shots", "shots", rows)
if draft:
    graph, _ = draft_copy(graph, registry)
result = Engine(registry).run(graph, base_dir=example.parent)
assert result.ok, result.failed
video = result.outputs["preview"]["video"]
fps = video.fps
starts = [round(s * fps) for s, _ in video.generation.sections] or [0]
ends = starts[1:] + [video.num_frames]
agree = {"colour": 0, "shape": 0, "motion": 0}
for row, lo, hi in zip(rows, starts, ends):
    words = row["prompt"].split()
    found = analyse(video.frames[lo:hi])
    agree["colour"] += found.colour == words[1]
    agree["shape"] += found.shape == words[2]
    motion = words[4] if words[3] == "moves" else words[3]
    agree["motion"] += found.motion == motion
continued = [s for s, row in zip(starts, rows) if row.get("transition") == "continue"]
seams = seam_report(video.frames, continued)
status = Path("/proc/self/status").read_text()
hwm = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
print("BENCH " + json.dumps({"shots": count, "video_seconds": video.num_frames / fps,
                             "sequence_seconds": result.timings["sequence"], "vmhwm_mib": hwm / 1024,
                             "agree": agree, "seams": seams}))
"""


def run_child(count: int, draft: bool) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(count), "1" if draft else "0", str(EXAMPLE)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"shot count {count} failed:\n{done.stderr[-3000:]}")
    return json.loads(line[6:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,3,6")
    parser.add_argument("--draft", action="store_true", help="draft steps and guidance, as --draft renders")
    parser.add_argument("--runs", type=int, default=1, help="runs per count (alternating); medians reported")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    runs: dict[int, list[dict]] = {c: [] for c in counts}
    for _ in range(args.runs):
        for count in counts:  # alternate, so that a busy machine slows each count alike
            runs[count].append(run_child(count, args.draft))
    rows = []
    print(f"{'shots':>5} {'video s':>8} {'render s':>9} {'s per video s':>14} {'VmHWM MiB':>10} "
          f"{'colour/shape/motion':>20}  continue seams vs inside p95")
    for count in counts:
        last = runs[count][-1]
        render = statistics.median(r["sequence_seconds"] for r in runs[count])
        hwm = statistics.median(r["vmhwm_mib"] for r in runs[count])
        agree = last["agree"]
        seams = last["seams"]
        seam_text = ", ".join(f"{v:.1f}" for v in seams["seams"]) or "-"
        print(f"{count:>5} {last['video_seconds']:>8.2f} {render:>9.2f} {render / last['video_seconds']:>14.2f} "
              f"{hwm:>10.0f} {agree['colour']:>6}/{agree['shape']}/{agree['motion']} of {count:<4}  "
              f"[{seam_text}] vs {seams['inside_p95']:.1f} ({seams['within_p95']} within)")
        rows.append({"shots": count, "render_seconds": render, "vmhwm_mib": hwm, **last})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
