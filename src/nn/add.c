/* Residual add: y = a + b; the gradient passes unchanged to both operands. */
#include "add.h"

#include "nn/parallel_for.h"

#define ADD_PARALLEL_MIN 65536

typedef struct {
    const float *a, *b;
    float *y;
} AddCtx;

static void add_range(const void *p, long long lo, long long hi)
{
    const AddCtx *c = p;
#pragma omp simd
    for (long long i = lo; i < hi; i++) c->y[i] = c->a[i] + c->b[i];
}

void add_forward(size_t count, const float *a, const float *b, float *y)
{
    AddCtx c = {a, b, y};
    parallel_for((long long)count, count, ADD_PARALLEL_MIN, add_range, &c);
}

typedef struct {
    const float *dy;
    float *d;
} AccCtx;

static void accumulate_range(const void *p, long long lo, long long hi)
{
    const AccCtx *c = p;
#pragma omp simd
    for (long long i = lo; i < hi; i++) c->d[i] += c->dy[i];
}

void add_backward(size_t count, const float *dy, float *da, float *db)
{
    /* Two passes, so da == db (the same tensor on both sides) correctly gets 2·dy. */
    if (da) {
        AccCtx c = {dy, da};
        parallel_for((long long)count, count, ADD_PARALLEL_MIN, accumulate_range, &c);
    }
    if (db) {
        AccCtx c = {dy, db};
        parallel_for((long long)count, count, ADD_PARALLEL_MIN, accumulate_range, &c);
    }
}
