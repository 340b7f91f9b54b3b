#!/usr/bin/env bash
# The PyTorch parity suite once per GEMM kernel family below the best one
# (the best is covered by the plain run): gemm picks its ISA once per process,
# so each family needs its own process. Families this CPU lacks are skipped.
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
for isa in generic avx2; do
    check_test_binary "parity_$isa" YV5_ISA=$isa "$test_dir/nn/test_nn_parity"
done
finish
