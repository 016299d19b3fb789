#!/usr/bin/env bash
# Trains the embedded model's later stages on one CUDA GPU in about eight minutes, from a finished stage-2 VAE:
#   vae3 (whole-frame VAE fine-tune, kept only if reconstructions improve), a latent cache of many clips, then
#   two transformers side by side on the same GPU (the shipped size and a larger one), exported and evaluated.
#
#   studio/embedded/cuda_run.sh SEED_RUN OUT        SEED_RUN holds vae.json, vae.safetensors, sizes.json
#
# SMOKE=1 shrinks every stage to seconds (a check of the script on a CPU). Results land in OUT: one tar per
# model (split in 15 MB pieces), the evaluation reports and the training logs.
set -euo pipefail
SEED_RUN=$1
OUT=$2
PY=${PYTHON:-python3}
WORK=${WORK:-/tmp/studio-train}
rm -rf "$WORK"
mkdir -p "$WORK/small" "$WORK/large" "$OUT"
cp "$SEED_RUN/vae.json" "$SEED_RUN/vae.safetensors" "$SEED_RUN/sizes.json" "$WORK/small/"

if [[ "${SMOKE:-0}" == 1 ]]; then
  VAE3="--vae3-steps 4 --vae3-batch 4 --check-clips 2"
  LAT="--latent-clips 300"
  DIT="--dit-steps 6 --dit-batch 8 --save-every 3"
  EVAL="--count 2 --steps 2 --draft-steps 1 --device cpu"
  WORKERS=2
else
  VAE3="--vae3-steps 1500 --vae3-batch 128 --vae3-lr 2e-4 --vae3-minutes 1.2 --check-clips 32"
  LAT="--latent-clips 40000 --latent-minutes 2"
  DIT="--dit-steps 100000 --dit-minutes ${DIT_MINUTES:-4.0} --dit-batch 256 --dit-lr 1e-3 --dit-schedule cosine --save-every 1000"
  EVAL="--count 32 --device cuda"
  WORKERS=12
fi

$PY -m studio.embedded.train --seed 0 --out "$WORK/small" --resume --stages vae3,latents \
  --workers $WORKERS $VAE3 $LAT 2>&1 | tee "$OUT/prep.log"

# The larger transformer starts from the same VAE and latents.
cp "$WORK/small"/vae.json "$WORK/small"/vae.safetensors "$WORK/small"/latents.json \
  "$WORK/small"/latents.safetensors "$WORK/large/"
$PY - "$WORK/small/sizes.json" "$WORK/large/sizes.json" <<'EOF'
import json, sys
sizes = json.load(open(sys.argv[1]))
sizes.update(dit_heads=6, dit_head_dim=32, dit_layers=8, dit_ffn=512)
json.dump(sizes, open(sys.argv[2], "w"), indent=2)
EOF

for name in small large; do
  $PY -m studio.embedded.train --seed 0 --out "$WORK/$name" --resume --stages dit,export $DIT \
    > "$OUT/dit-$name.log" 2>&1 &
done
wait

for name in small large; do
  { tar -C "$WORK/$name" -cf "$WORK/$name.tar" pipeline && split -b 15M -d "$WORK/$name.tar" "$OUT/$name.tar.part"; } || true
done

for name in small large; do
  $PY -m studio.embedded.evaluate "$WORK/$name/pipeline" $EVAL --json "$OUT/eval-$name.json" \
    > "$WORK/eval-$name.log" 2>&1 &
done
wait || true
tail -n 3 "$OUT"/dit-*.log "$WORK"/eval-*.log
$PY - "$OUT" <<'EOF'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("eval-*.json")):
    r = json.loads(f.read_text())
    print(f.name, {k: (r[k]["colour_adherence"], r[k]["motion_adherence"]) for k in ("text_to_video", "image_to_video", "video_to_video")},
          "i2v mad", round(r["image_to_video"]["first_frame_mad_mean"], 2), "timing", r["timing"])
EOF
