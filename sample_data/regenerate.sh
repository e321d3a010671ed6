#!/usr/bin/env bash
# Regenerate the sample scene pair in sample_data/ (byte-identical with the same geonoise version).
# Uses `geonoise` from PATH, or the repository's .venv/bin/geonoise.
set -euo pipefail
cd "$(dirname "$0")/.."
GEONOISE=$(command -v geonoise || echo .venv/bin/geonoise)
JPEG=(--co COMPRESS=JPEG --co PHOTOMETRIC=YCBCR --co JPEG_QUALITY=90)

# Clean source domain: temperate look, labels without noise.
"$GEONOISE" synth -o sample_data/source --overwrite --style temperate --seed 1 \
    --origin 500000 5300000 --noise-rate 0 "${JPEG[@]}"

# Noisy target domain: arid look elsewhere in the same UTM zone, 20 % of buildings changed.
"$GEONOISE" synth -o sample_data/target --overwrite --style arid --seed 2 \
    --origin 520000 5290000 --noise-rate 0.2 \
    --noise-kinds missing,spurious,shift,dilate,erode,elastic "${JPEG[@]}"
