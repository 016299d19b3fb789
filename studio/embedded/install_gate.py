"""Decides whether a retrained model may replace the shipped one: the quality floor, no figure worse, the budget.

    python -m studio.embedded.install_gate NEW_REPORT MODEL_FOLDER [--baseline FILE] [--json DECISION]

NEW_REPORT is ``scene_evaluate``'s report on the candidate; the baseline is the same evaluator's report on the
shipped model (``shipped_scene_report.json`` beside this file, measured on a CPU with the command it records).
The candidate passes when it meets every figure of the floor (which the shipped model does not:
camera, two objects), loses no more than ``TOLERANCE`` on any adherence figure the shipped model has, and its
safetensors fit the 30 MB budget. Exit status 0 when it passes, 1 when not (the reasons are printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.embedded.scene_evaluate import CEILINGS, figures, floor_check

BASELINE = Path(__file__).with_name("shipped_scene_report.json")
BUDGET_BYTES = 30 * 1024 * 1024
# An adherence figure may sit this far under the shipped model's (one clip in 32 is 0.031) while the floor holds.
TOLERANCE = 0.04
# The first-frame error may grow this much (0-255): a 128x128 frame has more edge pixels to miss than 64x64.
FIRST_FRAME_MARGIN = 1.0


def weights_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*.safetensors"))


def decide(report: dict, baseline: dict | None, folder: Path) -> dict:
    """{"install": bool, "reasons": [...why not...], "figures": new, "shipped": old, "bytes": n}."""
    reasons = []
    check = floor_check(report)
    for key, c in check["checks"].items():
        if not c["met"]:
            value = "not measured" if c["value"] is None else f"{c['value']:.3f}"
            bound = "under" if key in CEILINGS else "at least"
            reasons.append(f"floor: {key} {value}, wanted {bound} {c['target']}")
    new = figures(report)
    old = figures(baseline) if baseline else {}
    for key, before in old.items():
        after = new.get(key)
        if after is None:
            continue
        if key == "held_frames":
            worse = after > before
        elif key == "first_frame_mad":
            worse = after > before + FIRST_FRAME_MARGIN
        else:
            worse = after < before - TOLERANCE
        if worse:
            reasons.append(f"worse than the shipped model: {key} {before:.3f} -> {after:.3f}")
    size = weights_bytes(folder)
    if size > BUDGET_BYTES:
        reasons.append(f"safetensors {size / 2**20:.1f} MB, over the {BUDGET_BYTES / 2**20:.0f} MB budget")
    return {"install": not reasons, "reasons": reasons, "figures": new, "shipped": old, "bytes": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="scene_evaluate's JSON report on the candidate")
    parser.add_argument("model", type=Path, help="the candidate's model folder")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--json", type=Path, default=None, help="write the decision here")
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    baseline = json.loads(args.baseline.read_text()) if args.baseline.exists() else None
    decision = decide(report, baseline, args.model)
    for key, value in decision["figures"].items():
        before = decision["shipped"].get(key)
        shown = "" if before is None else f" (shipped {before:.3f})"
        print(f"  {key}: {value:.3f}{shown}")
    print(f"  safetensors: {decision['bytes'] / 2**20:.2f} MB")
    print("INSTALL: passes the floor and beats the shipped model" if decision["install"]
          else "NOT installed: " + "; ".join(decision["reasons"]))
    if args.json:
        args.json.write_text(json.dumps(decision, indent=2) + "\n")
    return 0 if decision["install"] else 1


if __name__ == "__main__":
    sys.exit(main())
