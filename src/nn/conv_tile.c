/* Row-tiled im2col / col2im (see conv_tile.h). */
#include "nn/conv_tile.h"

#include <stdatomic.h>
#include <string.h>

#include "core/cpu.h"
#include "nn/conv_tile_kernels.h"

/* Target floats of one column tile: well inside the 1 MiB L2 of the machines
 * this was tuned on, with room for the GEMM's packed operands. */
#define TILE_TARGET_FLOATS 49152

static void gather2_generic(float *dst, const float *src, int count)
{
    for (int i = 0; i < count; i++) dst[i] = src[2 * i];
}

static void scatter_add2_generic(float *dst, const float *src, int count)
{
    for (int i = 0; i < count; i++) dst[2 * i] += src[i];
}

static void add_generic(float *dst, const float *src, int count)
{
    for (int i = 0; i < count; i++) dst[i] += src[i];
}

static void split2_generic(float *even, float *odd, const float *src, int count)
{
    for (int i = 0; 2 * i < count; i++) even[i] = src[2 * i];
    for (int i = 0; 2 * i + 1 < count; i++) odd[i] = src[2 * i + 1];
}

static const ConvTileKernels generic = {gather2_generic, scatter_add2_generic, add_generic, split2_generic};

/* The row kernels for this CPU; cpu_best_isa() is cached (it reads cpuid and
 * the environment: an immutable fact about the process). */
static const ConvTileKernels *row_kernels(void)
{
    static atomic_int cached = -1;
    int isa = atomic_load_explicit(&cached, memory_order_relaxed);
    if (isa < 0) {
        isa = (int)cpu_best_isa();
        atomic_store_explicit(&cached, isa, memory_order_relaxed);
    }
    return isa == ISA_AVX512 ? &conv_tile_kernels_avx512 : &generic;
}

int conv_tile_rows(const Conv2d *cv, int ho, int wo)
{
    long long k = (long long)cv->c_in * cv->k * cv->k;
    if (cv->c_out > k) k = cv->c_out; /* the output / gradient tile, too */
    if (k < 1 || wo < 1 || ho < 1) return ho > 0 ? ho : 1;
    long long rows = TILE_TARGET_FLOATS / (k * wo);
    if (rows < 1) rows = 1;
    if (rows > ho) rows = ho;
    return (int)rows;
}

/* floor(a / 2) for any sign. */
static int half_floor(int a) { return a >= 0 ? a / 2 : -((1 - a) / 2); }

/* Stride 2: each input row an output row reads is split once into its even
 * and odd columns, and the k column offsets become plain copies from those
 * (instead of k strided gathers of the same row). */
#define SPLIT_ROW_MAX 4096

static void im2col_rows_stride2(const Conv2d *cv, int h, int w, int wo, int oy0, int oy1, const float *x,
                                float *col, const ConvTileKernels *rk)
{
    const int k = cv->k, p = cv->pad, c_in = cv->c_in;
    const size_t cols = (size_t)(oy1 - oy0) * wo;
    float parts[SPLIT_ROW_MAX];
    float *even = parts, *odd = parts + (w + 1) / 2;
    for (int ci = 0; ci < c_in; ci++) {
        const float *xc = x + (size_t)ci * h * w;
        for (int kh = 0; kh < k; kh++) {
            float *rows = col + (size_t)(ci * k + kh) * k * cols;
            for (int oy = oy0; oy < oy1; oy++) {
                const int iy = 2 * oy - p + kh;
                const size_t at = (size_t)(oy - oy0) * wo;
                if (iy < 0 || iy >= h) {
                    for (int kw = 0; kw < k; kw++) memset(rows + kw * cols + at, 0, sizeof(float) * (size_t)wo);
                    continue;
                }
                rk->split2(even, odd, xc + (size_t)iy * w, w);
                for (int kw = 0; kw < k; kw++) {
                    float *dst = rows + kw * cols + at;
                    int lo, hi;
                    conv2d_valid_out_range(w, wo, 2, p, kw, &lo, &hi);
                    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
                    for (int ox = hi; ox < wo; ox++) dst[ox] = 0.0f;
                    if (lo == hi) continue;
                    /* Input column 2*ox + off: even[ox + off/2] or odd[ox + (off-1)/2]. */
                    const int off = kw - p;
                    const float *src = (off & 1) ? odd + lo + half_floor(off - 1) : even + lo + half_floor(off);
                    memcpy(dst + lo, src, sizeof(float) * (size_t)(hi - lo));
                }
            }
        }
    }
}

void im2col_rows(const Conv2d *cv, int h, int w, int wo, int oy0, int oy1, const float *x, float *col)
{
    const int k = cv->k, s = cv->stride, p = cv->pad, c_in = cv->c_in;
    const size_t cols = (size_t)(oy1 - oy0) * wo;
    const ConvTileKernels *rk = row_kernels();
    if (s == 2 && w <= SPLIT_ROW_MAX) {
        im2col_rows_stride2(cv, h, w, wo, oy0, oy1, x, col, rk);
        return;
    }
    for (int ci = 0; ci < c_in; ci++) {
        const float *xc = x + (size_t)ci * h * w;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                float *row = col + ((size_t)(ci * k + kh) * k + kw) * cols;
                int lo, hi;
                conv2d_valid_out_range(w, wo, s, p, kw, &lo, &hi);
                for (int oy = oy0; oy < oy1; oy++) {
                    float *dst = row + (size_t)(oy - oy0) * wo;
                    const int iy = oy * s - p + kh;
                    if (iy < 0 || iy >= h || lo == hi) {
                        memset(dst, 0, sizeof(float) * (size_t)wo);
                        continue;
                    }
                    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
                    for (int ox = hi; ox < wo; ox++) dst[ox] = 0.0f;
                    const float *src = xc + (size_t)iy * w + (lo * s - p + kw);
                    if (s == 1) {
                        memcpy(dst + lo, src, sizeof(float) * (size_t)(hi - lo));
                    } else if (s == 2) {
                        rk->gather2(dst + lo, src, hi - lo);
                    } else {
                        for (int ox = lo; ox < hi; ox++) dst[ox] = src[(size_t)(ox - lo) * s];
                    }
                }
            }
        }
    }
}

void col2im_rows_add(const Conv2d *cv, int h, int w, int wo, int oy0, int oy1, const float *col, float *dx)
{
    const int k = cv->k, s = cv->stride, p = cv->pad, c_in = cv->c_in;
    const size_t cols = (size_t)(oy1 - oy0) * wo;
    const ConvTileKernels *rk = row_kernels();
    for (int ci = 0; ci < c_in; ci++) {
        float *dxc = dx + (size_t)ci * h * w;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                const float *row = col + ((size_t)(ci * k + kh) * k + kw) * cols;
                int lo, hi;
                conv2d_valid_out_range(w, wo, s, p, kw, &lo, &hi);
                if (lo == hi) continue;
                for (int oy = oy0; oy < oy1; oy++) {
                    const int iy = oy * s - p + kh;
                    if (iy < 0 || iy >= h) continue;
                    const float *src = row + (size_t)(oy - oy0) * wo;
                    float *dst = dxc + (size_t)iy * w + (lo * s - p + kw);
                    if (s == 1) {
                        rk->add(dst, src + lo, hi - lo);
                    } else if (s == 2) {
                        rk->scatter_add2(dst, src + lo, hi - lo);
                    } else {
                        for (int ox = lo; ox < hi; ox++) dst[(size_t)(ox - lo) * s] += src[ox];
                    }
                }
            }
        }
    }
}
