#!/usr/bin/env bash
# `yolov5c val` and `yolov5c detect` through the binary (the in-process tests
# in tests/val and tests/detect cover the details): help, a validation table
# and a detection line on the parity fixture, exit codes. Until the commands
# are registered in src/cli/main.c each check reports "ok - ... skipped".
# YV5_BIN picks the binary (see tests/lib.sh).
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
require_bin

fixture=tests/fixtures/val
mkdir -p "$tmp/data"
cp -r "$fixture/images" "$fixture/labels" "$tmp/data/"
printf 'path: %s\ntrain: images\nval: images\nnc: 6\nnames: [circle, square, triangle, star, cross, ring]\n' \
    "$tmp/data" >"$tmp/data.yaml"

if registered val; then
    run "$bin" val --help
    check "val --help" test $rc -eq 0 -a -n "$(grep -F 'usage: yolov5c val' "$tmp/out")"
    run "$bin" val --weights "$fixture/model.safetensors" --data "$tmp/data.yaml" --img 320 --batch-size 16 \
        --noplots --project "$tmp/runs" --name v
    check "val table" eval 'test $rc -eq 0 && has "                 Class     Images  Instances          P          R      mAP50   mAP50-95" "$tmp/out" && grep -qE "^ +all +32 +[0-9]+ " "$tmp/out" && grep -q "^Speed: .* per image at shape (16, 3, 320, 320)$" "$tmp/out"'
    run "$bin" val --weights "$fixture/model.safetensors"
    check "val usage error exits 2" test $rc -eq 2
else
    ok "val: skipped until registered in src/cli/main.c"
fi

if registered detect; then
    run "$bin" detect --help
    check "detect --help" test $rc -eq 0 -a -n "$(grep -F 'usage: yolov5c detect' "$tmp/out")"
    run "$bin" detect --weights "$fixture/model.safetensors" --source "$tmp/data/images/000000.jpg" --img 320 \
        --save-txt --project "$tmp/runs" --name d
    check "detect line" eval 'test $rc -eq 0 && grep -qE "^image 1/1 /.*/000000\.jpg: [0-9]+x[0-9]+ .*ms$" "$tmp/out" && test -s "$tmp/runs/d/000000.jpg"'
    printf 'not an image' >"$tmp/data/images/zz_broken.jpg"
    run "$bin" detect --weights "$fixture/model.safetensors" --source "$tmp/data/images" --img 320 --nosave \
        --project "$tmp/runs" --name d2
    check "detect skips an unreadable image" eval 'test $rc -eq 1 && has "zz_broken.jpg: skipped" "$tmp/err" && test "$(grep -c "^image " "$tmp/out")" -eq 32'
else
    ok "detect: skipped until registered in src/cli/main.c"
fi

finish
