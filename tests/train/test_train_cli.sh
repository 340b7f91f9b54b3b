#!/usr/bin/env bash
# `yolov5c train` from the command line: exit codes and messages, Ctrl-C,
# and kill -9 at an arbitrary moment followed by --resume, which must end with
# the same checkpoint tensors and results.csv as an uninterrupted run.
# YV5_BIN picks the binary (see tests/lib.sh).
set -u
. "$(dirname "$0")/../lib.sh" || exit 1

# The data block of a safetensors file (everything after its JSON header):
# the tensors, byte for byte, without the metadata (which names the run).
tensors_of() {
    local n
    n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
    tail -c +$((n + 9)) "$1"
}
same_tensors() { cmp -s <(tensors_of "$1") <(tensors_of "$2"); }

run "$bin" train --help
if [ "$rc" -ne 0 ] || ! has "usage: yolov5c train" "$tmp/out"; then
    check "$bin has the train command (src/cli/main.c must list cmd_train)" false
    echo "RESULT $passed $failed"
    exit 1
fi
check "--help exits 0 with the usage and the flags" has "--multi-scale" "$tmp/out"

run "$bin" train --cfg models/yolov5n.yaml --bogus
check "unknown flag: exit 2, named, usage" test $rc -eq 2 -a -n "$(grep -F "unknown option '--bogus'" "$tmp/err")" -a -n "$(grep -F 'usage: yolov5c train' "$tmp/err")"
run "$bin" train --cfg models/yolov5n.yaml --epochs -3
check "bad value: exit 2" test $rc -eq 2 -a -n "$(grep -F -- "--epochs must be an integer" "$tmp/err")"
run "$bin" train --data data/shapes.yaml
check "no model: exit 2" test $rc -eq 2 -a -n "$(grep -F 'either --cfg or --weights' "$tmp/err")"
run "$bin" train --data "$tmp/missing.yaml" --cfg models/yolov5n.yaml --project "$tmp/runs"
check "missing dataset: exit 1, file named" test $rc -eq 1 -a -n "$(grep -F "$tmp/missing.yaml" "$tmp/err")"

run "$bin" dataset --generate-shapes "$tmp/shapes" --train 16 --val 4 --img 80 --seed 3
check "shapes dataset generated" test $rc -eq 0 -a -f "$tmp/shapes/shapes.yaml"
common="--data $tmp/shapes/shapes.yaml --cfg tests/fixtures/ckpt/yolov5-tiny.yaml --img 64 --batch-size 4 --noval --noplots --workers 2 --project $tmp/runs"

run "$bin" train $common --epochs 6 --name straight
check "uninterrupted run" test $rc -eq 0 -a -f "$tmp/runs/straight/weights/last.safetensors"
check "plain progress lines when stdout is not a terminal" test -z "$(grep -l $'\r' "$tmp/out")" -a -n "$(grep -F '5/5' "$tmp/out")"

# kill -9 from inside, after batch 2 of epoch 3 (deterministic)
YV5_TRAIN_KILL_AT=3:2 "$bin" train $common --epochs 6 --name killed_a >"$tmp/out" 2>"$tmp/err" &
wait $!
rc=$?
check "YV5_TRAIN_KILL_AT=3:2 kills the run (status 137)" test $rc -eq 137
check "results.csv holds epochs 0-2 when killed in epoch 3" test "$(($(wc -l <"$tmp/runs/killed_a/results.csv") - 1))" -eq 3
run "$bin" train --resume "$tmp/runs/killed_a/weights/last.safetensors"
check "resume after kill -9 mid-epoch" test $rc -eq 0 -a -n "$(grep -F 'Resuming training from' "$tmp/out")"
check "same checkpoint tensors as the uninterrupted run" same_tensors "$tmp/runs/straight/weights/last.safetensors" "$tmp/runs/killed_a/weights/last.safetensors"
check "same results.csv as the uninterrupted run" cmp -s "$tmp/runs/straight/results.csv" "$tmp/runs/killed_a/results.csv"

# kill -9 from outside at an arbitrary moment after the first checkpoint
"$bin" train $common --epochs 6 --name killed_b >"$tmp/out_b" 2>"$tmp/err_b" &
pid=$!
for _ in $(seq 1 600); do
    [ -f "$tmp/runs/killed_b/weights/last.safetensors" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rc=$?
echo "    (external kill -9: status $rc, $(($(wc -l <"$tmp/runs/killed_b/results.csv" 2>/dev/null || echo 1) - 1)) epochs in results.csv)"
if [ "$rc" -eq 0 ]; then
    check "run finished before the kill: nothing to resume" true
else
    run "$bin" train --resume "$tmp/runs/killed_b/weights/last.safetensors"
    if [ "$rc" -eq 1 ] && has "nothing to resume" "$tmp/err"; then
        check "killed after its last checkpoint: nothing left to resume" true
    else
        check "resume after an external kill -9" test $rc -eq 0
    fi
fi
check "kill -9 + resume: same checkpoint tensors" same_tensors "$tmp/runs/straight/weights/last.safetensors" "$tmp/runs/killed_b/weights/last.safetensors"
check "kill -9 + resume: same results.csv" cmp -s "$tmp/runs/straight/results.csv" "$tmp/runs/killed_b/results.csv"
check "kill -9 + resume: same best checkpoint tensors" same_tensors "$tmp/runs/straight/weights/best.safetensors" "$tmp/runs/killed_b/weights/best.safetensors"
check "no temporary files left next to the checkpoints" test -z "$(ls "$tmp/runs/killed_b/weights" | grep -v '\.safetensors$')"

# Ctrl-C: status 130, the last checkpoint stays usable
"$bin" train $common --epochs 12 --name interrupted >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 600); do
    [ -f "$tmp/runs/interrupted/weights/last.safetensors" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
check "SIGINT: exit 130 with a resume hint" test $rc -eq 130 -a -n "$(grep -F -- '--resume' "$tmp/err")"
run "$bin" train --resume "$tmp/runs/interrupted/weights/last.safetensors" --epochs 13
check "interrupted run resumes (and extends)" test $rc -eq 0 -a "$(($(wc -l <"$tmp/runs/interrupted/results.csv") - 1))" -eq 13

# --single-cls: one class named item, every label class 0
run "$bin" train $common --epochs 1 --single-cls --name onecls
check "--single-cls trains" test $rc -eq 0 -a -f "$tmp/runs/onecls/weights/last.safetensors"
check "--single-cls: a 1-class model named item" test -n "$(head -c 200000 "$tmp/runs/onecls/weights/last.safetensors" | grep -a -o '"nc":"1"')" -a -n "$(head -c 200000 "$tmp/runs/onecls/weights/last.safetensors" | grep -a -o 'item')"
check "--single-cls: recorded in opt.yaml" grep -q '^single_cls: true' "$tmp/runs/onecls/opt.yaml"

run "$bin" train --resume "$tmp/runs/straight/weights/last.safetensors"
check "finished run: exit 1, nothing to resume" test $rc -eq 1 -a -n "$(grep -F 'nothing to resume' "$tmp/err")"

echo "RESULT $passed $failed"
[ "$failed" -eq 0 ]
