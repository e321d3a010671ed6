#!/bin/bash
# Student dropout on the demo pair: plain student (one round), the demo's teacher, config and budget.
set -e
cd /work/main
G=.venv/bin/geonoise
W=benchmarks/_work/dropout
for seed in 0 1; do for d in 0 0.2; do
  m=$W/s${seed}_d${d}
  [ -f $m.ckpt ] || $G -q train-student demo_out/tiles_target --teacher demo_out/teacher.ckpt -o $m.ckpt \
      --config demo_out/config.yaml --steps 300 --batch-size 4 --seed $seed --dropout $d --overwrite
  [ -f $m.tif ] || $G -q detect sample_data/target/scene.tif -l sample_data/target/labels_noisy.gpkg -m $m.ckpt -o $m.tif --no-quicklook --overwrite
  $G -q evaluate $m.tif --truth sample_data/target/noise_truth.tif --tiles demo_out/tiles_target --json > $m.json
  echo "seed $seed dropout $d: $(.venv/bin/python -c "import json; d=json.load(open('$m.json')); print(round(d['pixels']['average_precision'],3), round(d['tiles']['kendall_tau'],3))")"
done; done
