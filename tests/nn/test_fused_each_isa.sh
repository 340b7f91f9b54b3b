#!/usr/bin/env bash
# The batched GEMM entry points, the fused conv unit and the whole-model
# PyTorch parity once per kernel family below the best one (the best is
# covered by the plain runs): the GEMM, BN + SiLU and im2col row kernels pick
# their ISA once per process, so each family needs its own process. Also the same with one and with three threads
# (batch-level and per-image scheduling must not change any result).
set -u
dir="${YV5_TEST_DIR:-build/tests}"
passed=0
failed=0
run() { # name, env..., binary
    local name="$1"
    shift
    local bin="${!#}"
    if [ ! -x "$bin" ]; then
        echo "FAIL - $name: $bin not built"
        failed=$((failed + 1))
        return
    fi
    if env "$@" > /tmp/yv5_fused_$$.log 2>&1; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        grep -E 'FAIL|check failed|differ' /tmp/yv5_fused_$$.log | head -20
        echo "FAIL - $name"
        failed=$((failed + 1))
    fi
}
for isa in generic avx2; do
    run "gemm_batch_$isa" YV5_ISA=$isa "$dir/core/test_gemm_batch"
    run "conv_bn_act_$isa" YV5_ISA=$isa "$dir/nn/test_conv_bn_act"
    run "maxpool_$isa" YV5_ISA=$isa "$dir/nn/test_maxpool"
    run "model_parity_$isa" YV5_ISA=$isa "$dir/model/test_model_parity"
done
for threads in 1 3; do
    run "model_parity_${threads}_threads" OMP_NUM_THREADS=$threads "$dir/model/test_model_parity"
    run "model_graph_${threads}_threads" OMP_NUM_THREADS=$threads "$dir/model/test_model_graph"
done
rm -f /tmp/yv5_fused_$$.log
echo "RESULT $passed $failed"
