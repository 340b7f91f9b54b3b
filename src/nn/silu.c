/* SiLU forward/backward over flat arrays; the sigmoid is silu_math.h's. */
#include "silu.h"

#include "nn/parallel_for.h"
#include "silu_math.h"

#define SILU_PARALLEL_MIN 65536

typedef struct {
    const float *x, *dy;
    float *out;
} SiluCtx;

static void forward_range(const void *p, long long lo, long long hi)
{
    const SiluCtx *c = p;
    const float *x = c->x;
    float *y = c->out;
#pragma omp simd
    for (long long i = lo; i < hi; i++) {
        const float v = x[i];
        y[i] = v * silu_sigmoid(v);
    }
}

static void backward_range(const void *p, long long lo, long long hi)
{
    const SiluCtx *c = p;
    const float *x = c->x, *dy = c->dy;
    float *dx = c->out;
#pragma omp simd
    for (long long i = lo; i < hi; i++) {
        const float v = x[i];
        const float s = silu_sigmoid(v);
        dx[i] += dy[i] * s * (1.0f + v * (1.0f - s));
    }
}

void silu_forward(size_t count, const float *x, float *y)
{
    SiluCtx c = {x, NULL, y};
    parallel_for((long long)count, count, SILU_PARALLEL_MIN, forward_range, &c);
}

void silu_backward(size_t count, const float *x, const float *dy, float *dx)
{
    SiluCtx c = {x, dy, dx};
    parallel_for((long long)count, count, SILU_PARALLEL_MIN, backward_range, &c);
}
