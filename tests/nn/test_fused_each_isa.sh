#!/usr/bin/env bash
# The batched GEMM entry points, the fused conv unit and the whole-model
# PyTorch parity once per kernel family below the best one (the best is
# covered by the plain runs): the GEMM, BN + SiLU and im2col row kernels pick
# their ISA once per process, so each family needs its own process. Also the same with one and with three threads
# (batch-level and per-image scheduling must not change any result).
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
for isa in generic avx2; do
    check_test_binary "gemm_batch_$isa" YV5_ISA=$isa "$test_dir/core/test_gemm_batch"
    check_test_binary "conv_bn_act_$isa" YV5_ISA=$isa "$test_dir/nn/test_conv_bn_act"
    check_test_binary "maxpool_$isa" YV5_ISA=$isa "$test_dir/nn/test_maxpool"
    check_test_binary "model_parity_$isa" YV5_ISA=$isa "$test_dir/model/test_model_parity"
done
for threads in 1 3; do
    check_test_binary "model_parity_${threads}_threads" OMP_NUM_THREADS=$threads "$test_dir/model/test_model_parity"
    check_test_binary "model_graph_${threads}_threads" OMP_NUM_THREADS=$threads "$test_dir/model/test_model_graph"
done
finish
