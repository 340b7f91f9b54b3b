/* MaxPool2d: forward values and arg-max against a float64 reference, gradients
 * against central finite differences on tie-free inputs (odd shapes, several
 * kernel/stride/padding combinations), and PyTorch's rules by hand: the first
 * maximum wins a tie, the last NaN in a window wins, padding is never chosen.
 *
 * Tolerances: the forward selects input values, so it must match exactly. The
 * loss is piecewise linear; with a tie-free input whose values are >= 0.05 apart
 * and an FD step of 1e-3 no perturbation changes an arg-max, so the central
 * difference is exact up to double rounding and the gradient (a sum of a few dy
 * values in float) must agree to 1e-6 of the largest gradient. */
#include "core/rng.h"
#include "nn/gradcheck.h"
#include "nn/maxpool.h"
#include "test.h"

/* ---- float64 reference (plain scan, PyTorch's rule) ---- */

static void pool_ref(const MaxPool2d *p, int planes, int h, int w, const double *x, double *y,
                     int32_t *argmax)
{
    const int ho = maxpool2d_out_dim(p, h), wo = maxpool2d_out_dim(p, w);
    for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double best = -INFINITY;
                int32_t idx = -1;
                for (int ky = 0; ky < p->k; ky++)
                    for (int kx = 0; kx < p->k; kx++) {
                        int iy = oy * p->stride - p->pad + ky, ix = ox * p->stride - p->pad + kx;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        double v = x[((size_t)pl * h + iy) * w + ix];
                        int32_t here = iy * w + ix;
                        if (idx < 0) idx = here; /* start at the first in-image element */
                        if (v > best || isnan(v)) {
                            best = v;
                            idx = here;
                        }
                    }
                size_t o = ((size_t)pl * ho + oy) * wo + ox;
                y[o] = best;
                if (argmax) argmax[o] = idx;
            }
}

typedef struct {
    const MaxPool2d *p;
    int planes, h, w;
    double *x, *r, *y;
} PoolLossCtx;

static double pool_loss(void *ctx)
{
    PoolLossCtx *c = ctx;
    pool_ref(c->p, c->planes, c->h, c->w, c->x, c->y, NULL);
    size_t ny = (size_t)c->planes * maxpool2d_out_dim(c->p, c->h) * maxpool2d_out_dim(c->p, c->w);
    return gc_dot(c->y, c->r, ny);
}

/* Distinct values 0.05 apart in random order (with negatives), so no window has a tie. */
static void fill_tie_free(Rng *rng, float *x, size_t count)
{
    int *order = malloc(sizeof(int) * count);
    for (size_t i = 0; i < count; i++) order[i] = (int)i;
    rng_shuffle(rng, order, (int)count);
    for (size_t i = 0; i < count; i++) x[i] = (float)(0.05 * (order[i] - (double)count / 2));
    free(order);
}

static void check_pool_fd(MaxPool2d p, int planes, int h, int w, uint64_t seed)
{
    char label[96], what[160];
    snprintf(label, sizeof label, "k%d s%d p%d planes %d %dx%d", p.k, p.stride, p.pad, planes, h, w);
    const int ho = maxpool2d_out_dim(&p, h), wo = maxpool2d_out_dim(&p, w);
    const size_t nx = (size_t)planes * h * w, ny = (size_t)planes * ho * wo;
    Rng rng;
    rng_seed(&rng, seed);
    float *x = gc_floats(nx), *y = gc_floats(ny), *r = gc_floats(ny), *dx = gc_floats(nx);
    int32_t *am = malloc(sizeof(int32_t) * ny), *am_ref = malloc(sizeof(int32_t) * ny);
    fill_tie_free(&rng, x, nx);
    gc_fill_normal(&rng, r, ny, 0, 1);
    maxpool2d_forward(&p, planes, h, w, x, y, am);
    gc_prefill(dx, nx);
    maxpool2d_backward(&p, planes, h, w, am, r, dx);

    double *xd = gc_to_double(x, nx), *rd = gc_to_double(r, ny), *yd = gc_doubles(ny);
    pool_ref(&p, planes, h, w, xd, yd, am_ref);
    snprintf(what, sizeof what, "%s forward", label);
    CHECK_CLOSE_TO_DOUBLE(what, y, yd, NULL, ny, 0.0, 0.0);
    CHECK(memcmp(am, am_ref, sizeof(int32_t) * ny) == 0, "%s: arg-max differs", label);

    PoolLossCtx ctx = {&p, planes, h, w, xd, rd, yd};
    double *num = gc_doubles(nx);
    gc_numeric_grad(pool_loss, &ctx, xd, nx, 1e-3, num);
    snprintf(what, sizeof what, "%s dx", label);
    CHECK_GRAD(what, dx, num, nx, 1e-6);
    free(x), free(y), free(r), free(dx), free(am), free(am_ref), free(xd), free(rd), free(yd);
    free(num);
}

/* ---- tests ---- */

static void out_dim_floor_mode(void)
{
    MaxPool2d sppf = {5, 1, 2}, s2 = {3, 2, 1}, k2 = {2, 2, 0};
    CHECK(maxpool2d_out_dim(&sppf, 20) == 20, "SPPF keeps the size");
    CHECK(maxpool2d_out_dim(&sppf, 7) == 7, "SPPF 7");
    CHECK(maxpool2d_out_dim(&s2, 7) == 4, "k3 s2 p1 on 7");
    CHECK(maxpool2d_out_dim(&s2, 6) == 3, "k3 s2 p1 on 6");
    CHECK(maxpool2d_out_dim(&k2, 7) == 3, "k2 s2 on 7 drops the last row (floor)");
    CHECK(maxpool2d_out_dim(&k2, 1) == 0, "k2 on 1: empty");
}

static void grad_sppf_k5_s1_p2(void)
{
    MaxPool2d p = {5, 1, 2};
    check_pool_fd(p, 15, 7, 9, 41);
    check_pool_fd(p, 17, 5, 6, 42);
    check_pool_fd(p, 3, 2, 3, 43); /* smaller than the kernel */
}

static void grad_strided(void)
{
    check_pool_fd((MaxPool2d){3, 2, 1}, 15, 7, 9, 44);
    check_pool_fd((MaxPool2d){3, 2, 1}, 17, 5, 6, 45);
    check_pool_fd((MaxPool2d){2, 2, 0}, 3, 7, 9, 46);
    check_pool_fd((MaxPool2d){3, 3, 1}, 5, 7, 9, 47);
    check_pool_fd((MaxPool2d){3, 1, 0}, 5, 5, 6, 48);
}

/* A plateau, worked out by hand (and confirmed with torch 1.13): with k3 s1 p1
 *     1 2 2 0
 *     2 2 1 0
 *     0 0 0 0
 * every window touching (0,1) takes it, the first 2 in scan order, although
 * (0,2), (1,0) and (1,1) also hold 2. */
static void tie_routes_to_first_max(void)
{
    const float x[12] = {1, 2, 2, 0, 2, 2, 1, 0, 0, 0, 0, 0};
    const int32_t want_idx[12] = {1, 1, 1, 2, 1, 1, 1, 2, 4, 4, 5, 6};
    const float want_y[12] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1};
    /* dy = 1 everywhere: each input receives the number of windows that chose it. */
    const float want_dx[12] = {0, 6, 2, 0, 2, 1, 1, 0, 0, 0, 0, 0};
    MaxPool2d p = {3, 1, 1};
    float y[12], dy[12], dx[12];
    int32_t idx[12];
    maxpool2d_forward(&p, 1, 3, 4, x, y, idx);
    for (int i = 0; i < 12; i++) dy[i] = 1, dx[i] = 0;
    maxpool2d_backward(&p, 1, 3, 4, idx, dy, dx);
    for (int i = 0; i < 12; i++) {
        CHECK(idx[i] == want_idx[i], "output %d: arg-max %d, want %d", i, idx[i], want_idx[i]);
        CHECK(y[i] == want_y[i], "output %d: y %g, want %g", i, y[i], want_y[i]);
        CHECK(dx[i] == want_dx[i], "input %d: dx %g, want %g", i, dx[i], want_dx[i]);
    }
    /* k2 s2 floor mode over the same plateau: windows {1,2,2,2} and {2,0,1,0}. */
    MaxPool2d q = {2, 2, 0};
    maxpool2d_forward(&q, 1, 3, 4, x, y, idx);
    CHECK(idx[0] == 1 && idx[1] == 2, "k2 s2: arg-max %d %d, want 1 2", idx[0], idx[1]);
}

/* SPPF's chain of three k5 pools on a plateau-rich integer input (values 0..5).
 * Expected arg-maxes and the input gradient of Σ b·wb + Σ c·wc + Σ d·wd (SPPF
 * feeds all three pool outputs onward) are torch 1.13's, from max_pool2d with
 * return_indices and autograd; wb = i%5+1, wc = i%7+1, wd = i%3+1 by flat index. */
static void sppf_chain_matches_torch(void)
{
    enum { H = 8, W = 9, N = H * W };
    static const float x[N] = {
        3, 4, 1, 2, 1, 3, 5, 5, 4, 5, 4, 1, 2, 3, 2, 4, 0, 4, 3, 0, 0, 4, 5, 3, 4, 2, 5,
        1, 0, 2, 3, 4, 0, 1, 1, 0, 0, 5, 5, 2, 1, 5, 0, 2, 2, 1, 4, 2, 2, 4, 3, 5, 5, 3,
        0, 3, 2, 1, 4, 0, 4, 3, 5, 2, 2, 0, 1, 5, 2, 5, 5, 2};
    static const int32_t want_b[N] = {
        9,  9,  9,  22, 6,  6,  6,  6,  6,  9,  9,  9,  22, 6,  6,  6,  6,  6,
        9,  9,  9,  22, 6,  6,  6,  6,  6,  9,  9,  9,  22, 22, 22, 22, 26, 26,
        37, 37, 22, 22, 22, 22, 22, 26, 26, 37, 37, 37, 37, 38, 41, 41, 41, 51,
        37, 37, 37, 37, 38, 41, 41, 41, 51, 46, 46, 67, 67, 51, 51, 51, 51, 51};
    /* b is 5 almost everywhere, so the next pools take each window's first element. */
    static const int32_t want_cd[N] = {
        0,  0,  0,  1,  2,  3,  4,  5,  6,  0,  0,  0,  1,  2,  3,  4,  5,  6,
        0,  0,  0,  1,  2,  3,  4,  5,  6,  9,  9,  9,  10, 11, 12, 13, 14, 15,
        18, 18, 18, 19, 20, 21, 22, 23, 24, 27, 27, 27, 28, 29, 30, 31, 32, 33,
        36, 36, 36, 37, 38, 39, 40, 41, 42, 45, 45, 45, 46, 47, 48, 49, 50, 51};
    static const float want_dx[N] = {
        0, 0,  0,  0, 0,   0, 120, 0, 0,  261, 0, 0, 0, 0, 0,  0,  0, 0,
        0, 0,  0,  0, 114, 0, 0,   0, 15, 0,   0, 0, 0, 0, 0,  0,  0, 0,
        0, 63, 16, 0, 0,   17, 0,  0, 0,  0,   9, 0, 0, 0, 0,  22, 0, 0,
        0, 0,  0,  0, 0,   0, 0,   0, 0,  0,   0, 0, 0, 3, 0,  0,  0, 0};
    MaxPool2d p = {5, 1, 2};
    float b[N], c[N], d[N], wb[N], wc[N], wd[N], db[N], dc[N], dx[N];
    int32_t ib[N], ic[N], id[N];
    maxpool2d_forward(&p, 1, H, W, x, b, ib);
    maxpool2d_forward(&p, 1, H, W, b, c, ic);
    maxpool2d_forward(&p, 1, H, W, c, d, id);
    for (int i = 0; i < N; i++) {
        CHECK(ib[i] == want_b[i], "pool 1 output %d: %d, want %d", i, ib[i], want_b[i]);
        CHECK(ic[i] == want_cd[i], "pool 2 output %d: %d, want %d", i, ic[i], want_cd[i]);
        CHECK(id[i] == want_cd[i], "pool 3 output %d: %d, want %d", i, id[i], want_cd[i]);
        wb[i] = (float)(i % 5 + 1), wc[i] = (float)(i % 7 + 1), wd[i] = (float)(i % 3 + 1);
    }
    /* Backward through the chain, fan-out accumulating as the model does it. */
    memcpy(dc, wc, sizeof dc);
    maxpool2d_backward(&p, 1, H, W, id, wd, dc);
    memcpy(db, wb, sizeof db);
    maxpool2d_backward(&p, 1, H, W, ic, dc, db);
    memset(dx, 0, sizeof dx);
    maxpool2d_backward(&p, 1, H, W, ib, db, dx);
    CHECK_ARRAYS_CLOSE("SPPF chain dx", dx, want_dx, N, 0, 0);
}

/* NaN rule (confirmed with torch 1.13): a NaN replaces the running maximum and
 * any later NaN replaces it again, so the output is NaN at the last NaN. */
static void nan_rule(void)
{
    const float nan = NAN;
    const float x[9] = {1, nan, 3, nan, 0, 5, 1, 2, 3};
    const int32_t want_idx[9] = {3, 3, 1, 3, 3, 1, 3, 3, 5};
    MaxPool2d p = {3, 1, 1};
    float y[9], dy[9], dx[9];
    int32_t idx[9];
    maxpool2d_forward(&p, 1, 3, 3, x, y, idx);
    for (int i = 0; i < 9; i++) {
        CHECK(idx[i] == want_idx[i], "output %d: arg-max %d, want %d", i, idx[i], want_idx[i]);
        if (i == 8) CHECK(y[i] == 5.0f, "output 8 has no NaN in its window: %g", y[i]);
        else CHECK(isnan(y[i]), "output %d: %g, want NaN", i, y[i]);
        dy[i] = (float)(i + 1), dx[i] = 0;
    }
    maxpool2d_backward(&p, 1, 3, 3, idx, dy, dx);
    /* outputs 0,1,3,4,6,7 -> input 3 (1+2+4+5+7+8 = 27); 2,5 -> input 1 (3+6); 8 -> input 5. */
    CHECK(dx[3] == 27 && dx[1] == 9 && dx[5] == 9, "dx %g %g %g", dx[3], dx[1], dx[5]);
}

/* Padding acts as -inf and is never selected: an all -inf window reports -inf
 * at its first in-image element (torch 1.13 gives the same indices). */
static void padding_never_selected(void)
{
    const float ninf = -INFINITY;
    const float x[9] = {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf};
    const int32_t want_idx[9] = {0, 0, 1, 0, 0, 1, 3, 3, 4};
    MaxPool2d p = {3, 1, 1};
    float y[9];
    int32_t idx[9];
    maxpool2d_forward(&p, 1, 3, 3, x, y, idx);
    for (int i = 0; i < 9; i++) {
        CHECK(idx[i] == want_idx[i], "output %d: arg-max %d, want %d", i, idx[i], want_idx[i]);
        CHECK(y[i] == ninf, "output %d: %g", i, y[i]);
    }
    /* Negative values at the border: padding (as -inf) still loses to them. */
    const float neg[4] = {-5, -7, -6, -8};
    float y2[4];
    int32_t idx2[4];
    maxpool2d_forward(&(MaxPool2d){3, 2, 1}, 1, 2, 2, neg, y2, idx2);
    CHECK(y2[0] == -5 && idx2[0] == 0, "negative border: y %g idx %d", y2[0], idx2[0]);
}

/* Backward accumulates into dx and only touches each plane's own elements. */
static void backward_accumulates(void)
{
    MaxPool2d p = {5, 1, 2};
    enum { PLANES = 17, H = 5, W = 6, N = PLANES * H * W };
    Rng rng;
    rng_seed(&rng, 49);
    float x[N], y[N], dy[N], dx1[N], dx2[N];
    int32_t idx[N];
    fill_tie_free(&rng, x, N);
    gc_fill_normal(&rng, dy, N, 0, 1);
    maxpool2d_forward(&p, PLANES, H, W, x, y, idx);
    memset(dx1, 0, sizeof dx1);
    maxpool2d_backward(&p, PLANES, H, W, idx, dy, dx1);
    gc_prefill(dx2, N);
    maxpool2d_backward(&p, PLANES, H, W, idx, dy, dx2);
    double total1 = 0, total_dy = 0;
    int ok = 1;
    for (int i = 0; i < N; i++) {
        ok &= fabsf(dx2[i] - gc_prefill_value((size_t)i) - dx1[i]) <= 1e-6f * (1 + fabsf(dx1[i]));
        total1 += dx1[i];
        total_dy += dy[i];
    }
    CHECK(ok, "prefilled dx != prefill + gradient");
    CHECK_CLOSE(total1, total_dy, 1e-4, 1e-6); /* every dy lands somewhere, once */
}

TEST_MAIN(TEST_ENTRY(out_dim_floor_mode), TEST_ENTRY(grad_sppf_k5_s1_p2), TEST_ENTRY(grad_strided),
          TEST_ENTRY(tie_routes_to_first_max), TEST_ENTRY(sppf_chain_matches_torch),
          TEST_ENTRY(nan_rule), TEST_ENTRY(padding_never_selected),
          TEST_ENTRY(backward_accumulates))
