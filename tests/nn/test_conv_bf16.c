/* Convolutions with bfloat16 products (Conv2d.precision = GEMM_BF16, the
 * --bf16 mode) against what that mode promises: the fp32 convolution of the
 * operands rounded to bf16 (gemm_round_bf16), summed in fp32.
 *
 *  - plain batched conv (Detect's): the forward against conv2d_forward on the
 *    rounded x and weight; the backward's dx and dweight against
 *    conv2d_backward on rounded x, weight and dy; dbias (an fp32 sum of dy,
 *    no product) against the unrounded fp32 one. Tolerance: float32
 *    reorderings, 2e-5 of each array's largest magnitude (as
 *    test_conv_bn_act.c).
 *  - the fused Conv -> BN -> SiLU unit: z bit-identical to the plain bf16
 *    conv (same products); every output and gradient within 2e-2 of each
 *    array's largest magnitude of the fp32 unit (bf16 keeps 8 significant
 *    bits: 2^-9 relative per operand; measured here: under 6e-3); and
 *    bit-identical for 1 and 3 threads.
 * Skipped, with the reason, on a CPU without AVX512_BF16. */
#include <omp.h>

#include "core/gemm.h"
#include "core/rng.h"
#include "nn/conv2d.h"
#include "nn/conv_bn_act.h"
#include "nn/gradcheck.h"
#include "test.h"

#define REORDER_RTOL 2e-5
#define BF16_RTOL 2e-2

static float *scratch_for(size_t floats)
{
    float *s = aligned_alloc(64, ((floats ? floats : 1) * sizeof(float) + 63) / 64 * 64);
    if (!s) exit(2);
    return s;
}

static float *rounded_copy(const float *a, size_t n)
{
    float *r = gc_floats(n);
    for (size_t i = 0; i < n; i++) r[i] = gemm_round_bf16(a[i]);
    return r;
}

typedef struct {
    Conv2d cv;
    int n, h, w;
} Shape;

static const Shape shapes[] = {
    {{16, 255, 1, 1, 0, GEMM_FP32}, 3, 10, 12}, /* Detect-like 1x1 */
    {{5, 6, 3, 1, 1, GEMM_FP32}, 3, 7, 9},      /* 3x3 same, odd k = 45 */
    {{4, 9, 3, 2, 1, GEMM_FP32}, 1, 9, 8},      /* stride 2, batch 1 */
    {{3, 8, 6, 2, 2, GEMM_FP32}, 2, 18, 14},    /* the stem */
    {{8, 16, 3, 1, 1, GEMM_FP32}, 2, 40, 44},   /* several row tiles */
    {{64, 40, 3, 1, 1, GEMM_FP32}, 2, 12, 10},  /* k = 576: two k blocks */
};
#define SHAPE_COUNT ((int)(sizeof shapes / sizeof shapes[0]))

typedef struct {
    int n, h, w, ho, wo;
    size_t nx, nw, ny, nc;
    float *x, *wt, *b, *dy;
} Data;

static Data data_new(const Conv2d *cv, int n, int h, int w, uint64_t seed)
{
    Data d;
    d.n = n, d.h = h, d.w = w;
    d.ho = conv2d_out_dim(h, cv->k, cv->stride, cv->pad);
    d.wo = conv2d_out_dim(w, cv->k, cv->stride, cv->pad);
    d.nx = (size_t)n * cv->c_in * h * w;
    d.nw = (size_t)cv->c_out * cv->c_in * cv->k * cv->k;
    d.ny = (size_t)n * cv->c_out * d.ho * d.wo;
    d.nc = (size_t)cv->c_out;
    Rng r;
    rng_seed(&r, seed);
    d.x = gc_floats(d.nx), d.wt = gc_floats(d.nw), d.b = gc_floats(d.nc), d.dy = gc_floats(d.ny);
    gc_fill_normal(&r, d.x, d.nx, 0.3, 1.0);
    gc_fill_uniform(&r, d.wt, d.nw, -0.5, 0.5);
    gc_fill_uniform(&r, d.b, d.nc, -0.5, 0.5);
    gc_fill_normal(&r, d.dy, d.ny, 0.0, 1.0);
    return d;
}

static void data_free(Data *d) { free(d->x), free(d->wt), free(d->b), free(d->dy); }

static void plain_conv_is_fp32_of_rounded_operands(void)
{
    for (int s = 0; s < SHAPE_COUNT; s++) {
        Conv2d ref = shapes[s].cv, bf = ref;
        bf.precision = GEMM_BF16;
        Data d = data_new(&ref, shapes[s].n, shapes[s].h, shapes[s].w, 700 + s);
        float *xr = rounded_copy(d.x, d.nx), *wr = rounded_copy(d.wt, d.nw), *dyr = rounded_copy(d.dy, d.ny);
        float *y = gc_floats(d.ny), *want = gc_floats(d.ny);
        float *dx[2], *dw[2], *db[3];
        for (int k = 0; k < 2; k++) {
            dx[k] = gc_floats(d.nx), dw[k] = gc_floats(d.nw);
            gc_prefill(dx[k], d.nx), gc_prefill(dw[k], d.nw);
        }
        for (int k = 0; k < 3; k++) db[k] = gc_floats(d.nc), gc_prefill(db[k], d.nc);
        float *unused_dx = gc_floats(d.nx), *unused_dw = gc_floats(d.nw);
        size_t fs = conv2d_scratch_floats(&ref, d.n, d.h, d.w) +
                    conv2d_batched_forward_scratch_floats(&bf, d.n, d.h, d.w);
        size_t bs = conv2d_batched_backward_scratch_floats(&bf, d.n, d.h, d.w);
        float *scratch = scratch_for(fs > bs ? fs : bs);
        conv2d_forward(&ref, d.n, d.h, d.w, xr, wr, d.b, want, scratch);
        conv2d_backward(&ref, d.n, d.h, d.w, xr, wr, dyr, dx[0], dw[0], db[0], scratch);
        conv2d_backward(&ref, d.n, d.h, d.w, d.x, d.wt, d.dy, unused_dx, unused_dw, db[1], scratch);
        conv2d_forward_batched(&bf, d.n, d.h, d.w, d.x, d.wt, d.b, y, scratch);
        conv2d_backward_batched(&bf, d.n, d.h, d.w, d.x, d.wt, d.dy, dx[1], dw[1], db[2], scratch);
        char what[64];
        snprintf(what, sizeof what, "shape %d forward", s);
        CHECK(gc_close_scaled(what, y, want, d.ny, REORDER_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dx", s);
        CHECK(gc_close_scaled(what, dx[1], dx[0], d.nx, REORDER_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dweight", s);
        CHECK(gc_close_scaled(what, dw[1], dw[0], d.nw, REORDER_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dbias (fp32 sum)", s);
        CHECK(gc_close_scaled(what, db[2], db[1], d.nc, REORDER_RTOL), "%s", what);
        /* and the rounding is visible: the unrounded fp32 forward differs */
        float *y32 = gc_floats(d.ny);
        conv2d_forward(&ref, d.n, d.h, d.w, d.x, d.wt, d.b, y32, scratch);
        CHECK(!gc_bitwise_equal(y, y32, d.ny), "shape %d: bf16 forward equals the fp32 one", s);
        free(y32);
        for (int k = 0; k < 2; k++) free(dx[k]), free(dw[k]);
        for (int k = 0; k < 3; k++) free(db[k]);
        free(unused_dx), free(unused_dw), free(xr), free(wr), free(dyr), free(y), free(want), free(scratch);
        data_free(&d);
    }
}

typedef struct {
    float *z, *y, *mean, *invstd, *affine, *rm, *rv, *da, *dx, *dw, *dgamma, *dbeta;
} Fused;

static Fused run_fused(const ConvBnAct *u, const Data *d, const float *gamma)
{
    Fused f;
    f.z = gc_floats(d->ny), f.y = gc_floats(d->ny), f.da = gc_floats(d->ny);
    f.mean = gc_floats(d->nc), f.invstd = gc_floats(d->nc), f.affine = gc_floats(2 * d->nc);
    f.rm = gc_floats(d->nc), f.rv = gc_floats(d->nc), f.dgamma = gc_floats(d->nc), f.dbeta = gc_floats(d->nc);
    f.dx = gc_floats(d->nx), f.dw = gc_floats(d->nw);
    for (size_t i = 0; i < d->nc; i++) f.rm[i] = 0, f.rv[i] = 1;
    memset(f.dx, 0, d->nx * sizeof(float)), memset(f.dw, 0, d->nw * sizeof(float));
    memset(f.dgamma, 0, d->nc * sizeof(float)), memset(f.dbeta, 0, d->nc * sizeof(float));
    memcpy(f.da, d->dy, d->ny * sizeof(float));
    size_t fs = conv_bn_act_forward_scratch_floats(u, d->n, d->h, d->w, 1);
    size_t bs = conv_bn_act_backward_scratch_floats(u, d->n, d->h, d->w);
    float *scratch = scratch_for(fs > bs ? fs : bs);
    conv_bn_act_forward_train(u, d->n, d->h, d->w, d->x, d->wt, gamma, d->b, f.rm, f.rv, f.z, f.y, f.mean, f.invstd,
                              f.affine, scratch);
    conv_bn_act_backward(u, d->n, d->h, d->w, d->x, d->wt, gamma, d->b, f.z, f.mean, f.invstd, f.affine, f.da, f.dx,
                         f.dw, f.dgamma, f.dbeta, scratch);
    free(scratch);
    return f;
}

static void fused_free(Fused *f)
{
    free(f->z), free(f->y), free(f->mean), free(f->invstd), free(f->affine), free(f->rm), free(f->rv);
    free(f->da), free(f->dx), free(f->dw), free(f->dgamma), free(f->dbeta);
}

static void fused_unit_stays_near_fp32(void)
{
    const int saved = omp_get_max_threads();
    double worst = 0;
    for (int s = 0; s < SHAPE_COUNT; s++) {
        Conv2d cv = shapes[s].cv;
        Data d = data_new(&cv, shapes[s].n, shapes[s].h, shapes[s].w, 800 + s);
        float *gamma = gc_floats(d.nc);
        for (size_t i = 0; i < d.nc; i++) gamma[i] = 0.5f + 0.1f * (float)(i % 10);
        const ConvBnAct u32 = {cv, 1, 1e-3f, 0.03f, NULL};
        ConvBnAct u16 = u32;
        u16.conv.precision = GEMM_BF16;
        omp_set_num_threads(1);
        Fused a = run_fused(&u32, &d, gamma), b = run_fused(&u16, &d, gamma);
        omp_set_num_threads(3);
        Fused c = run_fused(&u16, &d, gamma);
        omp_set_num_threads(saved);

        /* z is the plain bf16 conv (no bias) */
        float *plain = gc_floats(d.ny);
        float *scratch = scratch_for(conv2d_batched_forward_scratch_floats(&u16.conv, d.n, d.h, d.w));
        conv2d_forward_batched(&u16.conv, d.n, d.h, d.w, d.x, d.wt, NULL, plain, scratch);
        CHECK(gc_bitwise_equal(b.z, plain, d.ny), "shape %d: fused z differs from the plain bf16 conv", s);
        free(plain), free(scratch);

        const struct {
            const char *name;
            const float *got, *want;
            size_t n;
        } arrays[] = {{"z", b.z, a.z, d.ny},         {"y", b.y, a.y, d.ny},
                      {"mean", b.mean, a.mean, d.nc}, {"dx", b.dx, a.dx, d.nx},
                      {"dweight", b.dw, a.dw, d.nw},  {"dgamma", b.dgamma, a.dgamma, d.nc},
                      {"dbeta", b.dbeta, a.dbeta, d.nc}};
        for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) {
            char what[64];
            snprintf(what, sizeof what, "shape %d %s", s, arrays[k].name);
            CHECK(gc_close_scaled(what, arrays[k].got, arrays[k].want, arrays[k].n, BF16_RTOL), "%s", what);
            const double scale = gc_max_abs_f(arrays[k].want, arrays[k].n);
            for (size_t i = 0; i < arrays[k].n; i++) {
                const double rel = fabs((double)arrays[k].got[i] - arrays[k].want[i]) / (scale > 0 ? scale : 1);
                if (rel > worst) worst = rel;
            }
        }
        CHECK(gc_bitwise_equal(b.y, c.y, d.ny) && gc_bitwise_equal(b.dx, c.dx, d.nx) &&
                  gc_bitwise_equal(b.dw, c.dw, d.nw) && gc_bitwise_equal(b.dgamma, c.dgamma, d.nc),
              "shape %d: bf16 results depend on the thread count", s);
        fused_free(&a), fused_free(&b), fused_free(&c);
        free(gamma);
        data_free(&d);
    }
    printf("    largest bf16 deviation from fp32: %.2e of the array's scale\n", worst);
}

int main(int argc, char **argv)
{
    if (!gemm_bf16_available()) {
        printf("test_conv_bf16: skipped: this CPU has no AVX512_BF16 (or YV5_ISA caps below avx512)\nRESULT 0 0\n");
        return 0;
    }
    static const TestCase all[] = {TEST_ENTRY(plain_conv_is_fp32_of_rounded_operands),
                                   TEST_ENTRY(fused_unit_stays_near_fp32)};
    return test_run_all(all, (int)(sizeof all / sizeof all[0]), argc, argv);
}
