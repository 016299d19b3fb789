#!/usr/bin/env bash
# One GPU call, about 9 minutes on one H100: the WHOLE embedded model retrained at 128x128, 17 frames, on the
# richer world (studio/embedded/scenes.py: camera moves, two objects, textured backgrounds), then measured, and
# packed for installing ONLY if it passes the quality floor and is no worse than the shipped model.
#   1. full_train       VAE from scratch on frames (16x spatially: 8x8 latents at 128x128), its decoder's time
#                       layers (4 distinct frames per latent frame), latent cache, transformer + text encoder,
#                       export with studio_vocabulary.json listing the new words; each stage stops at its time
#                       budget and checkpoints at least every 2 minutes (RESUME=1 continues a broken call);
#   2. preview_training the preview decoder for the new VAE (samples on the GPU, trains on the CPU), beside
#   3. scene_evaluate   per-condition figures on 32 held-out captions each, i2v first frame, held frames, draft
#                       agreement (the floor: colour >= 95%, motion >= 90%, shape >= 80%, i2v error < 4, held
#                       frames < 5%, draft agreement >= 90%, camera and two objects >= 80%);
#   4. install_gate     against studio/embedded/shipped_scene_report.json and the 30 MB budget; then
#      OUT/studio-tiny-128.tar (the whole model folder: untar it into an empty resources/models/studio-tiny)
#      or, when it does not pass, OUT/candidate-not-installed.tar (same contents, to judge), with
#      OUT/report.json (every figure and the decision) and OUT/logs.txt.
#
#   studio/embedded/gpu_session.sh --prepare   here first: bundles diffusers for the GPU image (runs/gpu-site)
#   run(command='bash studio/embedded/gpu_train.sh "$OUT"', carry=["runs/gpu-site"], timeout_s=590)
#   DRY=1 studio/embedded/gpu_train.sh OUT     the same pipeline with a handful of steps on a CPU (a check)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${1:?usage: gpu_train.sh OUT}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python3}
if [[ -f runs/gpu-site/site.zip ]]; then
  export PYTHONPATH="$ROOT/runs/gpu-site/site.zip${PYTHONPATH:+:$PYTHONPATH}"
fi
export HF_HUB_OFFLINE=1
WORK=${WORK:-/tmp/studio-gpu-train}
[[ "${RESUME:-0}" == 1 ]] || rm -rf "$WORK"
mkdir -p "$WORK"
RUN=$WORK/run
MODEL=$RUN/pipeline
LOGS=$OUT/logs.txt
: > "$LOGS"
started=$(date +%s)
stamp() { echo "== $(( $(date +%s) - started )) s: $*" | tee -a "$LOGS"; }
# Everything must be in OUT before the device call's 10-minute limit: the preview decoder (the one step whose
# length is hardest to know) is stopped at this many seconds from the start if still running.
DEADLINE=${DEADLINE:-545}
[[ "${DRY:-0}" == 1 ]] && DEADLINE=${DRY_DEADLINE:-3000}  # a loaded CPU takes minutes over the tiny steps

if [[ "${DRY:-0}" == 1 ]]; then
  TRAIN_ARGS="--device cpu --threads 2 --workers 0 --vae-steps 4 --vae-batch 2 --vae-full-batch 2 --time-steps 1
              --time-batch 1 --latent-clips 30 --dit-steps 3 --dit-batch 4 --log-every 2 --save-every 2
              --projection-clips 2"
  PREVIEW_ARGS="--device cpu --threads 1 --clips 1 --draft-clips 1 --encoded-clips 1 --sample-batch 1 --steps 4
                --batch 1 --save-every 2 --eval-clips 1"
  EVAL_ARGS="--count 1 --steps 2 --batch 1 --device cpu --threads 2"
else
  # Budgets in minutes: 6.1 of training, about 1 of worker start-ups and export, 1.5 of evaluation (preview
  # decoder beside it, on the GPU too); step counts are ceilings the budgets cut. RESUME=1 on the same warm
  # machine continues a call that the device limit stopped (finished stages are skipped).
  TRAIN_ARGS="--device cuda --threads 4 --workers 14
              --vae-steps 4000 --vae-minutes ${VAE_MINUTES:-1.6} --vae-batch 32 --vae-crop 64 --vae-full-batch 16
              --time-steps 2000 --time-minutes ${TIME_MINUTES:-1.2} --time-batch 8 --time-lr 3e-4
              --latent-clips 24000 --latent-minutes ${LATENT_MINUTES:-0.7}
              --dit-steps 4000 --dit-minutes ${DIT_MINUTES:-2.6} --dit-batch 256 --dit-lr 1e-3
              --save-every 500 --log-every 100"
  PREVIEW_ARGS="--device cuda --threads 8 --clips 24 --draft-clips 8 --encoded-clips 48 --steps 1500
                --eval-clips 4"
  EVAL_ARGS="--count 32 --batch 16 --device cuda --threads 4"
fi

stamp "1. the whole model at 128x128 on the richer world"
# shellcheck disable=SC2086
$PY -m studio.embedded.full_train --out "$RUN" --resume --size 128 --seed 0 $TRAIN_ARGS 2>&1 | tee -a "$LOGS"

stamp "2. preview decoder (in the background) and 3. the evaluator"
rm -rf "$WORK/preview_run"
LEFT=$(( DEADLINE - ($(date +%s) - started) ))
# shellcheck disable=SC2086
timeout $(( LEFT > 60 ? LEFT : 60 )) \
  $PY -m studio.embedded.preview_training --model "$MODEL" --out "$WORK/preview_run" --seed 0 --install \
  $PREVIEW_ARGS > "$WORK/preview.log" 2>&1 &
PREVIEW_PID=$!
# shellcheck disable=SC2086
$PY -m studio.embedded.scene_evaluate "$MODEL" $EVAL_ARGS --json "$WORK/eval.json" 2>&1 \
  | grep -v "^Loading\|it/s\]" | tee -a "$LOGS" || true
PREVIEW_OK=1
wait "$PREVIEW_PID" || PREVIEW_OK=0
tail -n 5 "$WORK/preview.log" >> "$LOGS"
stamp "2. preview decoder done (ok=$PREVIEW_OK)"
# A preview decoder fitted to another VAE would be refused by the runtime anyway; never ship one.
[[ $PREVIEW_OK == 1 ]] || rm -rf "$MODEL/preview_decoder"

stamp "4. install gate"
INSTALL=1
$PY -m studio.embedded.install_gate "$WORK/eval.json" "$MODEL" --json "$WORK/decision.json" 2>&1 | tee -a "$LOGS" \
  || INSTALL=0
[[ -f "$WORK/eval.json" ]] && cp "$WORK/eval.json" "$MODEL/scene_eval_report.json"
cp "$RUN/train.log" "$MODEL/training_log.txt"
TAR=$OUT/candidate-not-installed.tar
[[ $INSTALL == 1 ]] && TAR=$OUT/studio-tiny-128.tar
tar -C "$MODEL" -cf "$TAR" .
$PY - "$WORK" "$OUT/report.json" "$PREVIEW_OK" "$(( $(date +%s) - started ))" <<'EOF'
import json, sys
from pathlib import Path

work, target, preview_ok, seconds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
def read(path):
    return json.loads(path.read_text()) if path.exists() else None
preview = read(work / "run/pipeline/preview_decoder/config.json") if preview_ok else None
report = {"seconds": seconds, "decision": read(work / "decision.json"), "evaluate": read(work / "eval.json"),
          "preview_decoder": preview and preview.get("quality"), "sizes": read(work / "run/sizes.json")}
target.write_text(json.dumps(report, indent=2) + "\n")
print("preview decoder trained:", preview_ok, "; total", seconds, "s")
EOF
stamp "done"
ls -l "$OUT"
