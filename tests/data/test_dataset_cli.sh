#!/usr/bin/env bash
# `yolov5c dataset` end to end through the real binary: generate the shapes
# dataset (twice: byte-identical), scan it cold and cached, use the committed
# data/shapes.yaml with its relative path, preview augmented batches
# (--preview, --hyp, output folders), and the error exits.
# Prints ok/FAIL lines and "RESULT <passed> <failed>".
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
require_command dataset

mkdir -p "$tmp/work" "$tmp/datasets"

out=$("$bin" dataset --generate-shapes "$tmp/datasets/shapes" --train 12 --val 4 --img 128 --seed 3 2>&1); rc=$?
check "generate exits 0" '[ $rc -eq 0 ]'
check "generate reports what it wrote" 'grep -q "wrote 12 train + 4 val images" <<<"$out"'
check "generate writes images, JSON and YAML" '[ -f "$tmp/datasets/shapes/images/train/000011.jpg" ] && [ -f "$tmp/datasets/shapes/annotations/instances_val.json" ] && [ -f "$tmp/datasets/shapes/shapes.yaml" ]'
"$bin" dataset --generate-shapes "$tmp/again" --train 12 --val 4 --img 128 --seed 3 >/dev/null 2>&1
check "same seed, identical files" 'diff -r -q -x shapes.yaml "$tmp/datasets/shapes" "$tmp/again" >/dev/null'

out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" 2>&1); rc=$?
check "scan exits 0" '[ $rc -eq 0 ]'
check "scan summary per split" 'grep -q "^train: Scanning .* 12 images, .* backgrounds, 0 corrupt, .* instances" <<<"$out" && grep -q "^val: Scanning .* 4 images" <<<"$out"'
check "instances per class table" 'grep -q "^circle " <<<"$out" && grep -q "^all " <<<"$out"'
check "first scan writes the cache" 'grep -q "cache written" <<<"$out" && [ -f "$tmp/datasets/shapes/annotations/instances_train.yv5cache" ]'
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" 2>&1)
check "second scan reads the cache" 'grep -q "cache read" <<<"$out"'

# the committed data/shapes.yaml: path ../datasets/shapes from the current directory
out=$(cd "$tmp/work" && "$bin" dataset --data "$repo/data/shapes.yaml" 2>&1); rc=$?
check "data/shapes.yaml resolves ../datasets/shapes from the current directory" '[ $rc -eq 0 ] && grep -q "12 images" <<<"$out"'

echo "broken" >"$tmp/datasets/shapes/images/train/000003.jpg"
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" 2>&1); rc=$?
check "a corrupt image is a warning, not a failure" '[ $rc -eq 0 ] && grep -q "11 images, .* 1 corrupt" <<<"$out" && grep -q "WARNING .*000003.jpg" <<<"$out"'

printf 'path: %s/nowhere\ntrain: images/train\nval: images/val\nnames: [a]\n' "$tmp" >"$tmp/bad.yaml"
out=$("$bin" dataset --data "$tmp/bad.yaml" 2>&1); rc=$?
check "config pointing to nothing: exit 1 with the path" '[ $rc -eq 1 ] && grep -q "nowhere/images/train does not exist" <<<"$out"'
out=$("$bin" dataset --data "$tmp/missing.yaml" 2>&1); rc=$?
check "missing YAML: exit 1" '[ $rc -eq 1 ] && grep -q "missing.yaml" <<<"$out"'

# --preview: augmented training batches as JPEG mosaics (the corrupt image is
# left out by the scan, so the loader never meets it)
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 2 --batch-size 4 --out "$tmp/prev" 2>&1); rc=$?
check "--preview writes train_batch0.jpg and train_batch1.jpg" '[ $rc -eq 0 ] && [ -s "$tmp/prev/train_batch0.jpg" ] && [ -s "$tmp/prev/train_batch1.jpg" ] && [ ! -e "$tmp/prev/train_batch2.jpg" ]'
check "--preview says where" 'grep -q "preview: wrote 2 mosaics to $tmp/prev" <<<"$out"'
check "--preview output is a JPEG" '[ "$(head -c 2 "$tmp/prev/train_batch0.jpg" | od -An -tx1 | tr -d " ")" = "ffd8" ]'
"$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 2 --batch-size 4 --out "$tmp/prev2" >/dev/null 2>&1
check "--preview: same seed, same mosaics" 'cmp -s "$tmp/prev/train_batch1.jpg" "$tmp/prev2/train_batch1.jpg"'
"$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 1 --batch-size 4 --seed 9 --out "$tmp/prev3" >/dev/null 2>&1
check "--preview: another seed, other mosaics" '! cmp -s "$tmp/prev/train_batch0.jpg" "$tmp/prev3/train_batch0.jpg"'
out=$(cd "$tmp/work" && "$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 3 --batch-size 8 --workers 1 --cache-ram 2>&1); rc=$?
check "--preview past the end of an epoch, RAM cache reported" '[ $rc -eq 0 ] && [ -s "$tmp/work/runs/dataset/exp/train_batch2.jpg" ] && grep -q "Caching images (0.0GB ram)" <<<"$out" && grep -q "(epoch 1, batch 0)" <<<"$out"'
(cd "$tmp/work" && "$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 1 --batch-size 2 --project p --name run >/dev/null 2>&1 && "$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 1 --batch-size 2 --project p --name run >/dev/null 2>&1)
check "--project/--name increment: run, run2" '[ -s "$tmp/work/p/run/train_batch0.jpg" ] && [ -s "$tmp/work/p/run2/train_batch0.jpg" ]'
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 1 --hyp "$repo/hyps/hyp.scratch-high.yaml" --out "$tmp/prev4" 2>&1); rc=$?
check "--hyp file used" '[ $rc -eq 0 ] && grep -q "hyp .*hyp.scratch-high.yaml" <<<"$out" && [ -s "$tmp/prev4/train_batch0.jpg" ]'
printf 'mosaic: 2.5\n' >"$tmp/badhyp.yaml"
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --preview 1 --hyp "$tmp/badhyp.yaml" 2>&1); rc=$?
check "--hyp with a bad value: exit 1 naming file and key" '[ $rc -eq 1 ] && grep -q "badhyp.yaml" <<<"$out" && grep -q "mosaic" <<<"$out"'
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --hyp "$tmp/nohyp.yaml" 2>&1); rc=$?
check "--hyp missing file: exit 1" '[ $rc -eq 1 ] && grep -q "nohyp.yaml" <<<"$out"'
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --preview 0 2>&1); rc=$?
check "--preview 0: usage error, exit 2" '[ $rc -eq 2 ]'
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 100 --preview 1 2>&1); rc=$?
check "--preview needs --img a multiple of 32: exit 2" '[ $rc -eq 2 ] && grep -q "multiple of 32" <<<"$out"'
out=$("$bin" dataset --data "$tmp/datasets/shapes/shapes.yaml" --img 128 --preview 1 --out /proc/nope/x 2>&1); rc=$?
check "--preview into an unwritable place: exit 1" '[ $rc -eq 1 ] && grep -q "/proc/nope" <<<"$out"'

finish
