/* BnActKernels compiled for avx2 (see bn_act_impl.h). */
#define BN_ACT_NAME(x) bn_act_avx2_##x
#include "nn/bn_act_impl.h"

BN_ACT_TABLE(bn_act_kernels_avx2, "avx2");
