#!/usr/bin/env bash
# `yolov5c info`: layer table and summary as YOLOv5 v7.0 prints them, option
# handling and exit codes (0 ok, 1 bad model/weights, 2 bad usage).
# YV5_BIN picks the binary (see tests/lib.sh).
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
require_bin

run "$bin" info --cfg models/yolov5s.yaml
check "yolov5s summary" test $rc -eq 0 -a -n "$(grep -xF 'YOLOv5s summary: 214 layers, 7235389 parameters, 7235389 gradients, 16.5 GFLOPs' "$tmp/out")"
check "yolov5s first row" has_line "  0                -1  1      3520  models.common.Conv                      [3, 32, 6, 2, 2]              " "$tmp/out"
check "yolov5s C3 row" has_line " 13                -1  1    361984  models.common.C3                        [512, 256, 1, False]          " "$tmp/out"
check "yolov5s Detect row" has_line " 24      [17, 20, 23]  1    229245  models.yolo.Detect                      [80, [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]], [128, 256, 512]]" "$tmp/out"
check "table header" has_line "                 from  n    params  module                                  arguments                     " "$tmp/out"
check "25 layer rows" test "$(grep -cE '^ *[0-9]+ +(-1|[0-9]+|\[[-0-9, ]+\]) +[0-9]+ +[0-9]+  (models|torch)\.' "$tmp/out")" -eq 25

for spec in "n 214 1872157 4.5" "m 291 21190557 49.0" "l 368 46563709 109.1" "x 445 86749405 205.7"; do
    set -- $spec
    run "$bin" info --cfg models/yolov5$1.yaml
    check "yolov5$1 summary" has_line "YOLOv5$1 summary: $2 layers, $3 parameters, $3 gradients, $4 GFLOPs" "$tmp/out"
done

run "$bin" info --cfg models/yolov5n.yaml --nc 3 --img 1280
check "--nc overrides the YAML's nc" has_line "Overriding model.yaml nc=80 with nc=3" "$tmp/out"
check "--nc 3 --img 1280 summary" has_line "YOLOv5n summary: 214 layers, 1767976 parameters, 1767976 gradients, 16.6 GFLOPs" "$tmp/out"
check "--nc 3 Detect args" has "models.yolo.Detect                      [3, [[10, 13" "$tmp/out"

run "$bin" info --cfg=models/yolov5n.yaml --img=320 --params
check "--opt=value form and --params" test $rc -eq 0 -a "$(grep -c '^ *[0-9]\+ model\.' "$tmp/out")" -eq 349
check "--img 320 GFLOPs" has "1872157 gradients, 1.1 GFLOPs" "$tmp/out"
check "--params last entry" has "348 model.24.m.2.bias" "$tmp/out"

run "$bin" info --help
check "--help exits 0 and lists the flags" test $rc -eq 0 -a -n "$(grep -- --cfg "$tmp/out" | head -1)" -a -n "$(grep -- --nc "$tmp/out" | head -1)" -a -n "$(grep -- --img "$tmp/out" | head -1)" -a -n "$(grep -- --weights "$tmp/out" | head -1)"

run "$bin" info --cfg models/yolov5s.yaml --bogus
check "unknown flag exits 2 with usage" test $rc -eq 2 -a -n "$(grep -F "unknown option '--bogus'" "$tmp/err")" -a -n "$(grep -F 'usage:' "$tmp/err")"
run "$bin" info --cfg models/yolov5s.yaml --nc abc
check "--nc abc exits 2" test $rc -eq 2 -a -n "$(grep -F -- "--nc must be a positive integer, got 'abc'" "$tmp/err")"
run "$bin" info --cfg models/yolov5s.yaml --img 0
check "--img 0 exits 2" test $rc -eq 2
run "$bin" info --cfg
check "--cfg without a value exits 2" test $rc -eq 2 -a -n "$(grep -F 'needs a value' "$tmp/err")"
run "$bin" info
check "no --cfg exits 2" test $rc -eq 2 -a -n "$(grep -F 'is required' "$tmp/err")"

run "$bin" info --cfg tests/fixtures/model/bad_unknown_module.yaml
check "bad YAML exits 1 naming file, line, reason" test $rc -eq 1 -a -n "$(grep -F "bad_unknown_module.yaml:10: layer 2: unknown module 'Focus'" "$tmp/err")"
run "$bin" info --cfg tests/fixtures/model/does_not_exist.yaml
check "missing file exits 1" test $rc -eq 1 -a -n "$(grep -F 'does_not_exist.yaml: cannot open' "$tmp/err")"

weights=tests/fixtures/ckpt/release_tiny.expected.safetensors
run "$bin" info --weights $weights
check "--weights: model from metadata, tensors checked" test $rc -eq 0 -a -n "$(grep -F 'Model summary: 214 layers, 12008 parameters' "$tmp/out")" -a -n "$(grep -F 'all 349 state_dict tensors present' "$tmp/out")"
run "$bin" info --weights $weights --cfg models/yolov5n.yaml
check "--weights that do not fit --cfg exit 1" test $rc -eq 1 -a -n "$(grep -F "tensor 'model.0.conv.weight' has shape (8, 3, 6, 6), the model needs (16, 3, 6, 6)" "$tmp/err")"

finish
