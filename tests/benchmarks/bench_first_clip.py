"""Time to a first clip: `studio demo -o clip.mp4` in a fresh process, its wall time and where it goes.

Each run is a new interpreter, as a person's first command is. The breakdown comes from the run itself: the
interpreter's start (`python -c pass`), importing the command line, each node's time as the render summary
prints it (model = imports of torch/diffusers + loading; generate = prompt encode + sampling + decode; export
= encode + watermark + signing), and what is left (graph load, exit). ``--importtime`` adds one run under
``python -X importtime`` and sums the import time by top-level package.

``--phases`` times each phase instead, from inside the run (PHASE_CHILD): the node registry, each engine node,
and within them the model load (its components, the weights id), prompt encode, denoise, VAE decode, and the
export's encode with the watermark, signing and signing identity; each with the seconds spent importing in it
and its CPU seconds (on a busy machine CPU time is the steadier figure; the denoise uses more than one thread
when the machine is quiet).

``--before REF`` compares a git commit with the working tree in one run of the script: the commit is
exported with `git archive` (read-only) into a temporary folder and run from there with the same venv.
``--variants`` adds ways of running the working tree (see VARIANTS). All alternate run by run so that a
busy machine slows each alike; medians and their ratios to the first are reported.

Run on demand:
    python -m tests.benchmarks.bench_first_clip [--runs 5] [--before HEAD] [--variants plain,exit-fast]
        [--phases] [--importtime] [--json out.json]
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

# The child: import the command line, run the demo, report its own marks on the last line of stderr, and end
# as the `studio` program does (studio.cli.program.entry: an immediate exit after a render, where the code has
# one). argv: output file, variant. Variants try changes outside this script's reach before anyone makes them:
# "teardown" ends with a normal interpreter exit (tearing down torch and friends), "exit-fast" always leaves
# with os._exit, "no-preview" renders the demo graph with Generate's per-step preview off (the command line
# never shows it), "one-thread" runs torch on one thread, "omp-spin" leaves OpenMP's waits spinning (the
# command asks for short ones: warmup.short_spin_waits), "two-threads" and "two-threads-spin" keep
# torch's two threads (OMP_NUM_THREADS=2) with short or default spinning waits (what a machine that turns busy
# after fit_cpu_threads looked at the load sees).
CHILD = r"""
import json, os, sys, time
started = time.perf_counter()
from studio.cli import main, program
imported = time.perf_counter()
out, variant = sys.argv[1], sys.argv[2]
if variant.endswith("spin"):
    from studio import warmup
    warmup.short_spin_waits = lambda: False
if variant == "no-preview":
    from studio.paths import RESOURCES
    rc = main(["render", str(RESOURCES / "examples" / "first-clip.studio.json"), "-o", out, "--overwrite",
               "--quiet", "--set", "generate.preview=false"])
else:
    rc = main(["demo", "-o", out, "--overwrite", "--quiet"])
print("BENCH " + json.dumps({"import_cli": imported - started, "main": time.perf_counter() - started}),
      file=sys.stderr)
if variant == "exit-fast" or (variant != "teardown" and "demo" in getattr(program, "FAST_EXIT", ())):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
sys.exit(rc)
"""
VARIANTS = ("plain", "teardown", "exit-fast", "no-preview", "one-thread", "omp-spin", "two-threads",
            "two-threads-spin")

# The phase child: the same demo through the program's own entry, with the functions of each phase wrapped
# (after their modules load, so no import moves earlier) and the seconds spent importing counted inside each
# (an import's outermost call, on any thread). Prints one "PHASES {...}" line to stderr before exiting.
PHASE_CHILD = r"""
import builtins, importlib, importlib.abc, json, os, sys, threading, time
T0 = time.perf_counter()
local = threading.local()
imported = [0.0]
phases = {}
order = []

def _counting(real):
    def call(*args, **kwargs):
        if getattr(local, "depth", 0):
            return real(*args, **kwargs)
        local.depth = 1
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            local.depth = 0
            imported[0] += time.perf_counter() - started
    return call

builtins.__import__ = _counting(builtins.__import__)
importlib.import_module = _counting(importlib.import_module)

def _timed(named, real):
    def call(*args, **kwargs):
        name = named(args) if callable(named) else named
        started, imports_before, cpu_before = time.perf_counter(), imported[0], time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            wall = time.perf_counter() - started
            entry = phases.setdefault(name, {"wall": 0.0, "imports": 0.0, "cpu": 0.0, "calls": 0})
            entry["cpu"] += time.process_time() - cpu_before
            if name not in order:
                order.append(name)
            entry["wall"] += wall
            entry["imports"] += imported[0] - imports_before
            entry["calls"] += 1
    call.__wrapped__ = real
    return call

# module -> (attribute paths to wrap, phase name)
WRAP = {
    "studio.cli.registry": [("load_registry", "cli: node registry")],
    "studio.engine.engine": [("Engine._evaluate", lambda args: "node " + args[2])],
    "studio.graph.fileformat": [("load_graph", "cli: graph load")],
    "studio.graph.validate": [("validate", "cli: validate")],
    "studio.runtime.loading": [("load_base", "model: load (all)"), ("_load_component", "model: components"),
                               ("weights_id", "model: weights id")],
    "studio.runtime.sampling": [("encode_prompt", "prompt encode"), ("sample", "denoise (sample)"),
                                ("decode", "VAE decode")],
    "studio.media.export": [("export_video", "export (all)"), ("encode_video", "export: encode + watermark"),
                            ("sign_mp4", "export: sign")],
    "studio.media.signing": [("identity_for", "export: signing identity")],
    "studio.media.watermark": [("Embedder.mark_i420", "export: watermark (inside encode)")],
    "studio.media.verify": [("verify_file", "verify")],
}

class Wrapper(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in WRAP:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        else:
            return None
        real_exec = spec.loader.exec_module
        def exec_module(module):
            real_exec(module)
            for attr, phase in WRAP[name]:
                owner_name, _, leaf = attr.rpartition(".")
                owner = getattr(module, owner_name) if owner_name else module
                if hasattr(owner, leaf):
                    setattr(owner, leaf, _timed(phase, getattr(owner, leaf)))
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Wrapper())
started = time.perf_counter()
from studio.cli import program
phases["import studio.cli"] = {"wall": time.perf_counter() - started, "imports": imported[0],
                               "cpu": time.process_time(), "calls": 1}
order.insert(0, "import studio.cli")
out = sys.argv[1]
rc = program.main(["demo", "-o", out, "--overwrite", "--quiet"])
report = {"main": time.perf_counter() - T0, "imports_total": imported[0], "cpu_total": time.process_time(),
          "phases": {k: phases[k] for k in order}}
print("PHASES " + json.dumps(report), file=sys.stderr)
sys.stderr.flush()
os._exit(rc)
"""
_NODE_LINE = re.compile(r"^\s+(\S+)\s+([0-9.]+) s$")


def _env(code_root: Path | None, variant: str = "plain") -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    if code_root is not None:
        # Ahead of the editable install's finder (which comes after the path finder): the exported code wins.
        env["PYTHONPATH"] = str(code_root)
    if variant == "one-thread":
        env["OMP_NUM_THREADS"] = "1"
    if variant.startswith("two-threads"):  # torch on both cores whatever the load (fit_cpu_threads keeps it)
        env["OMP_NUM_THREADS"] = "2"
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


def run_phases(code_root: Path | None, out: Path) -> dict:
    """One fresh demo under PHASE_CHILD: wall measured here, each phase's wall and import seconds from the child."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PHASE_CHILD, str(out)], env=_env(code_root),
                          cwd=code_root or ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the demo failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stderr.splitlines() if x.startswith("PHASES "))
    return {"wall": wall, **json.loads(line[7:])}


def print_phases(label: str, records: list[dict], startup: float) -> None:
    """Median per phase: wall, of which importing, and CPU. A "node X" is the engine running node X (its imports
included); the phases listed after it and named "model: ...", "export: ..." are parts of it."""
    walls = [r["wall"] for r in records]
    print(f"{label}: wall median {statistics.median(walls):.2f} s (walls: {', '.join(f'{w:.2f}' for w in walls)}); "
          f"importing {statistics.median(r['imports_total'] for r in records):.2f} s in all; process CPU "
          f"{statistics.median(r['cpu_total'] for r in records):.2f} s")
    names: list[str] = []
    for record in records:
        names += [n for n in record["phases"] if n not in names]
    print(f"    {'python start (python -c pass)':42s} {startup:6.2f} s")
    for name in names:
        wall = statistics.median(r["phases"].get(name, {}).get("wall", 0.0) for r in records)
        imports = statistics.median(r["phases"].get(name, {}).get("imports", 0.0) for r in records)
        cpu = statistics.median(r["phases"].get(name, {}).get("cpu", 0.0) for r in records)
        print(f"    {name:42s} {wall:6.2f} s   of which importing {imports:5.2f} s   CPU {cpu:5.2f} s")
    rest = statistics.median(r["wall"] - r["main"] for r in records)
    print(f"    {'start + exit (wall - main)':42s} {rest:6.2f} s")


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


def _compare_phases(before: Path | None, ref: str | None, runs: int, out: Path, startup: float) -> dict:
    setups = ([(f"before ({ref})", before)] if before is not None else []) + [("working tree", None)]
    for _label, root in setups:
        run_phases(root, out)  # warms the disk cache and the exported tree's .pyc files
    records: dict[str, list[dict]] = {label: [] for label, _ in setups}
    for _ in range(runs):
        for label, root in setups:
            records[label].append(run_phases(root, out))
    for label, found in records.items():
        print_phases(label, found, startup)
    if before is not None:
        first, last = (statistics.median(r["wall"] for r in records[label]) for label, _ in setups)
        cpu_first, cpu_last = (statistics.median(r["cpu_total"] for r in records[label]) for label, _ in setups)
        print(f"working tree / before: wall {last / first:.2f}, process CPU {cpu_last / cpu_first:.2f}")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="REF", help="a git commit to compare against, e.g. HEAD")
    parser.add_argument("--variants", default="plain",
                        help=f"comma-separated, of the working tree: {', '.join(VARIANTS)} (default: plain)")
    parser.add_argument("--importtime", action="store_true", help="one more run under -X importtime")
    parser.add_argument("--phases", action="store_true",
                        help="time each phase instead (imports, model load, encode, denoise, decode, watermark, "
                        "encode, sign), alternating with --before when given")
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
        if args.phases:
            records = _compare_phases(before, args.before, args.runs, out, startup)
            print(f"load average at end {os.getloadavg()[0]:.2f}")
            if args.json:
                args.json.write_text(json.dumps({"startup": startup, **records}, indent=2))
            return
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
