#!/usr/bin/env bash
# The PyTorch parity suite once per GEMM kernel family below the best one
# (the best is covered by the plain run): gemm picks its ISA once per process,
# so each family needs its own process. Families this CPU lacks are skipped.
set -u
bin="${YV5_TEST_DIR:-build/tests}/nn/test_nn_parity"
passed=0
failed=0
for isa in generic avx2; do
    if [ ! -x "$bin" ]; then
        echo "FAIL - parity_$isa: $bin not built"
        failed=$((failed + 1))
        continue
    fi
    if YV5_ISA=$isa "$bin" > /tmp/yv5_parity_$$.log 2>&1; then
        echo "ok - parity_$isa"
        passed=$((passed + 1))
    else
        grep -E 'FAIL|check failed|differ' /tmp/yv5_parity_$$.log | head -20
        echo "FAIL - parity_$isa"
        failed=$((failed + 1))
    fi
done
rm -f /tmp/yv5_parity_$$.log
echo "RESULT $passed $failed"
