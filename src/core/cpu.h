/* What the processor can run, read from cpuid once at start-up.
 * YV5_ISA=generic|avx2|avx512 in the environment caps the choice (used by the
 * tests to exercise every kernel on one machine). */
#ifndef YV5_CPU_H
#define YV5_CPU_H

typedef enum { ISA_GENERIC = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 } Isa;

typedef struct {
    int avx2, fma, avx512f, avx512bw, avx512dq, avx512vl, avx512bf16;
} CpuFeatures;

CpuFeatures cpu_features(void);
/* Best ISA the CPU and the OS (XCR0) support, capped by YV5_ISA. */
Isa cpu_best_isa(void);
const char *isa_name(Isa isa);

#endif
