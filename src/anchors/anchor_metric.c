#include "anchors/anchor_metric.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "anchors/ratio_kernel.h"
#include "model/model_config.h"

/* Labels per block of the parallel loops: small enough for a block's sizes
 * and best values to stay in L1 while the anchors are looped over. */
#define METRIC_BLOCK 2048

int boxwh_alloc(BoxWH *b, size_t n)
{
    b->n = n;
    b->w = malloc((n ? n : 1) * sizeof *b->w);
    b->h = malloc((n ? n : 1) * sizeof *b->h);
    if (!b->w || !b->h) {
        boxwh_free(b);
        return -1;
    }
    return 0;
}

void boxwh_free(BoxWH *b)
{
    free(b->w);
    free(b->h);
    b->w = b->h = NULL;
    b->n = 0;
}

float anchor_ratio(float w, float h, float aw, float ah) { return ratio_metric(w / aw, h / ah); }

void best_ratio_generic(const float *w, const float *h, size_t count, const float *anchors, int n_anchors,
                        float *best)
{
    best_ratio_body(w, h, count, anchors, n_anchors, best);
}

BestRatioFn best_ratio_kernel(int isa)
{
    if (isa < 0) {
        /* cpu_best_isa() reads cpuid and the environment: cached, an immutable
         * fact about the machine and process. */
        static atomic_int cached = -1;
        isa = atomic_load_explicit(&cached, memory_order_relaxed);
        if (isa < 0) {
            isa = (int)cpu_best_isa();
            atomic_store_explicit(&cached, isa, memory_order_relaxed);
        }
    }
    switch ((Isa)isa) {
    case ISA_AVX512: return best_ratio_avx512;
    case ISA_AVX2: return best_ratio_avx2;
    default: return best_ratio_generic;
    }
}

AnchorFit anchor_metric(const BoxWH *wh, const float *anchors, int n_anchors, double anchor_t)
{
    AnchorFit fit = {NAN, NAN};
    if (wh->n == 0) return fit;
    const float thr = (float)(1.0 / anchor_t); /* torch compares in float32 */
    size_t above = 0, recalled = 0;
#pragma omp parallel for schedule(static) reduction(+ : above, recalled) if (wh->n > 4 * METRIC_BLOCK)
    for (size_t start = 0; start < wh->n; start += METRIC_BLOCK) {
        size_t end = start + METRIC_BLOCK < wh->n ? start + METRIC_BLOCK : wh->n;
        for (size_t i = start; i < end; i++) {
            float best = 0.0f;
            for (int j = 0; j < n_anchors; j++) {
                float x = anchor_ratio(wh->w[i], wh->h[i], anchors[2 * j], anchors[2 * j + 1]);
                above += x > thr;
                best = x > best ? x : best;
            }
            recalled += best > thr;
        }
    }
    /* torch: float32 sums of 0/1 values (exact here), then mean = sum / n in float32. */
    fit.aat = (float)above / (float)wh->n;
    fit.bpr = (float)recalled / (float)wh->n;
    return fit;
}

/* PyTorch's CPU sum of a contiguous float32 tensor (ATen's cascade_sum on
 * one thread, AVX2 kernels: vectors of 8 lanes). The tensor is read as rows
 * of 4 vectors, each of the 32 lanes summed through a cascade of 4 levels of
 * partial sums; leftover whole vectors are added to the first vector of
 * partial sums, the 4 vectors are added in order, then the scalar tail is
 * summed from 0 and the 8 lanes are added to it one by one. Below 8
 * elements the same row sum runs on scalars, 4 at a time. */
static int64_t ceil_log2(int64_t x)
{
    if (x <= 2) return 1;
    int64_t v = x - 1, bit = 0;
    while (v >>= 1) bit++;
    return bit + 1;
}

/* c10's row_sum over `rows` rows of `width` floats (row r at x + r * width),
 * each lane summed separately through the cascade; result in out[width]. */
static void cascade_rows(const float *x, int64_t rows, int width, float *out)
{
    enum { LEVELS = 4 };
    float acc[LEVELS][32];
    for (int l = 0; l < LEVELS; l++)
        for (int k = 0; k < width; k++) acc[l][k] = 0.0f;
    const int64_t power = ceil_log2(rows) / LEVELS > 4 ? ceil_log2(rows) / LEVELS : 4;
    const int64_t step = (int64_t)1 << power, mask0 = step - 1;
    int64_t i = 0;
    while (i + step <= rows) {
        for (int64_t j = 0; j < step; j++, i++) {
            const float *row = x + i * width;
            for (int k = 0; k < width; k++) acc[0][k] += row[k];
        }
        for (int l = 1; l < LEVELS; l++) {
            for (int k = 0; k < width; k++) {
                acc[l][k] += acc[l - 1][k];
                acc[l - 1][k] = 0.0f;
            }
            if (i & (mask0 << (l * power))) break;
        }
    }
    for (; i < rows; i++) {
        const float *row = x + i * width;
        for (int k = 0; k < width; k++) acc[0][k] += row[k];
    }
    for (int l = 1; l < LEVELS; l++)
        for (int k = 0; k < width; k++) acc[0][k] += acc[l][k];
    for (int k = 0; k < width; k++) out[k] = acc[0][k];
}

float torch_sum_f32(const float *x, size_t n)
{
    enum { VEC = 8, ILP = 4 };
    if (n < VEC) {
        /* scalar_inner_sum: row_sum on scalars, 4 interleaved accumulators. */
        float part[ILP];
        int64_t rows = (int64_t)n / ILP;
        cascade_rows(x, rows, ILP, part);
        for (size_t i = (size_t)rows * ILP; i < n; i++) part[0] += x[i];
        for (int k = 1; k < ILP; k++) part[0] += part[k];
        return 0.0f + part[0];
    }
    const int64_t vecs = (int64_t)(n / VEC), rows = vecs / ILP;
    float part[ILP * VEC]; /* partial_sums[k] lane l at part[k * VEC + l] */
    cascade_rows(x, rows, ILP * VEC, part);
    for (int64_t v = rows * ILP; v < vecs; v++)
        for (int l = 0; l < VEC; l++) part[l] += x[v * VEC + l];
    for (int k = 1; k < ILP; k++)
        for (int l = 0; l < VEC; l++) part[l] += part[k * VEC + l];
    float total = 0.0f;
    for (size_t i = (size_t)vecs * VEC; i < n; i++) total += x[i];
    for (int l = 0; l < VEC; l++) total += part[l];
    return 0.0f + total;
}

float anchor_fitness_scratch(const BoxWH *wh, const double *anchors, int n_anchors, double anchor_t,
                             float *scratch)
{
    if (wh->n == 0) return 0.0f;
    float k[2 * MODEL_MAX_LEVELS * MODEL_MAX_ANCHORS];
    if (n_anchors < 1 || n_anchors > MODEL_MAX_LEVELS * MODEL_MAX_ANCHORS) return NAN;
    for (int j = 0; j < 2 * n_anchors; j++) k[j] = (float)anchors[j];
    const float thr = (float)(1.0 / anchor_t);
    size_t n_blocks = (wh->n + METRIC_BLOCK - 1) / METRIC_BLOCK;
    BestRatioFn best_ratio_block = best_ratio_kernel(-1);
    /* One call is short (~2 us per 1000 labels with AVX-512) and the GA makes
     * a thousand in a row: threads only pay off on large label sets. */
#pragma omp parallel for schedule(static) if (n_blocks >= 16)
    for (size_t b = 0; b < n_blocks; b++) {
        size_t start = b * METRIC_BLOCK;
        size_t count = start + METRIC_BLOCK < wh->n ? METRIC_BLOCK : wh->n - start;
        float *best = scratch + start;
        best_ratio_block(wh->w + start, wh->h + start, count, k, n_anchors, best);
        for (size_t i = 0; i < count; i++) best[i] = best[i] > thr ? best[i] : 0.0f;
    }
    /* (best * mask).mean(): the float32 sum in torch's order, / n in float32. */
    return torch_sum_f32(scratch, wh->n) / (float)wh->n;
}

double anchor_fitness(const BoxWH *wh, const double *anchors, int n_anchors, double anchor_t)
{
    if (wh->n == 0) return 0.0;
    float *scratch = malloc(wh->n * sizeof *scratch);
    if (!scratch) return NAN;
    float f = anchor_fitness_scratch(wh, anchors, n_anchors, anchor_t, scratch);
    free(scratch);
    return f;
}

AnchorStats anchor_stats(const BoxWH *wh, const double *anchors, int n_anchors, double anchor_t)
{
    AnchorStats st = {NAN, NAN, NAN, NAN, NAN};
    if (wh->n == 0 || n_anchors <= 0) return st;
    const double thr = 1.0 / anchor_t;
    size_t recalled = 0, above = 0;
    double sum_x = 0, sum_best = 0, sum_above = 0;
    for (size_t i = 0; i < wh->n; i++) {
        double best = 0;
        for (int j = 0; j < n_anchors; j++) {
            double rw = (double)wh->w[i] / anchors[2 * j], rh = (double)wh->h[i] / anchors[2 * j + 1];
            double iw = 1.0 / rw, ih = 1.0 / rh;
            double xw = rw < iw ? rw : iw, xh = rh < ih ? rh : ih;
            double x = xw < xh ? xw : xh;
            sum_x += x;
            if (x > thr) {
                above++;
                sum_above += x;
            }
            best = x > best ? x : best;
        }
        sum_best += best;
        recalled += best > thr;
    }
    double n = (double)wh->n;
    /* bpr and aat are float32 means in YOLOv5 (a bool tensor made .float()). */
    st.bpr = (float)((float)recalled / (float)n);
    st.aat = (float)((float)above / (float)(n * n_anchors)) * (float)n_anchors;
    st.x_mean = sum_x / (n * n_anchors);
    st.best_mean = sum_best / n;
    st.past_thr_mean = above ? sum_above / (double)above : NAN;
    return st;
}
