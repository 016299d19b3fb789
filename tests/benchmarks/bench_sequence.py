"""Sequences on the embedded model: time per second of video, peak RAM and seams as the shot list grows.

Each shot count renders in a fresh process (so VmHWM, the process's peak resident memory, is its own) from the
shipped example ``resources/examples/shots.studio.json``: its first N shots (past 6 the list repeats with new
seeds, the first repeated shot a cut). Reported per count: the Generate Sequence node's seconds per second of
video, VmHWM, how many shots show their captioned colour, shape and motion (studio.embedded.analysis), and the
frame-to-frame change across each "continue" seam against the 95th percentile of the change inside shots.

``--long``: one shot of 2 minutes (1,920 frames at 16 fps, 64x64) and one of 10 seconds, each in a fresh
process through Generate Sequence and a signed Export, at draft steps (6: 120 model windows at 20 steps would
take most of an hour on two shared cores): peak RAM (VmHWM) of each, time per second of video, and the
exported clip's frame count.

``--disk``: the example's six shots (draft steps) in a fresh process: the disk the sequence's frames take while
its clip is alive (the shot store's entries plus any copy of the clip spooled beside them), joined through the
shots' files against joined by copying (as before the shot store), side by side; then the same graph in a second
fresh process, whose shots all come from the store, and its seconds against the first's.

``--shots50``: 50 shots, two characters (tests/directing/sequence_quality.py: the red circle, the blue square,
each cut from the character's picture and continued back), draft steps by default: character kept, captioned
motion obeyed, continue seams within the in-shot p95; beside them, the same figures for the same model frames
with recipe 2's seam handling (``offset_fade``, applied to each continued segment's frames as the model drew
them, recorded in the run), so the two compare on one render; then one shot edited (a cut, then a continue) on
the same engine, counting the shots that render again from the engine's events.

Run on demand:
    python -m tests.benchmarks.bench_sequence [--counts 1,3,6] [--draft] [--runs 1] [--json out.json]
    python -m tests.benchmarks.bench_sequence --long [--seconds 120,10]
    python -m tests.benchmarks.bench_sequence --shots50 [--count 50] [--steps 20]
    python -m tests.benchmarks.bench_sequence --disk
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
cuts = [s for s, row in zip(starts, rows) if row.get("transition") != "continue"]
seams = seam_report(video.frames, continued, cuts)
status = Path("/proc/self/status").read_text()
hwm = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
print("BENCH " + json.dumps({"shots": count, "video_seconds": video.num_frames / fps,
                             "sequence_seconds": result.timings["sequence"], "vmhwm_mib": hwm / 1024,
                             "agree": agree, "seams": seams}))
"""


def run_child(count: int, draft: bool) -> dict:
    with tempfile.TemporaryDirectory() as home:  # its own shot store: no shot of an earlier count is reused
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": home}
        done = subprocess.run([sys.executable, "-c", CHILD, str(count), "1" if draft else "0", str(EXAMPLE)],
                              capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"shot count {count} failed:\n{done.stderr[-3000:]}")
    return json.loads(line[6:])


LONG_CHILD = r"""
import json, os, sys, time
from pathlib import Path
seconds, example = float(sys.argv[1]), Path(sys.argv[2])
from studio.engine import Engine
from studio.engine.engine import draft_copy
from studio.engine.outputs import OutputPolicy
from studio.graph import NodeRegistry, load_graph
from studio.media.encode import probe

def hwm():
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024

registry = NodeRegistry.default()
graph = load_graph(example, registry)
graph.set_param("shots", "shots", [{"name": "take", "prompt": "a red circle moves right on a black background",
                                    "seconds": seconds, "seed": 1, "character": "a"}])
graph.set_param("sequence", "preview", False)
graph, _ = draft_copy(graph, registry)
out = Path(os.environ["BENCH_OUT"]) / f"long-{int(seconds)}.mp4"
engine = Engine(registry)
before = hwm()
marks = []  # (time, step) of the sequence's progress: the first and last tenth of one run, same load

def listen(event):
    if getattr(event, "node_id", "") == "sequence" and hasattr(event, "step") and event.total > 1:
        marks.append((time.perf_counter(), event.step, event.total))

result = engine.run(graph, base_dir=example.parent, outputs=OutputPolicy(chosen={"export": out}, overwrite=True),
                    listener=listen)
assert result.ok, result.failed
video = result.outputs["sequence"]["video"]
info = probe(result.outputs["export"]["path"])
total = marks[-1][2]

def at(step):
    return next(t for t, s, _ in marks if s >= step)

tenth = seconds / 10
first_tenth = (at(total // 10) - at(1)) / (tenth * (total // 10 - 1) / (total // 10))
last_tenth = (at(total) - at(total - total // 10)) / tenth
print("BENCH " + json.dumps({"seconds": seconds, "first_tenth": first_tenth, "last_tenth": last_tenth, "frames": video.num_frames, "model_hwm_mib": before,
                             "vmhwm_mib": hwm(), "sequence_seconds": result.timings["sequence"],
                             "export_seconds": result.timings["export"], "clip_frames": info.frames}))
"""

SHOTS50_CHILD = r"""
import json, sys, types
from pathlib import Path
import numpy as np
count, steps = int(sys.argv[1]), int(sys.argv[2])
sys.path.insert(0, sys.argv[3])
import studio.runtime.recipes.sequence as recipe
from studio.engine import Engine
from studio.graph import NodeRegistry
from tests.benchmarks.bench_sequence import offset_fade
from tests.directing.sequence_quality import EXAMPLE, rendered_rows, score, sequence_graph, shot_rows

blend, drawn = recipe.seam_blend, []  # each continued segment's frames as the model drew them, and its first frame

def recording(clip, image, *args, **kwargs):
    drawn.append((np.array(clip), np.array(image)))
    return blend(clip, image, *args, **kwargs)

recipe.seam_blend = recording
registry = NodeRegistry.default()
rows = shot_rows(count)
graph = sequence_graph(registry, rows, steps=steps)
graph.set_param("sequence", "guidance", 3.0 if steps <= 6 else 5.0)
engine = Engine(registry)
events = []
result = engine.run(graph, base_dir=EXAMPLE.parent, listener=events.append)
assert result.ok, result.failed
recipe.seam_blend = blend
video = result.outputs["preview"]["video"]
figures = score(video, rows)
# recipe 2's seam handling on the same model frames: each continue shot (one segment: its frames from 1 on) again
frames = np.asarray(video.frames)
old = frames.copy()
starts = [round(shot.start * video.fps) for shot in video.generation.shots]
for lo, hi, row in zip(starts, starts[1:] + [len(frames)], rows):
    if row.get("transition") == "continue":
        clip, image = next((c, i) for c, i in drawn if np.array_equal(i, frames[lo - 1]))
        assert len(clip) > hi - lo, "a continue shot of one segment"
        old[lo:hi] = offset_fade(clip, image)[1:1 + hi - lo]
figures["old"] = score(types.SimpleNamespace(fps=video.fps, generation=video.generation, frames=old,
                                             num_frames=len(old)), rows)
figures["render_seconds"] = result.timings["sequence"]
figures["first_run_rendered"] = len(rendered_rows(events))
edits = []
for row in (count // 2 - 1, count // 2):  # a cut (then its continue renders too), then a continue alone
    rows = [dict(r) for r in rows]
    rows[row]["seed"] += 1000
    graph.set_param("shots", "shots", rows)
    events = []
    result = engine.run(graph, base_dir=EXAMPLE.parent, listener=events.append)
    assert result.ok, result.failed
    edits.append({"edited": row + 1, "transition": rows[row].get("transition", "cut"),
                  "rendered": rendered_rows(events), "seconds": result.timings["sequence"]})
figures["edits"] = edits
print("BENCH " + json.dumps(figures))
"""


DISK_CHILD = r"""
import json, os, sys, time
from pathlib import Path
mode, example = sys.argv[1], Path(sys.argv[2])
from studio.media import framestore_spool
if mode == "copy":  # the clip joined by copying its frames into a spool of its own, as before the shot store
    framestore_spool.join_spools = lambda spools: None
from studio.engine import Engine
from studio.engine.engine import draft_copy
from studio.graph import NodeRegistry, load_graph

registry = NodeRegistry.default()
graph = load_graph(example, registry)
graph.remove_node("export")
graph, _ = draft_copy(graph, registry)
started = time.perf_counter()
result = Engine(registry).run(graph, base_dir=example.parent)
seconds = time.perf_counter() - started
assert result.ok, result.failed
video = result.outputs["preview"]["video"]
home = os.environ["STUDIO_HOME"]
# what the frames take on disk while the clip is alive: the store's files, and the files mapped here that are
# deleted already (a spooled copy of the clip), each once
disk = {}
for path in Path(home, "cache", "shots").glob("*.frames"):
    disk[str(path)] = path.stat().st_blocks * 512
for line in Path("/proc/self/maps").read_text().splitlines():
    fields = line.split(maxsplit=5)
    name = fields[5] if len(fields) > 5 else ""
    if name.startswith(home) and name.endswith(" (deleted)"):
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        disk[name] = max(disk.get(name, 0), hi - lo)
print("BENCH " + json.dumps({"mode": mode, "frames": video.num_frames, "frame_bytes": video.frames[0].nbytes,
                             "disk_bytes": sum(disk.values()), "files": len(disk), "seconds": seconds,
                             "sequence_seconds": result.timings.get("sequence", 0.0)}))
"""


def offset_fade(clip, image, frames: int = 8):
    """Recipe 2's seam handling (``seam_fade``, before ``seam_blend``), kept here to compare with: the redrawn
    frame 0's offset from the frame it continues added back, in full at frame 0, faded out by ``frames``."""
    import numpy as np

    offset = image.astype(np.float32) - clip[0].astype(np.float32)
    out = clip.copy()
    for t in range(min(frames, len(clip))):
        out[t] = np.clip(np.rint(clip[t].astype(np.float32) + (1.0 - t / frames) * offset), 0, 255).astype(np.uint8)
    return out


def run_disk() -> dict:
    def child(mode: str, home: str) -> dict:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": home}
        done = subprocess.run([sys.executable, "-c", DISK_CHILD, mode, str(EXAMPLE)], capture_output=True,
                              text=True, env=env, cwd=ROOT, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
        if line is None:
            raise SystemExit(f"the {mode} run failed:\n{done.stderr[-3000:]}")
        return json.loads(line[6:])

    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        copy = child("copy", other)
        join = child("join", one)
        again = child("join", one)  # a second process on the same store
    frames = join["frames"] * join["frame_bytes"]
    print(f"{join['frames']} frames of {join['frame_bytes']} bytes: {frames} bytes of pixels")
    for name, r in (("joined by copying", copy), ("joined through the shots' files", join)):
        print(f"  {name:<32} {r['disk_bytes']:>10} bytes on disk in {r['files']} files "
              f"({r['disk_bytes'] / frames:.2f}x the pixels)")
    print(f"  first process {join['sequence_seconds']:.1f} s; second process, every shot from the store: "
          f"{again['sequence_seconds']:.2f} s")
    return {"copy": copy, "join": join, "again": again}


def run_long(seconds_list: list[float]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": home,
               "BENCH_OUT": home}
        for seconds in seconds_list:
            done = subprocess.run([sys.executable, "-c", LONG_CHILD, str(seconds), str(EXAMPLE)],
                                  capture_output=True, text=True, env=env, cwd=ROOT, check=False)
            line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
            if line is None:
                raise SystemExit(f"the {seconds} s clip failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(line[6:]))
    print(f"{'clip s':>7} {'frames':>7} {'exported':>8} {'VmHWM MiB':>10} {'render s':>9} "
          f"{'s per video s':>14} {'first 10%':>10} {'last 10%':>9} {'export s':>9}")
    for r in rows:
        print(f"{r['seconds']:>7.0f} {r['frames']:>7} {r['clip_frames']:>8} {r['vmhwm_mib']:>10.0f} "
              f"{r['sequence_seconds']:>9.1f} {r['sequence_seconds'] / r['seconds']:>14.2f} "
              f"{r['first_tenth']:>10.2f} {r['last_tenth']:>9.2f} {r['export_seconds']:>9.2f}")
    print("(first/last 10%: seconds of rendering per second of video in the first and last tenth of the same "
          "run: growth with length shows there whatever the machine's load)")
    if len(rows) >= 2:
        print(f"peak RAM {rows[0]['seconds']:.0f} s / {rows[1]['seconds']:.0f} s: "
              f"{rows[0]['vmhwm_mib'] / rows[1]['vmhwm_mib']:.3f} (target <= 1.10)")
    return rows


def run_shots50(count: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as home:  # its own shot store: every shot renders on the first run
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": home}
        done = subprocess.run([sys.executable, "-c", SHOTS50_CHILD, str(count), str(steps), str(ROOT)],
                              capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"the {count}-shot sequence failed:\n{done.stderr[-3000:]}")
    r = json.loads(line[6:])
    n, c = r["shots"], r["continues"]
    print(f"{n} shots at {steps} steps, {r['render_seconds']:.0f} s; shapes read per character: "
          f"{r['character_shapes']}")
    print(f"  character kept (captioned colour; its usual shape or the caption's): {r['kept']}/{n} "
          f"({r['kept'] / n:.0%}, target 95%)")
    print(f"  captioned motion obeyed: {r['obeyed']}/{n} ({r['obeyed'] / n:.0%}, target 80%)")
    print(f"  shape read as the caption's word: {r['caption_shape']}/{n}")
    print(f"  continue seams within the in-shot p95 ({r['inside_p95']:.1f}): {r['seams_within']}/{c} "
          f"({r['seams_within'] / max(c, 1):.0%}, target 90%); seams "
          f"{', '.join(f'{v:.1f}' for v in r['seams'])}")
    print(f"  the same seams within the p95 of the two shots each joins: {r['seams_within_local']}/{c} "
          f"({r['seams_within_local'] / max(c, 1):.0%})")
    old = r["old"]
    print(f"  recipe 2's seam handling (offset fade) on the same model frames: seams within the in-shot p95 "
          f"({old['inside_p95']:.1f}) {old['seams_within']}/{c} ({old['seams_within'] / max(c, 1):.0%}), within "
          f"the two shots' p95 {old['seams_within_local']}/{c}; kept {old['kept']}/{n}, obeyed {old['obeyed']}/{n}; "
          f"seams {', '.join(f'{v:.1f}' for v in old['seams'])}")
    print(f"  the same seams within the p95 of in-shot steps that move ({r['moving_p95']:.1f}; differs from the "
          f"above where a VAE holds frames): {r['seams_within_moving']}/{c} "
          f"({r['seams_within_moving'] / max(c, 1):.0%})")
    for edit in r["edits"]:
        print(f"  edited shot {edit['edited']} ({edit['transition']}): rendered again {edit['rendered']} "
              f"in {edit['seconds']:.1f} s")
    for miss in r["misses"]:
        print(f"  miss {miss}")
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="a 2-minute clip against a 10-second one")
    parser.add_argument("--seconds", default="120,10", help="with --long: the clip lengths")
    parser.add_argument("--shots50", action="store_true", help="the 50-shot quality run and one-shot edits")
    parser.add_argument("--disk", action="store_true", help="disk the frames take; a second process's render")
    parser.add_argument("--count", type=int, default=50, help="with --shots50: the number of shots")
    parser.add_argument("--steps", type=int, default=6, help="with --shots50: steps (6 is the draft)")
    parser.add_argument("--counts", default="1,3,6")
    parser.add_argument("--draft", action="store_true", help="draft steps and guidance, as --draft renders")
    parser.add_argument("--runs", type=int, default=1, help="runs per count (alternating); medians reported")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.long or args.shots50 or args.disk:
        found = {}
        if args.disk:
            found["disk"] = run_disk()
        if args.long:
            found["long"] = run_long([float(x) for x in args.seconds.split(",")])
        if args.shots50:
            found["shots50"] = run_shots50(args.count, args.steps)
        if args.json:
            args.json.write_text(json.dumps(found, indent=2))
        return 0
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
