"""Mutation check: do the tests catch small bugs in the cache keys, provenance, verify and the watermark?

Run on demand: ``python tests/benchmarks/mutants.py [--only NAME ...] [--timeout S] [--list]``.
The modules: studio/engine/, studio/media/provenance.py, verify*.py, watermark.py (and two conditioning
mutants in studio/runtime/sampling.py, caught by tests/runtime/test_conditioning.py).

Each mutant is one small edit of one source file (a bug a person could make: a dropped action, a key that
forgets a parameter kind, a check that always passes). The repository's code and tests are copied into a
temporary folder first and every mutant is made there, never in the checkout (other work may be running in
it). For each mutant the matching test folder runs with ``-x`` and a time limit, the file most likely to
catch it first; a failing run catches the mutant, a run past the limit counts as caught too (reported). The
file is restored after each mutant (also on Ctrl-C) and the copy removed at the end. Target: at least 90% of
mutants caught. A baseline run of every test folder used, unmutated, comes first: it must pass.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("studio", "nodes", "tests", "pyproject.toml", "resources")
LINKED = ("resources",)  # large and never mutated: hard links where the file system allows
ENGINE, MEDIA = "tests/engine", "tests/media"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # run in this order: the likely catcher first, then its whole folder


def _m(name: str, path: str, old: str, new: str, *tests: str) -> Mutant:
    return Mutant(name, path, old, new, tests)


KEYS, ENG, CACHE = "studio/engine/keys.py", "studio/engine/engine.py", "studio/engine/cache.py"
PROV, VER, VWM = "studio/media/provenance.py", "studio/media/verify.py", "studio/media/verify_watermark.py"
VC2PA, WM = "studio/media/verify_c2pa.py", "studio/media/watermark.py"
NODE_KEYS, PROVENANCE = "tests/engine/test_node_keys.py", "tests/media/test_provenance.py"
WM_TESTS = "tests/media/test_watermark.py"
SAMPLING, CONDITIONING = "studio/runtime/sampling.py", "tests/runtime/test_conditioning.py"

MUTANTS = [
    # ---- cache keys: the digest
    _m("array key ignores content", KEYS, "return [\"ndarray\", value.dtype.str, list(value.shape), data]",
       "return [\"ndarray\", value.dtype.str, list(value.shape)]", NODE_KEYS, ENGINE),
    _m("array key ignores dtype", KEYS, "return [\"ndarray\", value.dtype.str, list(value.shape), data]",
       "return [\"ndarray\", list(value.shape), data]", NODE_KEYS, ENGINE),
    _m("text untagged in keys", KEYS, "return \"s\" + value\n", "return value\n", NODE_KEYS, ENGINE),
    _m("dict keys kept in insertion order", KEYS, "items.sort(key=lambda pair: pair[0])", "pass",
       NODE_KEYS, ENGINE),
    _m("inexact values share one stand-in", KEYS, "return \"u\" + os.urandom(16).hex()", "return \"u\"",
       NODE_KEYS, ENGINE),
    _m("repr in place of array content", KEYS, "    content = _content(value)\n",
       "    content = repr(value)\n", "tests/engine/test_memo_keys.py", ENGINE),
    # ---- cache keys: what a node's key is made of
    _m("keyframes and schedules left out of the key", ENG, "\"params\": params, \"files\": files,",
       "\"params\": {k: v for k, v in params.items() if not isinstance(v, list)}, \"files\": files,",
       NODE_KEYS, ENGINE),
    _m("file stamps left out of the key", ENG, "files[pspec.name] = _file_stamp(value, base_dir)",
       "files[pspec.name] = value", NODE_KEYS, ENGINE),
    _m("file stamp without its time", ENG, "return [str(path), st.st_size, st.st_mtime_ns]",
       "return [str(path), st.st_size]", NODE_KEYS, ENGINE),
    _m("driven link left out of the key", ENG,
       "params.pop(pspec.name, None)\n            inputs[pspec.name] = [link.src, keys.get(link.src, \"?\"), link.src_port]",
       "params.pop(pspec.name, None)", NODE_KEYS, ENGINE),
    _m("upstream key left out", ENG,
       "                inputs[port.name] = [link.src, keys.get(link.src, \"?\"), link.src_port]",
       "                inputs[port.name] = [link.src, \"?\", link.src_port]", NODE_KEYS, ENGINE),
    _m("bypass left out of the key", ENG, "\"bypassed\": node.bypassed,\n", "\"bypassed\": False,\n",
       NODE_KEYS, ENGINE),
    _m("node version left out of the key", ENG, "return {\"type\": spec.type_id, \"version\": spec.version,",
       "return {\"type\": spec.type_id, \"version\": 1,", ENGINE),
    # ---- the engine and its cache
    _m("cached outputs never found", ENG, "cached = self.cache.get(key)", "cached = None", ENGINE),
    _m("driven values not clamped", ENG, "clipped = np.clip(values, low, high)", "clipped = values", ENGINE),
    _m("draft keeps the full steps", ENG, "fewer = min(int(params[name]), int(params[draft_name]))",
       "fewer = int(params[name])", ENGINE),
    _m("pinned outputs evicted", CACHE, "if key in protect or key in self._pinned:", "if key in protect:",
       ENGINE),
    _m("memo ignores its key", ENG, "value = self.cache.get(key, _MISSING)", "value = _MISSING", ENGINE),
    # ---- provenance: the manifest
    _m("watermarked action dropped", PROV, "\"action\": \"c2pa.watermarked\",", "\"action\": \"c2pa.edited\",",
       PROVENANCE, MEDIA),
    _m("ingredient links dropped", PROV, "parameters[\"ingredientIds\"] = ingredient_labels", "pass",
       PROVENANCE, MEDIA),
    _m("soft binding carries another payload", PROV, "base64.b64encode(watermark_payload)",
       "base64.b64encode(watermark_payload[::-1])", PROVENANCE, MEDIA),
    _m("digital source type dropped", PROV, "\"digitalSourceType\": TRAINED_ALGORITHMIC_MEDIA,", "",
       PROVENANCE, MEDIA),
    _m("audio linked as an input", PROV,
       "return \"componentOf\" if self.mime.startswith((\"audio/\", \"video/\")) else \"inputTo\"",
       "return \"inputTo\"", PROVENANCE, MEDIA),
    _m("seed dropped", PROV, "\"seed\": self.seed,", "\"seed\": None,", PROVENANCE, MEDIA),
    _m("schedule, adapters and camera dropped", PROV, "settings=made.settings() | _shaping(made),",
       "settings=made.settings(),", PROVENANCE, MEDIA),
    _m("manifest titled by the part file", PROV, "title=provenance.title or _clip_name(destination),",
       "title=provenance.title or destination.name,", PROVENANCE, MEDIA),
    # ---- verify
    _m("verify always reports a watermark match", VER,
       "else payload == manifest_payload", "else True", PROVENANCE, MEDIA),
    _m("a missing watermark counts as a match", VER,
       "    if manifest_payload is not None and payload is None:\n        matches = False",
       "    if manifest_payload is not None and payload is None:\n        matches = True", PROVENANCE, MEDIA),
    _m("manifest payload not read", VER, "payload = base64.b64decode(blocks[0].get(\"value\", \"\")).hex()",
       "payload = None", PROVENANCE, MEDIA),
    _m("tampering never reported", VER, "report.tampered = any(", "report.tampered = False and any(", MEDIA),
    _m("valid without checking the state", VER,
       "report.valid = state in (\"Valid\", \"Trusted\") and not report.tampered", "report.valid = True",
       PROVENANCE, MEDIA),
    _m("any valid signer trusted", VER, "report.trusted = state == \"Trusted\"",
       "report.trusted = state in (\"Valid\", \"Trusted\")", MEDIA),
    _m("generation parameters not reported", VER, "report.generation = params", "report.generation = {}",
       MEDIA),
    _m("watermark read at the wrong size", VWM, "scale = watermark_scale(shape.height, shape.width)",
       "scale = 2", MEDIA),
    _m("an unreadable manifest reads as none", VC2PA, "return {\"error\": text[:2000]}",
       "return {\"not_found\": True}", PROVENANCE, MEDIA),
    _m("a missing manifest reads as an error", VC2PA,
       "if \"ManifestNotFound\" in type(exc).__name__ or \"not found\" in text.lower():", "if False:", MEDIA),
    # ---- the watermark
    _m("CRC misses the high byte", WM, "crc ^= byte << 8", "crc ^= byte", WM_TESTS, MEDIA),
    _m("layout ignores the key", WM, "rng = np.random.default_rng([key, cells])",
       "rng = np.random.default_rng([cells])", WM_TESTS, MEDIA),
    _m("no brightness-shift correction", WM, "turn = np.angle(np.sum(votes**2)) / 2", "turn = 0.0",
       WM_TESTS, MEDIA),
    _m("Y plane marked as full range", WM, "means = (_cell_means(yuv[: lay.height], lay) - 16.0)",
       "means = (_cell_means(yuv[: lay.height], lay) - 0.0)", WM_TESTS, MEDIA),
    _m("Y plane add wraps", WM, "if change.dtype == np.int8 and low + self._lowest >= 0 and high + "
       "self._highest <= 255:", "if change.dtype == np.int8:", WM_TESTS, MEDIA),
    _m("payload not embedded", WM, ".astype(np.float32) * (self.step / 2)", ".astype(np.float32) * 0.0",
       WM_TESTS, MEDIA),
    _m("inverted word not tried", WM, "for sign in (1.0, -1.0):", "for sign in (1.0,):", WM_TESTS, MEDIA),
    _m("chance taken for a watermark", WM, "found = p_value < DETECT_P_VALUE", "found = p_value < 0.5",
       WM_TESTS, MEDIA),
    # ---- conditioning reaches the clip (the runtime: only its conditioning test runs, the folder is slow)
    _m("image-to-video gets a grey picture", SAMPLING, "kwargs[\"image\"] = Image.fromarray(request.image)",
       "kwargs[\"image\"] = Image.fromarray(np.full_like(request.image, 128))", CONDITIONING),
    _m("video-to-video gets a black guide", SAMPLING, "_guide_frames(request.video, request.num_frames)",
       "_guide_frames(np.zeros_like(request.video), request.num_frames)", CONDITIONING),
    _m("a damaged watermark described as none", WM,
       "if self.p_value < DETECT_P_VALUE:\n            return \"a watermark is present",
       "if False:\n            return \"a watermark is present", WM_TESTS, MEDIA),
]


def copy_repo(target: Path) -> None:
    """The code, tests and resources in ``target``: sources copied (they are mutated), resources linked."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        source, dest = ROOT / name, target / name
        if source.is_file():
            shutil.copy2(source, dest)
            continue
        link = name in LINKED
        try:
            shutil.copytree(source, dest, ignore=ignore, copy_function=os.link if link else shutil.copy2)
        except (OSError, shutil.Error):
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(source, dest, ignore=ignore)


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout', seconds, last lines) of pytest over ``tests`` in the copy."""
    env = dict(os.environ, PYTHONPATH=str(copy), QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1",
               PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not slow", *tests]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)  # the session this pytest leads: its verify children too
        process.communicate()
        return "timeout", time.monotonic() - started, ""
    except BaseException:
        os.killpg(process.pid, 9)
        process.communicate()
        raise
    tail = "\n".join(out.strip().splitlines()[-3:])
    return ("passed" if process.returncode == 0 else "failed"), time.monotonic() - started, tail


def check_imports_from(copy: Path) -> None:
    """The tests must import the copy's studio, not the checkout's (an editable install points there)."""
    env = dict(os.environ, PYTHONPATH=str(copy))
    where = subprocess.run([sys.executable, "-c", "import studio; print(studio.__file__)"], cwd=copy, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"the copy imports studio from {where}, not from {copy}: no mutant would be seen")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="run the mutants whose name contains one of these")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per test run")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if args.only is None or any(word in m.name for word in args.only)]
    if args.list:
        for mutant in mutants:
            print(f"{mutant.path}: {mutant.name}")
        return 0
    with tempfile.TemporaryDirectory(prefix="studio-mutants-") as folder:
        copy = Path(folder)
        copy_repo(copy)
        check_imports_from(copy)
        for mutant in mutants:  # every mutant applies to the code as it is now
            text = (copy / mutant.path).read_text()
            if text.count(mutant.old) != 1:
                raise SystemExit(f"mutant '{mutant.name}': its text occurs {text.count(mutant.old)} times in "
                                 f"{mutant.path}; update the list")
        if not args.no_baseline:
            folders = tuple(sorted({m.tests[-1] for m in mutants}))
            outcome, seconds, tail = run_tests(copy, folders, args.timeout * 2)
            print(f"baseline {' '.join(folders)}: {outcome} in {seconds:.0f} s", flush=True)
            if outcome != "passed":
                print(tail)
                return 2
        results = []
        for number, mutant in enumerate(mutants, 1):
            path = copy / mutant.path
            original = path.read_text()
            try:
                path.write_text(original.replace(mutant.old, mutant.new))
                outcome, seconds, _ = run_tests(copy, mutant.tests, args.timeout)
            finally:
                path.write_text(original)
            caught = outcome != "passed"
            results.append((mutant, outcome))
            print(f"[{number:2}/{len(mutants)}] {'caught  ' if caught else 'SURVIVED'} {outcome:7} {seconds:5.0f} s  "
                  f"{mutant.path}: {mutant.name}", flush=True)
    caught = sum(outcome != "passed" for _, outcome in results)
    score = caught / max(len(results), 1)
    print(f"\nscore: {caught} of {len(results)} mutants caught ({100 * score:.0f}%; target 90%)")
    for mutant, outcome in results:
        if outcome == "passed":
            print(f"  survived: {mutant.path}: {mutant.name}")
    return 0 if score >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
