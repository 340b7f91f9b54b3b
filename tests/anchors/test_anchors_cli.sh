#!/usr/bin/env bash
# `yolov5c anchors` end to end through the real binary on a generated shapes
# dataset: the BPR check, the proposal, the YAML block, determinism for a
# seed, and the exit codes (0 ok, 1 bad input, 2 bad usage).
# Prints ok/FAIL lines and "RESULT <passed> <failed>".
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
require_command anchors

out=$("$bin" dataset --generate-shapes "$tmp/shapes" --train 40 --val 10 --img 160 2>&1); rc=$?
check "shapes dataset generated" '[ $rc -eq 0 ] && [ -f "$tmp/shapes/shapes.yaml" ]'

out=$("$bin" anchors --data "$tmp/shapes/shapes.yaml" --img 160 --seed 3 2>&1); rc=$?
check "anchors exits 0" '[ $rc -eq 0 ]'
check "BPR line as YOLOv5 prints it" 'grep -Eq "^AutoAnchor: [0-9]+\.[0-9]{2} anchors/target, [0-9]\.[0-9]{3} Best Possible Recall \(BPR\)\. " <<<"$out"'
check "k-means and GA ran" 'grep -q "^AutoAnchor: Running kmeans for 9 anchors on " <<<"$out" && grep -q "1000/1000" <<<"$out"'
check "result lines" 'grep -Eq "^AutoAnchor: thr=0\.25: [0-9]\.[0-9]{4} best possible recall, [0-9.]+ anchors past thr$" <<<"$out" && grep -q "^AutoAnchor: n=9, img_size=160, metric_all=" <<<"$out"'
check "YAML block with one row per level" '[ "$(grep -c "^  - \[[0-9]*,[0-9]*, [0-9]*,[0-9]*, [0-9]*,[0-9]*\]  # P[345]/" <<<"$out")" -eq 3 ]'
first=$(grep -v "%|" <<<"$out")
out=$("$bin" anchors --data "$tmp/shapes/shapes.yaml" --img 160 --seed 3 2>&1)
check "same seed, same output" '[ "$first" = "$(grep -v "%|" <<<"$out")" ]'

out=$("$bin" anchors --data "$tmp/shapes/shapes.yaml" --n 7 2>&1); rc=$?
check "--n not a multiple of the levels: exit 2" '[ $rc -eq 2 ]'
out=$("$bin" anchors 2>&1); rc=$?
check "no --data: exit 2" '[ $rc -eq 2 ]'
out=$("$bin" anchors --data "$tmp/missing.yaml" 2>&1); rc=$?
check "missing data YAML: exit 1" '[ $rc -eq 1 ]'

finish
