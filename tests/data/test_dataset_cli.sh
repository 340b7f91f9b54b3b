#!/usr/bin/env bash
# `yolov5c dataset` end to end through the real binary: generate the shapes
# dataset (twice: byte-identical), scan it cold and cached, use the committed
# data/shapes.yaml with its relative path, and the error exits.
# Prints ok/FAIL lines and "RESULT <passed> <failed>".
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${YV5_BIN:-./yolov5c}
case $bin in /*) ;; *) bin=$repo/${bin#./} ;; esac
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }
check() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }

if [ ! -x "$bin" ]; then
    fail "binary $bin not found (build it with make)"
    echo "RESULT $passed $failed"
    exit 1
fi
if ! "$bin" dataset --help >/dev/null 2>&1; then
    # The subcommand is registered in src/cli/main.c by its owner; until then
    # tests/data/test_dataset_cmd covers the command in-process.
    check "yolov5c runs (dataset command not registered yet: CLI checks skipped)" '"$bin" --help >/dev/null'
    echo "RESULT $passed $failed"
    [ "$failed" -eq 0 ]
    exit
fi

tmp=$(mktemp -d /tmp/yv5_cli_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
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
out=$("$bin" dataset --data "$tmp/bad.yaml" --preview 4 2>&1); rc=$?
check "--preview: not yet, exit 2" '[ $rc -eq 2 ] && grep -q "not available yet" <<<"$out"'

echo "RESULT $passed $failed"
[ "$failed" -eq 0 ]
