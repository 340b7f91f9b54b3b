/* BnActKernels compiled for generic (see bn_act_impl.h). */
#define BN_ACT_NAME(x) bn_act_generic_##x
#include "nn/bn_act_impl.h"

BN_ACT_TABLE(bn_act_kernels_generic, "generic");
