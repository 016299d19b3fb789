"""Verify benchmark: time and peak memory of `studio verify` on hostile and large files, and the reduced-size read.

Run on demand: ``python tests/benchmarks/bench_verify.py [--baseline REV] [--quick]`` (STUDIO_HOME is set to a
temp folder). Each verify runs as ``studio verify --json --trust-local`` in a fresh process, like a person
would run it. Memory is of the whole process tree: the verify process's own peak (VmHWM) plus the larger
of its two children's peaks (they run one after the other, so this sum bounds the tree at any moment).
Each child reports its own VmHWM: RUSAGE_CHILDREN's ru_maxrss cannot be used, as Linux carries a parent's
resident size at the fork into the child's across exec. ``--baseline REV`` runs the same files through
``studio/`` at a git revision (from a ``git archive``) first, with a time limit, for the before/after.

Second table: the watermark read at reduced size against full size on Studio's own export sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.media.clips import Cycled  # noqa: E402

BOUND_MB, BOUND_S = 1024, 20.0  # the trust issue's bound for any file
BASELINE_LIMIT_S = 90  # the old verify of the box file runs for minutes; stop it here

RUNNER = r"""
import contextlib, io, json, sys, time
started = time.monotonic()
from studio.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["verify", sys.argv[1], "--json", "--trust-local"])
text = out.getvalue()
report = json.loads(text) if text.lstrip().startswith("{") else {}
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print("BENCH" + json.dumps({"code": code, "seconds": time.monotonic() - started, "parent_mb": hwm,
                            "report": report}))
"""


def smooth_frames(height: int, width: int, count: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    base = (110 + 40 * np.sin(xx / (width / 7)) + 30 * np.cos(yy / (height / 5))).astype(np.uint8)
    return np.stack([np.repeat(np.roll(base, 8 * t, 1)[..., None], 3, 2) for t in range(count)])


def make_files(folder: Path, quick: bool) -> dict[str, Path]:
    from studio.media.export import export_clip
    from studio.media.provenance import Provenance

    files = {}
    for name, (height, width, frames) in {
        "Studio-signed 4K clip": (2160, 3840, 48 if not quick else 12),
        "Studio-signed 8K clip": (4320, 7680, 12 if not quick else 4),
    }.items():
        path = folder / f"{width}x{height}.mp4"
        clip = Cycled(smooth_frames(height, width, 4), frames)
        started = time.monotonic()
        export_clip(clip, 24, path, provenance=Provenance("bench", prompts=["a test"], seed=1))
        print(f"  made {name}: {frames} frames, {path.stat().st_size / 1e3:.0f} KB "
              f"in {time.monotonic() - started:.1f} s")  # fmt: skip
        files[name] = path
    boxes = folder / "boxes.mp4"
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp42")
    boxes.write_bytes(ftyp + struct.pack(">I4s", 8, b"free") * 100_000)
    print(f"  made 100,000-box MP4: {boxes.stat().st_size / 1e3:.0f} KB")
    files["100,000-box MP4"] = boxes
    return files


def run_verify(path: Path, source: Path, limit: float | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(source))
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-P", "-c", RUNNER, str(path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=limit,
            cwd=path.parent,  # never the checkout: its studio/ would shadow the baseline's
        )
    except subprocess.TimeoutExpired:
        return {"killed": True, "wall": time.monotonic() - started}
    wall = time.monotonic() - started
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH")), None)
    if line is None:
        return {"failed": done.stderr[-400:], "wall": wall}
    result = json.loads(line[5:])
    result["wall"] = wall
    return result


def describe(result: dict) -> tuple[str, str, str, str]:
    """(wall, tree peak, parts, what the report says) for one run."""
    if result.get("killed"):
        return f">{result['wall']:.0f} (killed)", "-", "-", "still running at the limit"
    if "failed" in result:
        return f"{result['wall']:.1f}", "-", "-", "failed: " + result["failed"].strip().splitlines()[-1]
    report = result["report"]
    children = report.get("resources") or {}
    child_peaks = [c.get("peak_mb") or 0 for c in children.values()]
    tree = result["parent_mb"] + max(child_peaks, default=0)
    parts = f"{result['parent_mb']:.0f}" + "".join(
        f" + {name} {c.get('peak_mb') or 0:.0f}" for name, c in children.items()
    )
    wmr = report.get("watermark") or {}
    says = report.get("verdict", "?") + "; watermark: " + str(wmr.get("summary", "-"))
    if wmr.get("frames_read"):
        says += f" ({wmr['frames_read']} frames" + (
            f", 1/{wmr['scale']} size)" if wmr.get("scale", 1) > 1 else ")"
        )
    for item in report.get("not_checked") or []:
        if item.split(": ", 1)[-1] not in says:
            says += f"; not checked: {item}"
    return f"{result['wall']:.1f}", f"{tree:.0f}", parts, says


def bench_verify(files: dict[str, Path], workdir: Path, baseline: str | None) -> None:
    sources = []
    if baseline:
        archive = workdir / f"studio-{baseline}"
        archive.mkdir()
        tar = subprocess.run(
            ["git", "-C", str(ROOT), "archive", baseline, "studio"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(archive)], input=tar.stdout, check=True)
        sources.append((f"before ({baseline})", archive, BASELINE_LIMIT_S))
    sources.append(("now", ROOT, None))
    print(
        f"\n== studio verify: wall seconds and peak MB of the process tree (bound {BOUND_MB} MB, {BOUND_S:.0f} s) =="
    )
    print(f"  {'file':24s} {'code':18s} {'wall s':>12s} {'tree MB':>8s}  parts (MB)")
    for name, path in files.items():
        for label, source, limit in sources:
            result = run_verify(path, source, limit)
            wall, tree, parts, says = describe(result)
            print(f"  {name:24s} {label:18s} {wall:>12s} {tree:>8s}  {parts}")
            print(f"  {'':24s} {'':18s} {'':>12s} {'':>8s}  -> {says}")


def bench_reduced_read(folder: Path, files: dict[str, Path], quick: bool) -> None:
    from studio.media import watermark as wm
    from studio.media.export import ExportOptions, export_clip
    from studio.media.verify_watermark import watermark_scale
    from studio.media.video_read import UntrustedVideo, read_luma
    from tests.media.clips import natural_clip
    from tests.media.helpers import transcode

    frames = 8 if quick else 24
    print(f"\n== Watermark read at reduced size vs full size, Studio exports ({frames} frames each) ==")
    print(f"  {'clip':26s} {'read at':>16s}  {'full: found conf':>17s}  {'reduced: found conf':>20s}"
          f"  {'max |d soft bit|':>16s}  {'ms/frame full':>13s} {'reduced':>8s}")  # fmt: skip
    cases: list[tuple[str, Path]] = []
    for height, width in ((64, 64), (128, 128), (360, 640), (720, 1280), (1080, 1920)):
        path = folder / f"wm{width}x{height}.mp4"
        clip = (
            natural_clip(frames, height, width, seed=7)
            if height <= 720
            else Cycled(smooth_frames(height, width, 4), frames)
        )
        export_clip(clip, 24, path, options=ExportOptions(sign=False))
        cases.append((f"{width}x{height}", path))
        if (height, width) in ((360, 640), (720, 1280)):
            worse = folder / f"wm{width}x{height}-crf35.mp4"
            transcode(path, worse, crf=35)
            cases.append((f"{width}x{height} re-encoded CRF35", worse))
    cases.append(("3840x2160 (signed, above)", files["Studio-signed 4K clip"]))
    for label, path in cases:
        started = time.perf_counter()
        luma = read_luma(path, max_frames=frames)
        full = wm.detect(luma)
        full_ms = (time.perf_counter() - started) * 1000 / len(luma)
        height, width = luma.shape[1:]
        del luma
        scale = watermark_scale(height, width)
        started = time.perf_counter()
        with UntrustedVideo(path) as video:
            small = list(video.luma(scale=scale, max_frames=frames))
        reduced = wm.detect(small)
        small_ms = (time.perf_counter() - started) * 1000 / len(small)
        size = f"1/{scale} {small[0].shape[1]}x{small[0].shape[0]}" if scale > 1 else "full size"
        drift = float(np.max(np.abs(reduced.soft_bits - full.soft_bits)))
        same = "" if reduced.payload == full.payload else "  PAYLOAD DIFFERS"
        print(f"  {label:26s} {size:>16s}  {str(full.found):>6s} {full.confidence:10.6f}  "
              f"{str(reduced.found):>9s} {reduced.confidence:10.6f}  {drift:16.4f}  {full_ms:13.1f} {small_ms:8.1f}{same}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--baseline", help="git revision to compare with (e.g. HEAD: the verify before this work)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer frames")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STUDIO_HOME"] = str(Path(tmp) / "home")
        workdir = Path(tmp)
        print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}")
        files = make_files(workdir, args.quick)
        bench_verify(files, workdir, args.baseline)
        bench_reduced_read(workdir, files, args.quick)
        shutil.rmtree(workdir / "home", ignore_errors=True)


if __name__ == "__main__":
    main()
