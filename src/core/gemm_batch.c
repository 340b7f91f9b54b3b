/* One-thread GEMM entry points (see gemm_batch.h), on the kernels of
 * gemm_internal.h.
 *
 * Packed A layout: the k dimension in blocks of KC = gemm_k_block(k, kern->kc)
 * (the same blocks gemm() uses), block by block; within a block, op(A)'s rows
 * in micro-panels of MR rows (kern->pack's layout, zero-padded to a whole
 * panel), so block pc starts at m_pad * slots(KC) * (pc / KC) and its panel of
 * rows [i, i+MR) at i * slots(kc) within the block (slots: gemm_slots, k steps
 * for fp32, pairs of them for bf16). The product walks k blocks, then NR-column
 * panels of B (read in place when B is row-major, fp32 and the panel full, else packed into
 * a small per-thread buffer), then the A panels: each element is summed over
 * each k block by the micro-kernel and added to C block after block, exactly
 * as gemm() does. */
#include "core/gemm_batch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/cache_high_water.h"
#include "core/gemm_internal.h"

void gemm_serial(GemmPrecision precision, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    gemm_with_kernel(gemm_kernel_best(precision), 1, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static int round_up(int x, int unit) { return (x + unit - 1) / unit * unit; }

/* Slots (floats) before k block pc/KC of a packed A with m_pad rows: every
 * earlier block is a full one. */
static size_t block_offset(const GemmKernel *kern, int m_pad, int pc, int KC)
{
    return (size_t)m_pad * (size_t)(pc / KC) * (size_t)gemm_slots(kern, KC);
}

size_t gemm_packed_a_floats(GemmPrecision precision, int m, int k)
{
    const GemmKernel *kern = gemm_kernel_best(precision);
    if (m <= 0 || k <= 0) return 0;
    const int KC = gemm_k_block(k, kern->kc), last = k - (k - 1) / KC * KC;
    const int m_pad = round_up(m, kern->mr);
    return block_offset(kern, m_pad, (k - 1) / KC * KC, KC) + (size_t)m_pad * gemm_slots(kern, last);
}

void gemm_pack_a(GemmPrecision precision, int trans_a, int m, int k, const float *a, int lda, float *packed)
{
    const GemmKernel *kern = gemm_kernel_best(precision);
    if (m <= 0 || k <= 0) return;
    const int KC = gemm_k_block(k, kern->kc), m_pad = round_up(m, kern->mr);
    for (int pc = 0; pc < k; pc += KC) {
        int kc = k - pc < KC ? k - pc : KC;
        const float *src = trans_a ? a + (ptrdiff_t)pc * lda : a + pc;
        kern->pack(!trans_a, src, lda, m, kc, kern->mr, packed + block_offset(kern, m_pad, pc, KC));
    }
}

/* One panel of packed B per thread, kept for the thread's life (a cache of
 * scratch memory: fully overwritten before every use). A key frees it when a
 * thread exits. */
static pthread_once_t panel_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t panel_key;
static _Thread_local float *panel;
static _Thread_local size_t panel_cap;

static void panel_key_create(void)
{
    if (pthread_key_create(&panel_key, free) != 0) {
        fprintf(stderr, "gemm: pthread_key_create failed\n");
        abort();
    }
}

/* The largest panel any thread has needed (core/cache_high_water.h). */
static atomic_size_t panel_mark;

static float *panel_for(size_t floats)
{
    if (floats > panel_cap) {
        pthread_once(&panel_key_once, panel_key_create);
        free(panel);
        size_t want = cache_high_water_raise(&panel_mark, floats);
        size_t bytes = (want * sizeof(float) + 63) & ~(size_t)63;
        panel = aligned_alloc(64, bytes);
        if (!panel) {
            fprintf(stderr, "gemm: cannot allocate %zu bytes of packing scratch\n", bytes);
            abort();
        }
        panel_cap = bytes / sizeof(float);
        pthread_setspecific(panel_key, panel);
    }
    return panel;
}

void gemm_panel_prepare(void)
{
    size_t mark = atomic_load(&panel_mark);
    if (mark) panel_for(mark);
}

void gemm_serial_packed_a(GemmPrecision precision, int trans_b, int m, int n, int k, const float *packed_a,
                          const float *b, int ldb, float beta, float *c, int ldc)
{
    const GemmKernel *kern = gemm_kernel_best(precision);
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
        return;
    }
    const int MR = kern->mr, NR = kern->nr, KC = gemm_k_block(k, kern->kc), m_pad = round_up(m, MR);
    float *bp = panel_for((size_t)gemm_slots(kern, KC) * NR);
    for (int pc = 0; pc < k; pc += KC) {
        const int kc = k - pc < KC ? k - pc : KC, ks = gemm_slots(kern, kc);
        const float beta_k = pc == 0 ? beta : 1.0f;
        const float *ablock = packed_a + block_offset(kern, m_pad, pc, KC);
        for (int jr = 0; jr < n; jr += NR) {
            const int nr = n - jr < NR ? n - jr : NR;
            const float *bpanel;
            ptrdiff_t b_step;
            if (!trans_b && nr == NR && !kern->pairs_k) {
                bpanel = b + (ptrdiff_t)pc * ldb + jr;
                b_step = ldb;
            } else {
                const float *src = trans_b ? b + (ptrdiff_t)jr * ldb + pc : b + (ptrdiff_t)pc * ldb + jr;
                kern->pack(trans_b, src, ldb, nr, kc, NR, bp);
                bpanel = bp;
                b_step = NR;
            }
            for (int ir = 0; ir < m; ir += MR) {
                const int mr = m - ir < MR ? m - ir : MR;
                kern->kernel(kc, ablock + (size_t)ir * ks, bpanel, b_step, c + (ptrdiff_t)ir * ldc + jr, ldc, 1.0f,
                             beta_k, mr, nr);
            }
        }
    }
}
