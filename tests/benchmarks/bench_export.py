"""Export benchmark: 720p encode speed, signing vs encoding time, watermark cost, accuracy and false positives.

Run on demand: ``python tests/benchmarks/bench_export.py [--quick] [--baseline REV]`` (STUDIO_HOME is set to a
temp folder). The first table compares the default signed, watermarked 720p export of ``studio/`` at REV (a
git revision, run from a ``git archive`` of it) with the working tree's, side by side in one run, as CPU-ms
per frame by stage and wall fps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# --stages runs in a child whose ``studio`` may come from an archived revision: put that first.
if os.environ.get("STUDIO_BENCH_SOURCE"):
    sys.path.insert(0, os.environ["STUDIO_BENCH_SOURCE"])

BASELINE_REV = (
    "dd4bb80"  # studio/media before the issue-8 speed work (Y-plane mark in float, a frame per picture)
)
STAGES = ("source", "rgb->i420", "watermark", "frame", "mux", "sign", "x264 and the rest")

# Baselines measured on 720p frames (FIELD-NOTES "C2PA and watermarks"); invisible-watermark itself is not
# installed because its package pulls an unpinned torch and opencv-python.
BASELINES = {
    "invisible-watermark DWT-DCT, CRF 23": "46% (chance)",
    "invisible-watermark DWT-DCT-SVD, CRF 23": "87% per frame, 92% voted over frames",
    "invisible-watermark DWT-DCT-SVD, CRF 28": "58%",
}


def measure_stages(frames: int) -> dict[str, float]:
    """One default export (signed, watermarked, 720p) with every stage timed: seconds of CPU by stage.

    Stages are timed with ``thread_time`` on whichever thread runs them (exclusive of the stages they
    call; the parallel encode runs them on its workers) by wrapping the functions the export goes
    through, whichever revision of ``studio`` is imported; "x264 and the rest" is the process's CPU less
    the timed stages: the encoder (in its calls and its own threads) and the loop around it.
    """
    import threading

    import av

    from studio.media import encode, export
    from studio.media import watermark as wm
    from studio.media.export import ExportOptions, export_clip
    from studio.media.provenance import Provenance
    from tests.media.clips import Cycled, natural_clip

    clip = Cycled(natural_clip(24, 720, 1280, seed=2, grain=1.0), frames)
    prov = Provenance(
        "bench-model", "sha256:" + "0" * 64, ["a bench"], 1, {"steps": 30}, "sha256:" + "1" * 64
    )
    tmp = Path(tempfile.mkdtemp())
    os.environ["STUDIO_HOME"] = str(tmp / "home")
    export_clip(Cycled(clip.frames, 4), 24, tmp / "warm.mp4", provenance=prov)  # imports, keys
    # The figure a user sees: the export as it runs, before any stage is wrapped (the wrappers cost
    # GIL time on the parallel encode's workers).
    process, wall = time.process_time(), time.perf_counter()
    result = export_clip(clip, 24, tmp / "plain.mp4", provenance=prov, options=ExportOptions())
    plain = {
        "plain total": time.process_time() - process,
        "plain wall": time.perf_counter() - wall,
        "plain encode wall": result.encode_seconds,
        "bytes": (tmp / "plain.mp4").stat().st_size,
    }

    spent = dict.fromkeys(STAGES, 0.0)
    local = threading.local()
    lock = threading.Lock()

    def timed(stage, function, clock=time.thread_time):
        def wrapper(*args, **kwargs):
            inner = local.__dict__.setdefault("inner", [])
            start = clock()
            inner.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                took = clock() - start
                with lock:
                    spent[stage] += took - inner.pop()
                if inner:
                    inner[-1] += took

        return wrapper

    class Proxy:
        def __init__(self, target, stages: dict[str, str]) -> None:
            object.__setattr__(self, "_target", target)
            object.__setattr__(self, "_stages", stages)

        def __getattr__(self, name):
            value = getattr(self._target, name)
            return timed(self._stages[name], value) if name in self._stages else value

        def __setattr__(self, name, value) -> None:
            setattr(self._target, name, value)

    class VideoFrames:
        from_ndarray = staticmethod(timed("frame", av.VideoFrame.from_ndarray))

        def __call__(self, *args, **kwargs):
            return av.VideoFrame(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(av.VideoFrame, name)

    class AvShim:
        VideoFrame = VideoFrames()

        def open(self, *args, **kwargs):
            return Proxy(av.open(*args, **kwargs), {"mux": "mux"})

        def __getattr__(self, name):
            return getattr(av, name)

    encode.av = AvShim()
    encode.rgb_to_yuv420 = timed("rgb->i420", encode.rgb_to_yuv420)
    encode._fit = timed("source", encode._fit)
    if hasattr(encode, "_I420Input"):
        encode._I420Input.fill = timed("frame", encode._I420Input.fill)
    export._Frames.__getitem__ = timed("source", export._Frames.__getitem__)
    wm.Embedder.mark_i420 = timed("watermark", wm.Embedder.mark_i420)
    export.sign_mp4 = timed("sign", export.sign_mp4, clock=time.process_time)
    process = time.process_time()
    export_clip(clip, 24, tmp / "timed.mp4", provenance=prov, options=ExportOptions())
    process = time.process_time() - process
    shutil.rmtree(tmp, ignore_errors=True)
    spent["x264 and the rest"] = process - sum(spent.values())
    spent["total"] = process
    return spent | plain


def bench_stages(workdir: Path, frames: int, baseline: str, rounds: int) -> None:
    """Before/after of the default export by stage, each revision in its own process, rounds interleaved."""
    source = workdir / "baseline-src"
    source.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", baseline, "studio"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    runs: dict[str, list[dict[str, float]]] = {baseline: [], "working tree": []}
    for _ in range(rounds):
        for name in runs:
            env = dict(os.environ)
            env.pop("STUDIO_BENCH_SOURCE", None)
            if name == baseline:
                env["STUDIO_BENCH_SOURCE"] = str(source)
            out = subprocess.run(
                [sys.executable, __file__, "--stages", str(frames)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"\n== Default export by stage: 1280x720, {frames} frames, signed, watermarked; CPU-ms per frame, median "
        f"of {rounds} interleaved runs (min in brackets); budget for 240 fps on 2 cores: 8.33 =="
    )
    names = list(runs)
    print(f"  {'stage':22s}" + "".join(f"{n:>22s}" for n in names))
    rows = [*STAGES, "total"]
    for row in rows:
        cells = []
        for name in names:
            values = sorted(r[row] / frames * 1000 for r in runs[name])
            cells.append(f"{values[len(values) // 2]:8.2f} [{values[0]:5.2f}]")
        print(f"  {row:22s}" + "".join(f"{c:>22s}" for c in cells))
    for label, key in (("wall fps, encode", "plain encode wall"), ("wall fps, whole export", "plain wall")):
        cells = [f"{sorted(frames / r[key] for r in runs[n])[len(runs[n]) // 2]:8.1f}" for n in names]
        print(f"  {label:22s}" + "".join(f"{c:>22s}" for c in cells))
    cells = [f"{sorted(r['plain total'] / frames * 1000 for r in runs[n])[len(runs[n]) // 2]:8.2f}" for n in names]
    print(f"  {'CPU-ms/frame, as run':22s}" + "".join(f"{c:>22s}" for c in cells))
    cells = [f"{runs[n][0]['bytes'] * 8 / (frames / 24) / 1e6:8.2f}" for n in names]
    print(f"  {'Mbit/s':22s}" + "".join(f"{c:>22s}" for c in cells))
    fps = [sorted(frames / r["plain wall"] for r in runs[n])[len(runs[n]) // 2] for n in names]
    print(f"  => whole export {fps[0]:.0f} -> {fps[1]:.0f} fps ({fps[1] / fps[0]:.2f}x; 24 fps x10 = 240)")
    print("  (stage rows: a second export with every stage wrapped in a timer; wall figures: the plain one)")


def bench_encode_speed(workdir: Path, frames: int) -> None:
    from studio.media.encode import EncodeSettings, encode_video
    from tests.media.clips import Cycled, natural_clip

    print(
        f"\n== Encode speed, 1280x720, {frames} frames, libx264 CRF 23, no watermark (fps; 24 fps x10 = 240) =="
    )
    presets = ("ultrafast", "fast", "superfast", "veryfast")  # "fast" is ours: encode.X264_PRESETS
    for grain in (0.0, 2.0):
        clip = Cycled(natural_clip(24, 720, 1280, seed=1, grain=grain), frames)
        for preset in presets:
            path = workdir / f"speed-{preset}.mp4"
            start, cpu = time.perf_counter(), time.process_time()
            encode_video(clip, 24, path, settings=EncodeSettings(preset=preset))
            took, cpu = time.perf_counter() - start, time.process_time() - cpu
            size = path.stat().st_size / frames * 24 * 8 / 1e6
            # CPU time per frame does not depend on what else the machine runs; wall fps does.
            print(
                f"  grain {grain:.0f}  {preset:9s}  {frames / took:6.1f} fps wall  {cpu / frames * 1000:5.1f} CPU-ms/frame"
                f" (= {frames / cpu * (os.cpu_count() or 1):5.0f} fps if all {os.cpu_count()} cores were ours)"
                f"  {size:5.2f} Mbit/s  Y-PSNR {_y_psnr(clip, path):5.2f} dB"
            )


def _y_psnr(clip: Sequence[np.ndarray], path: Path) -> float:
    """Luma PSNR of the encoded file against the frames that went in (limited-range Y, as coded)."""
    import cv2

    from studio.media.encode import read_luma

    decoded = read_luma(path)
    errors = []
    for index, luma in enumerate(decoded):
        source = cv2.cvtColor(np.asarray(clip[index]), cv2.COLOR_RGB2GRAY).astype(np.float32)
        errors.append(float(np.mean((luma - source) ** 2)))
    return float(10 * np.log10(255.0**2 / max(np.mean(errors), 1e-12)))


def bench_sign_overhead(workdir: Path, seconds: int) -> None:
    from studio.media.export import ExportOptions, export_clip
    from studio.media.provenance import Provenance
    from tests.media.clips import Cycled, natural_clip

    frames = seconds * 24
    clip = Cycled(natural_clip(24, 720, 1280, seed=2, grain=1.0), frames)
    prov = Provenance(
        "bench-model", "sha256:" + "0" * 64, ["a bench"], 1, {"steps": 30}, "sha256:" + "1" * 64
    )
    print(f"\n== Signed export of a {seconds}-second 720p clip ({frames} frames); default preset first ==")
    for watermark in (False, True):
        for preset in (ExportOptions().preset, "veryfast"):
            start, cpu = time.perf_counter(), time.process_time()
            result = export_clip(
                clip,
                24,
                workdir / "signed.mp4",
                provenance=prov,
                options=ExportOptions(preset=preset, watermark=watermark),
            )
            total, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(
                f"  watermark {'on ' if watermark else 'off'} {preset:9s} encode {result.encode_seconds:6.2f} s "
                f"({frames / result.encode_seconds:5.1f} fps, {cpu / frames * 1000:5.1f} CPU-ms/frame)  "
                f"sign {result.sign_seconds * 1000:6.1f} ms "
                f"({100 * result.sign_seconds / result.encode_seconds:4.1f}% of encode)  total {total:6.2f} s"
            )


def bench_watermark(workdir: Path, quick: bool) -> None:
    from studio.media import watermark as wm
    from studio.media.encode import EncodeSettings, encode_video, read_luma
    from tests.media.clips import natural_clip
    from tests.media.helpers import transcode

    payload = bytes.fromhex("5eed1e55")
    sizes = [(64, 64, 17), (128, 128, 17), (256, 256, 24), (360, 640, 24), (720, 1280, 24)]
    print(
        "\n== Watermark: cost, PSNR, bit accuracy (48 coded bits) after the default encode and a CRF 35 re-encode =="
    )
    print("  (embedded as the export does it: in the encoder's Y plane, Embedder.mark_i420)")
    print("  size        cell  PSNR   embed   detect | CRF23 clip/frame  found | CRF35 clip/frame  found")
    for height, width, count in sizes:
        clip = natural_clip(count, height, width, seed=11, grain=1.5)
        embedder = wm.Embedder(payload, height, width)
        timed = _Timed(embedder.mark_i420)
        first = workdir / "wm23.mp4"
        encode_video(clip, 24, first, settings=EncodeSettings(), mark=timed)
        embed_ms = timed.seconds / count * 1000
        luma23 = read_luma(first)
        second = workdir / "wm35.mp4"
        transcode(first, second, crf=35)
        luma35 = read_luma(second)
        start = time.perf_counter()
        found23 = wm.detect(luma23)
        detect_ms = (time.perf_counter() - start) / count * 1000
        found35 = wm.detect(luma35)
        per23 = np.mean([wm.bit_accuracy(wm.detect(luma23[i : i + 1]), payload) for i in range(count)])
        per35 = np.mean([wm.bit_accuracy(wm.detect(luma35[i : i + 1]), payload) for i in range(count)])
        print(
            f"  {width:4d}x{height:<4d} {wm.layout_for(height, width).cell:4d}  {embedder.psnr:4.1f}  "
            f"{embed_ms:5.1f}ms {detect_ms:5.2f}ms | {100 * wm.bit_accuracy(found23, payload):5.1f}% "
            f"{100 * per23:5.1f}%  {found23.found!s:5} | {100 * wm.bit_accuracy(found35, payload):5.1f}% "
            f"{100 * per35:5.1f}%  {found35.found!s:5}"
        )
    print("  baselines (FIELD-NOTES, 720p):")
    for name, value in BASELINES.items():
        print(f"    {name}: {value}")

    clips = 20 if quick else 100
    false_positives = 0
    p_values = []
    for seed in range(clips):
        height, width = [(64, 64), (128, 128), (180, 320), (360, 640)][seed % 4]
        clean = natural_clip(12, height, width, seed=1000 + seed, pan=seed % 3, grain=seed % 3)
        path = workdir / "clean.mp4"
        encode_video(clean, 24, path)
        found = wm.detect(read_luma(path))
        false_positives += found.found
        p_values.append(found.p_value)
    print(
        f"\n== False positives on {clips} clean encoded clips: {false_positives} "
        f"(median p {np.median(p_values):.2f}, min p {min(p_values):.1e}; threshold {wm.DETECT_P_VALUE:g} + CRC-16) =="
    )


class _Timed:
    """Wraps a per-frame function and adds up the time it takes."""

    def __init__(self, function) -> None:
        self.function, self.seconds = function, 0.0

    def __call__(self, frame: np.ndarray) -> None:
        start = time.perf_counter()
        self.function(frame)
        self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames and clips")
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision to compare the export with")
    parser.add_argument("--stages", type=int, metavar="FRAMES", help=argparse.SUPPRESS)  # the child's job
    parser.add_argument("--only-stages", action="store_true", help="just the before/after table")
    args = parser.parse_args()
    if args.stages:
        print(json.dumps(measure_stages(args.stages)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STUDIO_HOME"] = str(Path(tmp) / "home")
        workdir = Path(tmp)
        print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}")
        bench_stages(workdir, 120 if args.quick else 240, args.baseline, 3 if args.quick else 5)
        if args.only_stages:
            return
        bench_encode_speed(workdir, 48 if args.quick else 240)
        bench_sign_overhead(workdir, 2 if args.quick else 10)
        bench_watermark(workdir, args.quick)


if __name__ == "__main__":
    main()
