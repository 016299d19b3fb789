#!/usr/bin/env bash
# (The shipped model's decoder time layers were trained on one CPU core instead: see its MODEL_CARD.md. This
# call would refine them and refit the preview decoder; the next GPU call to make is gpu_train.sh, at 128x128.)
# One GPU call, about 8 minutes: on a COPY of the shipped model (resources/models/studio-tiny is never written),
#   1. vae_temporal      the VAE decoder's time layers, encoder frozen: 4 distinct frames per latent frame;
#                        --auto-minutes times a few steps and fixes the step count that fits (in the report);
#   2. preview_training  the preview decoder refitted to the new VAE (CPU processes, beside step 3);
#   3. evaluate          the evaluator on 32 held-out captions (CUDA), and temporal_measure: held frames of the
#                        pipeline's text-, image- and video-to-video clips (the quality floor's figure);
#   4. OUT/studio-tiny-update.tar (vae/, preview_decoder/, studio_preview.json, MODEL_CARD.md: untar it over the
#      model folder), OUT/report.json (every figure), OUT/logs.txt.
#
#   studio/embedded/gpu_session.sh --prepare   here, before the call: bundles the Python packages the GPU image
#                                              lacks (diffusers, platformdirs) into runs/gpu-site/site.zip
#   studio/embedded/gpu_session.sh OUT         on the GPU machine (carry runs/gpu-site)
#   DRY=1 studio/embedded/gpu_session.sh OUT   the same pipeline for a handful of steps on a CPU (a check)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

if [[ "${1:-}" == "--prepare" ]]; then
  SITE=$(.venv/bin/python -c "import diffusers, os; print(os.path.dirname(os.path.dirname(diffusers.__file__)))")
  mkdir -p runs/gpu-site
  rm -f runs/gpu-site/site.zip
  # Sources and metadata only (no __pycache__): Python imports pure-Python packages straight from a zip.
  (cd "$SITE" && find diffusers diffusers-*.dist-info platformdirs platformdirs-*.dist-info \
      -name __pycache__ -prune -o -type f -print | zip -q -@ "$ROOT/runs/gpu-site/site.zip")
  ls -l runs/gpu-site/site.zip
  exit 0
fi

OUT=${1:?usage: gpu_session.sh OUT (or --prepare)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python3}
if [[ -f runs/gpu-site/site.zip ]]; then
  export PYTHONPATH="$ROOT/runs/gpu-site/site.zip${PYTHONPATH:+:$PYTHONPATH}"
fi
export HF_HUB_OFFLINE=1
WORK=${WORK:-/tmp/studio-gpu-session}
# Everything must be back in OUT before the device call's 10-minute limit: the preview decoder (the one step
# that runs on the CPU, so the hardest to size) is stopped at this many seconds from the start if still running.
DEADLINE=${DEADLINE:-530}
rm -rf "$WORK"
mkdir -p "$WORK"
cp -r resources/models/studio-tiny "$WORK/model"
MODEL=$WORK/model
LOGS=$OUT/logs.txt
: > "$LOGS"
started=$(date +%s)
stamp() { echo "== $(( $(date +%s) - started )) s: $*" | tee -a "$LOGS"; }

if [[ "${DRY:-0}" == 1 ]]; then
  VAE_ARGS="--device cpu --threads 2 --steps 4 --batch 2 --frames 9 --crop 32 --save-every 2 --log-every 2
            --eval-clips 2 $([[ ${FORCE:-1} == 1 ]] && echo --force || true)"
  PREVIEW_ARGS="--clips 2 --draft-clips 1 --encoded-clips 2 --sample-batch 2 --steps 4 --batch 2 --save-every 2
                --eval-clips 1 --threads 1"
  EVAL_ARGS="--count 2 --steps 2 --draft-steps 1 --device cpu --threads 2"
  HELD_ARGS="--count 2 --pipeline --pipeline-count 1 --steps 2 --device cpu --threads 2"
else
  # 3 minutes of training whatever the step time turns out to be (--minutes stops it for sure), batch 32 whole
  # 17-frame clips. --threads is for the CPU parts (refitting the colour-map preview on install).
  VAE_ARGS="--device cuda --auto-minutes ${VAE_MINUTES:-3} --minutes ${VAE_MINUTES_MAX:-3.7} --batch 32
            --frames 17 --lr 3e-4 --workers 8 --threads 4 --save-every 200 --log-every 100 --eval-clips 32"
  PREVIEW_ARGS="--threads 8"
  EVAL_ARGS="--count 32 --device cuda"
  HELD_ARGS="--count 32 --pipeline --pipeline-count 8 --device cuda"
fi

stamp "1. VAE temporal stage"
# shellcheck disable=SC2086
INSTALLED=1
$PY -m studio.embedded.vae_temporal --model "$MODEL" --out "$WORK/vae_run" --seed 0 --install $VAE_ARGS \
  2>&1 | tee -a "$LOGS" || INSTALLED=0
cp "$WORK/vae_run/report.json" "$WORK/vae_report.json"
if [[ $INSTALLED == 0 ]]; then
  # The new VAE measured no better (the reason is in logs.txt): bring back its weights and figures to judge,
  # and spend no time retraining the preview or evaluating a model that did not change.
  stamp "not installed: packing the trained VAE and its report only"
  tar -C "$WORK/vae_run" -cf "$OUT/vae-not-installed.tar" vae report.json train.log
  cp "$WORK/vae_report.json" "$OUT/report.json"
  exit 0
fi

stamp "2. preview decoder against the new VAE (CPU, in the background) and 3. the evaluator"
# shellcheck disable=SC2086
LEFT=$(( DEADLINE - ($(date +%s) - started) ))
timeout $(( LEFT > 60 ? LEFT : 60 )) \
  $PY -m studio.embedded.preview_training --model "$MODEL" --out "$WORK/preview_run" --seed 0 --install \
  $PREVIEW_ARGS > "$WORK/preview.log" 2>&1 &
PREVIEW_PID=$!
# shellcheck disable=SC2086
$PY -m studio.embedded.evaluate "$MODEL" $EVAL_ARGS --json "$WORK/eval.json" > "$WORK/eval.log" 2>&1 \
  || { echo "evaluate failed:"; tail -n 30 "$WORK/eval.log"; } | tee -a "$LOGS"
stamp "3b. held frames of the pipeline's clips"
# shellcheck disable=SC2086
$PY -m studio.embedded.temporal_measure "$MODEL" $HELD_ARGS --json "$WORK/held.json" > "$WORK/held.log" 2>&1 \
  || { echo "temporal_measure failed:"; tail -n 30 "$WORK/held.log"; } | tee -a "$LOGS"
PREVIEW_OK=1
wait "$PREVIEW_PID" || PREVIEW_OK=0
cat "$WORK/preview.log" >> "$LOGS"
stamp "2. preview decoder done (ok=$PREVIEW_OK)"

stamp "4. pack"
cp "$WORK/eval.json" "$MODEL/eval_report.json" 2>/dev/null || true
tar -C "$MODEL" -cf "$OUT/studio-tiny-update.tar" vae preview_decoder studio_preview.json MODEL_CARD.md \
  eval_report.json
$PY - "$WORK" "$OUT/report.json" "$PREVIEW_OK" "$(( $(date +%s) - started ))" <<'EOF'
import json, sys
from pathlib import Path

work, target, preview_ok, seconds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
def read(name):
    path = work / name
    return json.loads(path.read_text()) if path.exists() else None
preview = read("model/preview_decoder/config.json") if preview_ok else None
report = {
    "seconds": seconds,
    "vae_temporal": read("vae_report.json"),
    "preview_decoder": preview and {"quality": preview.get("quality"), "vae_sha256": preview.get("vae_sha256"),
                                    "frames_per_latent": preview.get("frames_per_latent")},
    "evaluate": read("eval.json"),
    "held_frames": read("held.json"),
}
target.write_text(json.dumps(report, indent=2) + "\n")
vae = report["vae_temporal"]
print("held frames (VAE, held-out clips):", vae["before"]["held_frames"], "->", vae["after"]["held_frames"])
print("PSNR:", vae["before"]["psnr"], "->", vae["after"]["psnr"])
if report["held_frames"]:
    for task, figures in report["held_frames"]["pipeline"].items():
        if isinstance(figures, dict):
            print(task, figures)
print("preview decoder retrained:", preview_ok, "; total", seconds, "s")
if not preview_ok:
    print("the preview decoder was not retrained in time: run python -m studio.embedded.preview_training "
          "--model FOLDER --out RUN --install on the updated model folder")
EOF
stamp "done"
ls -l "$OUT"
