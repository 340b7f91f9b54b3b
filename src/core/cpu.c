#include "cpu.h"

#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

CpuFeatures cpu_features(void)
{
    CpuFeatures f;
    memset(&f, 0, sizeof f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    int osxsave = (c >> 27) & 1;
    int fma = (c >> 12) & 1;
    if (!osxsave) return f;
    unsigned long long xcr0 = xgetbv0();
    int os_avx = (xcr0 & 0x6) == 0x6;             /* XMM and YMM state */
    int os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    if (!os_avx) return f;
    f.fma = fma;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    f.avx2 = (b >> 5) & 1;
    if (os_avx512) {
        f.avx512f = (b >> 16) & 1;
        f.avx512dq = (b >> 17) & 1;
        f.avx512bw = (b >> 30) & 1;
        f.avx512vl = (b >> 31) & 1;
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = (a >> 5) & 1;
    }
    return f;
}

Isa cpu_best_isa(void)
{
    CpuFeatures f = cpu_features();
    Isa best = ISA_GENERIC;
    if (f.avx2 && f.fma) best = ISA_AVX2;
    if (best == ISA_AVX2 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl) best = ISA_AVX512;
    const char *cap = getenv("YV5_ISA");
    if (cap) {
        Isa limit = !strcmp(cap, "generic") ? ISA_GENERIC : !strcmp(cap, "avx2") ? ISA_AVX2 : ISA_AVX512;
        if (limit < best) best = limit;
    }
    return best;
}

const char *isa_name(Isa isa)
{
    switch (isa) {
    case ISA_AVX512: return "avx512";
    case ISA_AVX2: return "avx2";
    default: return "generic";
    }
}
