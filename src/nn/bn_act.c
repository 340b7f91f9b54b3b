/* Picks the BnActKernels table for this CPU. */
#include <stdatomic.h>

#include "core/cpu.h"
#include "nn/bn_act_kernels.h"

const BnActKernels *bn_act_kernels(void)
{
    /* cpu_best_isa() reads cpuid and the environment: too slow per call. The
     * cached value is an immutable fact about the machine and process. */
    static atomic_int cached = -1;
    int isa = atomic_load_explicit(&cached, memory_order_relaxed);
    if (isa < 0) {
        isa = (int)cpu_best_isa();
        atomic_store_explicit(&cached, isa, memory_order_relaxed);
    }
    switch ((Isa)isa) {
    case ISA_AVX512: return &bn_act_kernels_avx512;
    case ISA_AVX2: return &bn_act_kernels_avx2;
    default: return &bn_act_kernels_generic;
    }
}
