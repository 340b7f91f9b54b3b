/* Residual add: y = a + b; the gradient passes unchanged to both operands. */
#include "add.h"

#define ADD_PARALLEL_MIN 65536

void add_forward(size_t count, const float *a, const float *b, float *y)
{
    const long long len = (long long)count;
#pragma omp parallel for simd schedule(static) if (count >= ADD_PARALLEL_MIN)
    for (long long i = 0; i < len; i++) y[i] = a[i] + b[i];
}

static void accumulate(long long len, const float *dy, float *d)
{
#pragma omp parallel for simd schedule(static) if (len >= ADD_PARALLEL_MIN)
    for (long long i = 0; i < len; i++) d[i] += dy[i];
}

void add_backward(size_t count, const float *dy, float *da, float *db)
{
    /* Two passes, so da == db (the same tensor on both sides) correctly gets 2·dy. */
    if (da) accumulate((long long)count, dy, da);
    if (db) accumulate((long long)count, dy, db);
}
