#!/usr/bin/env bash
# `make demo`: build yolov5c, generate the built-in shapes dataset if it is
# not there yet, train YOLOv5n on it for a few minutes of CPU, validate the
# best weights, and show where the results are.
#
#   scripts/demo.sh                      # from anywhere; works in the repository root
#   DEMO_EPOCHS=30 DEMO_IMG=320 scripts/demo.sh   # longer / larger
#
# The dataset goes where data/shapes.yaml expects it: ../datasets/shapes next
# to the repository (YOLOv5's layout). Every run gets a new directory
# runs/train/demo, demo2, ...; nothing is deleted.
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=${DEMO_EPOCHS:-10}
img=${DEMO_IMG:-256}
batch=${DEMO_BATCH:-16}

echo "== building"
make

data_dir=../datasets/shapes
if [ -f "$data_dir/annotations/instances_train.json" ] && [ -d "$data_dir/images/train" ]; then
    echo "== shapes dataset: found in $data_dir"
else
    echo "== generating the shapes dataset in $data_dir"
    ./yolov5c dataset --generate-shapes "$data_dir"
fi

echo "== training YOLOv5n for $epochs epochs at $img px (DEMO_EPOCHS / DEMO_IMG change this)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
./yolov5c train --data data/shapes.yaml --cfg models/yolov5n.yaml --hyp hyps/hyp.scratch-low.yaml \
    --img "$img" --batch-size "$batch" --epochs "$epochs" --project runs/train --name demo | tee "$log"
run=$(sed -n 's/^Results saved to \(.*\)$/\1/p' "$log" | sed 's/\x1b\[[0-9;]*m//g' | tail -n 1)
if [ -z "$run" ] || [ ! -d "$run" ]; then
    echo "demo: could not find the run directory in the training output" >&2
    exit 1
fi

best="$run/weights/best.safetensors"
if ./yolov5c val --help >/dev/null 2>&1; then
    echo "== validating $best"
    ./yolov5c val --weights "$best" --data data/shapes.yaml --img "$img"
fi

echo
echo "== done. Results in $run:"
echo "   weights:        $run/weights/last.safetensors (EMA weights + training state, resumable)"
echo "                   $best"
echo "   batch images:   $(ls "$run"/train_batch*.jpg 2>/dev/null | tr '\n' ' ')"
echo "   metrics:        $run/results.csv"
echo "   continue:       ./yolov5c train --resume $run/weights/last.safetensors --epochs $((epochs + 20))"
if ./yolov5c detect --help >/dev/null 2>&1; then
    echo "   detect:         ./yolov5c detect --weights $best --source $data_dir/images/val"
fi
