"""Time to a first clip: `studio demo -o clip.mp4` in a fresh process, its wall time and where it goes.

Each run is a new interpreter, as a person's first command is. The breakdown comes from the run itself: the
interpreter's start (`python -c pass`), importing the command line, each node's time as the render summary
prints it (model = imports of torch/diffusers + loading; generate = prompt encode + sampling + decode; export
= encode + watermark + signing), and what is left (graph load, exit). ``--importtime`` adds one run under
``python -X importtime`` and sums the import time by top-level package.

``--before REF`` compares a git commit with the working tree in one run of the script: the commit is
exported with `git archive` (read-only) into a temporary folder and run from there with the same venv.
``--variants`` adds ways of running the working tree (see VARIANTS). All alternate run by run so that a
busy machine slows each alike; medians and their ratios to the first are reported.

Run on demand:
    python -m tests.benchmarks.bench_first_clip [--runs 5] [--before HEAD] [--variants plain,exit-fast]
        [--importtime] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The child: import the command line, run the demo, report its own marks on the last line of stderr.
# argv: output file, variant. Variants try changes outside this script's reach before anyone makes them:
# "exit-fast" leaves with os._exit once the clip is written (no interpreter teardown), "no-preview" renders
# the demo graph with Generate's per-step preview off (the command line never shows it).
CHILD = r"""
import json, os, sys, time
started = time.perf_counter()
from studio.cli import main
imported = time.perf_counter()
out, variant = sys.argv[1], sys.argv[2]
if variant == "no-preview":
    from studio.paths import RESOURCES
    rc = main(["render", str(RESOURCES / "examples" / "first-clip.studio.json"), "-o", out, "--overwrite",
               "--quiet", "--set", "generate.preview=false"])
else:
    rc = main(["demo", "-o", out, "--overwrite", "--quiet"])
print("BENCH " + json.dumps({"import_cli": imported - started, "main": time.perf_counter() - started}),
      file=sys.stderr)
if variant == "exit-fast":
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
sys.exit(rc)
"""
VARIANTS = ("plain", "exit-fast", "no-preview", "one-thread")
_NODE_LINE = re.compile(r"^\s+(\S+)\s+([0-9.]+) s$")


def _env(code_root: Path | None, variant: str = "plain") -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    if code_root is not None:
        # Ahead of the editable install's finder (which comes after the path finder): the exported code wins.
        env["PYTHONPATH"] = str(code_root)
    if variant == "one-thread":
        env["OMP_NUM_THREADS"] = "1"
    return env


def run_once(code_root: Path | None, out: Path, variant: str = "plain", extra: tuple[str, ...] = ()) -> dict:
    """One fresh `studio demo`; wall and CPU time measured here, the rest read from the child's stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *extra, "-c", CHILD, str(out), variant],
                          env=_env(code_root, variant), cwd=code_root or ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"the demo failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    record: dict = {"wall": wall, "cpu": cpu, "nodes": {}, "stderr": proc.stderr}
    in_summary = False
    for line in proc.stderr.splitlines():
        if line.startswith("BENCH "):
            record.update(json.loads(line[6:]))
        elif line.startswith("node times:"):
            in_summary = True
        elif in_summary and (match := _NODE_LINE.match(line)):
            record["nodes"][match.group(1)] = float(match.group(2))
        else:
            in_summary = False
    return record


def startup_seconds(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=_env(None), check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def parts(record: dict, startup: float) -> dict:
    """Wall time split into parts that add up to it."""
    nodes = dict(record["nodes"])
    engine = nodes.pop("total", sum(nodes.values()))
    split = {"python start": startup, "import studio.cli": record.get("import_cli", 0.0)}
    split.update({f"node {name}": seconds for name, seconds in nodes.items()})
    main = record.get("main", engine)
    split["graph load, validate, engine overhead"] = max(0.0, main - record.get("import_cli", 0.0) - sum(nodes.values()))
    split["exit"] = max(0.0, record["wall"] - startup - main)
    return split


def import_breakdown(code_root: Path | None, out: Path, variant: str = "plain",
                     top: int = 14) -> list[tuple[str, float]]:
    """Seconds of import by top-level package (self times summed), from one run under -X importtime."""
    record = run_once(code_root, out, variant, ("-X", "importtime"))
    totals: dict[str, float] = {}
    for line in record["stderr"].splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = line[len("import time:"):].split("|")
        name = fields[2].strip().split(".")[0]
        totals[name] = totals.get(name, 0.0) + int(fields[0]) / 1e6
    return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


def export_commit(ref: str, into: Path) -> Path:
    """The tree of ``ref`` as files, via `git archive` (reads the repository, writes nothing into it)."""
    archive = into / "tree.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], stdout=handle, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    archive.unlink()
    return tree


def _median_parts(records: list[dict], startup: float) -> dict:
    keys: list[str] = []
    for record in records:
        keys += [k for k in parts(record, startup) if k not in keys]
    return {k: statistics.median(parts(r, startup).get(k, 0.0) for r in records) for k in keys}


def _summary(records: list[dict]) -> dict:
    """Medians: wall, CPU (user + system), and wall without the sampling node (what imports, loading, export
    and exit cost; sampling swings most on a busy machine and no change here touches it)."""
    return {
        "wall": statistics.median(r["wall"] for r in records),
        "cpu": statistics.median(r["cpu"] for r in records),
        "wall_without_generate": statistics.median(r["wall"] - r["nodes"].get("generate", 0.0) for r in records),
    }


def _print_parts(title: str, records: list[dict], startup: float) -> None:
    walls = [r["wall"] for r in records]
    summary = _summary(records)
    print(f"{title}: wall median {summary['wall']:.2f} s, CPU {summary['cpu']:.2f} s, without generate "
          f"{summary['wall_without_generate']:.2f} s  (walls: {', '.join(f'{w:.2f}' for w in walls)})")
    for name, seconds in _median_parts(records, startup).items():
        print(f"    {name:40s} {seconds:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="REF", help="a git commit to compare against, e.g. HEAD")
    parser.add_argument("--variants", default="plain",
                        help=f"comma-separated, of the working tree: {', '.join(VARIANTS)} (default: plain)")
    parser.add_argument("--importtime", action="store_true", help="one more run under -X importtime")
    parser.add_argument("--json", type=Path, help="write the records here")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")

    with tempfile.TemporaryDirectory(prefix="bench-first-clip-") as tmp:
        tmp_path = Path(tmp)
        before = export_commit(args.before, tmp_path) if args.before else None
        out = tmp_path / "first-clip.mp4"
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
        startup = startup_seconds(5)
        # (label, code root, variant); alternating run by run so a busy spell slows each alike.
        setups = ([(f"before ({args.before})", before, "plain")] if before is not None else [])
        setups += [(f"working tree, {v}", None, v) for v in variants]
        for _label, root, variant in setups:
            run_once(root, out, variant)  # warms the disk cache and writes the exported tree's .pyc files
        runs: dict[str, list[dict]] = {label: [] for label, _, _ in setups}
        for _ in range(args.runs):
            for label, root, variant in setups:
                runs[label].append(run_once(root, out, variant))
        print(f"python start (python -c pass): {startup:.2f} s")
        for label, records in runs.items():
            _print_parts(label, records, startup)
        first = _summary(runs[setups[0][0]])
        for label, records in list(runs.items())[1:]:
            other = _summary(records)
            print(f"{label} / {setups[0][0]}: wall {other['wall'] / first['wall']:.2f}, "
                  f"CPU {other['cpu'] / first['cpu']:.2f}, "
                  f"without generate {other['wall_without_generate'] / first['wall_without_generate']:.2f}")
        if args.importtime:
            for label, root, variant in setups[:2]:
                print(f"imports by package ({label}, one run under -X importtime, self times summed):")
                for name, seconds in import_breakdown(root, out, variant):
                    print(f"    {name:28s} {seconds:6.2f} s")
        print(f"load average at end {os.getloadavg()[0]:.2f}")
        if args.json:
            for records in runs.values():
                for record in records:
                    record.pop("stderr", None)
            args.json.write_text(json.dumps({"startup": startup, **runs}, indent=2))


if __name__ == "__main__":
    main()
