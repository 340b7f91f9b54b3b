#!/usr/bin/env bash
# --bf16 (bfloat16 convolution products) from the command line:
#  - without AVX512_BF16 (forced with YV5_ISA=avx2) train, val and detect
#    refuse it with exit 2 and a reason, and leave no run directory;
#  - train --bf16 runs, records bf16 in opt.yaml, keeps it on --resume, and its
#    losses stay near the fp32 run's (same seed and data);
#  - val --bf16 on the v7.0-trained fixture model (tests/fixtures/val) gives
#    P, R, mAP50 and mAP50-95 within 0.02 of fp32 (measured: within 0.005);
#  - detect --bf16 finds as many boxes (conf >= 0.25) as fp32, within 5% + 1
#    (measured: 45 and 45).
# The runs are skipped, with the reason, on a CPU without AVX512_BF16.
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
require_bin

fx=$repo/tests/fixtures/val
cat >"$tmp/fx.yaml" <<YAML
path: $fx
train: images
val: images
nc: 6
names: [circle, square, triangle, star, cross, ring]
YAML

run env YV5_ISA=avx2 "$bin" train --data "$tmp/fx.yaml" --cfg tests/fixtures/ckpt/yolov5-tiny.yaml --img 64 --epochs 1 --bf16 --project "$tmp/runs" --name refused
check "train --bf16 without AVX512_BF16: exit 2, reason" test $rc -eq 2 -a -n "$(grep -F 'AVX512_BF16' "$tmp/err")"
check "... and no run directory" test ! -e "$tmp/runs/refused"
run env YV5_ISA=avx2 "$bin" val --weights "$fx/model.safetensors" --data "$tmp/fx.yaml" --bf16 --project "$tmp/val"
check "val --bf16 without AVX512_BF16: exit 2, reason" test $rc -eq 2 -a -n "$(grep -F 'AVX512_BF16' "$tmp/err")"
run env YV5_ISA=avx2 "$bin" detect --weights "$fx/model.safetensors" --source "$fx/images" --bf16 --project "$tmp/det"
check "detect --bf16 without AVX512_BF16: exit 2, reason" test $rc -eq 2 -a -n "$(grep -F 'AVX512_BF16' "$tmp/err")"

if ! grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
    echo "# bf16 runs skipped: this CPU has no AVX512_BF16"
    finish
fi

# val: the "all" row's P R mAP50 mAP50-95
all_row() { awk '$1 == "all" { print $4, $5, $6, $7 }' "$1"; }
run "$bin" val --weights "$fx/model.safetensors" --data "$tmp/fx.yaml" --img 320 --batch-size 16 --noplots --project "$tmp/val" --name fp32
cp "$tmp/out" "$tmp/val_fp32.txt"
run "$bin" val --weights "$fx/model.safetensors" --data "$tmp/fx.yaml" --img 320 --batch-size 16 --noplots --project "$tmp/val" --name bf16 --bf16
cp "$tmp/out" "$tmp/val_bf16.txt"
check "val --bf16 runs and says so" test $rc -eq 0 -a -n "$(grep -F 'bf16=True' "$tmp/out")"
a=$(all_row "$tmp/val_fp32.txt")
b=$(all_row "$tmp/val_bf16.txt")
echo "# val fp32: $a / bf16: $b"
check "val --bf16 metrics within 0.02 of fp32" test -n "$a" -a -n "$b" -a \
    "$(echo "$a $b" | awk '{ ok = NF == 8; for (i = 1; i <= 4; i++) { d = $i - $(i + 4); if (d < 0) d = -d; if (d > 0.02) ok = 0 } print ok }')" = 1

boxes() { cat "$1"/labels/*.txt 2>/dev/null | wc -l; }
run "$bin" detect --weights "$fx/model.safetensors" --source "$fx/images" --img 320 --save-txt --save-conf --nosave --project "$tmp/det" --name fp32
run "$bin" detect --weights "$fx/model.safetensors" --source "$fx/images" --img 320 --save-txt --save-conf --nosave --project "$tmp/det" --name bf16 --bf16
check "detect --bf16 runs" test $rc -eq 0
n32=$(boxes "$tmp/det/fp32")
n16=$(boxes "$tmp/det/bf16")
echo "# detect boxes: fp32 $n32, bf16 $n16"
slack=$(( n32 / 20 + 1 ))
check "detect --bf16: box count within 5% + 1 of fp32" test "$n32" -gt 10 -a "$(( n32 - n16 ))" -le $slack -a "$(( n16 - n32 ))" -le $slack

common="--data $tmp/fx.yaml --cfg tests/fixtures/ckpt/yolov5-tiny.yaml --img 64 --batch-size 8 --noval --noplots --noautoanchor --workers 1 --project $tmp/runs"
run "$bin" train $common --epochs 2 --name fp32
check "train fp32 run" test $rc -eq 0
run "$bin" train $common --epochs 2 --name bf16 --bf16
check "train --bf16 run" test $rc -eq 0 -a -f "$tmp/runs/bf16/weights/last.safetensors"
check "opt.yaml records bf16" has_line "bf16: true" "$tmp/runs/bf16/opt.yaml"
check "the fp32 run's opt.yaml says bf16: false" has_line "bf16: false" "$tmp/runs/fp32/opt.yaml"
# results.csv: the train losses (box, obj, cls) of the last epoch
losses() { tail -n 1 "$1" | tr -d ' ' | awk -F, '{ print $2, $3, $4 }'; }
l32=$(losses "$tmp/runs/fp32/results.csv")
l16=$(losses "$tmp/runs/bf16/results.csv")
echo "# last-epoch train losses fp32: $l32 / bf16: $l16"
check "bf16 losses within 5% of fp32" test \
    "$(echo "$l32 $l16" | awk '{ ok = NF == 6; for (i = 1; i <= 3; i++) { d = $i - $(i + 3); if (d < 0) d = -d; if (!($i > 0) || d > 0.05 * $i) ok = 0 } print ok }')" = 1
run "$bin" train --resume "$tmp/runs/bf16/weights/last.safetensors" --epochs 3
check "--resume keeps --bf16" test $rc -eq 0 -a -n "$(grep -F 'bf16=True' "$tmp/out")"
finish
