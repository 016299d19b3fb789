#!/usr/bin/env bash
# Trains the embedded model's later stages on one CUDA GPU in about ten minutes, from a finished stage-2 VAE
# (stages vae1 and vae2 are cheap enough for a CPU):
#   vae3     whole-frame VAE fine-tune, kept only if held-out reconstructions improve;
#   latents  a latent cache of tens of thousands of clips, drawn by worker processes;
#   dit      transformer + text encoder, batch 256, cosine learning rate;
#   export   the pipeline folder, then the evaluator on the GPU.
#
#   studio/embedded/cuda_run.sh SEED_RUN OUT        SEED_RUN holds vae.json, vae.safetensors, sizes.json
#
# SMOKE=1 shrinks every stage to seconds (a check of the script on a CPU). OUT receives the pipeline as a tar
# (split in 15 MB pieces, the most a device call brings back per file), the logs and the evaluation report.
set -euo pipefail
SEED_RUN=$1
OUT=$2
PY=${PYTHON:-python3}
WORK=${WORK:-/tmp/studio-train}
rm -rf "$WORK"
mkdir -p "$WORK/run" "$OUT"
cp "$SEED_RUN/vae.json" "$SEED_RUN/vae.safetensors" "$WORK/run/"

if [[ "${SMOKE:-0}" == 1 ]]; then
  ARGS="--vae3-steps 4 --vae3-batch 4 --check-clips 2 --latent-clips 300 --dit-steps 6 --dit-batch 8 --save-every 3"
  EVAL="--count 2 --steps 2 --draft-steps 1 --device cpu"
  WORKERS=2
else
  ARGS="--vae3-steps 1500 --vae3-batch 128 --vae3-lr 2e-4 --vae3-minutes 1.2 --check-clips 32
        --latent-clips 40000 --latent-minutes 2
        --dit-steps ${DIT_STEPS:-4800} --dit-batch 256 --dit-lr 1e-3 --dit-schedule cosine --save-every 500"
  EVAL="--count 32 --device cuda"
  WORKERS=12
fi

# shellcheck disable=SC2086
$PY -m studio.embedded.train --seed 0 --out "$WORK/run" --resume --stages vae3,latents,dit,export \
  --workers $WORKERS $ARGS 2>&1 | tee "$OUT/train.log"

tar -C "$WORK/run" -cf "$WORK/pipeline.tar" pipeline
split -b 15M -d "$WORK/pipeline.tar" "$OUT/pipeline.tar.part"
# shellcheck disable=SC2086
$PY -m studio.embedded.evaluate "$WORK/run/pipeline" $EVAL --json "$OUT/eval.json" > "$WORK/eval.log" 2>&1 \
  || tail -n 20 "$WORK/eval.log"
