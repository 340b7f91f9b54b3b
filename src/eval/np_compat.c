#include "eval/np_compat.h"

#include <math.h>
#include <stddef.h>

void np_linspace(double start, double stop, size_t num, double *out)
{
    if (num == 0) return;
    if (num == 1) {
        out[0] = start;
        return;
    }
    double step = (stop - start) / (double)(num - 1);
    for (size_t k = 0; k < num; k++) out[k] = (double)k * step + start;
    out[num - 1] = stop;
}

enum { LIKELY_IN_CACHE_SIZE = 8 };

/* NumPy's binary_search_with_guess: the index j with arr[j] <= key < arr[j+1]
 * (-1 below, len above), trying the neighbourhood of `guess` first. */
static ptrdiff_t search_with_guess(double key, const double *arr, ptrdiff_t len, ptrdiff_t guess)
{
    ptrdiff_t imin = 0, imax = len;
    if (key > arr[len - 1]) return len;
    if (key < arr[0]) return -1;
    if (len <= 4) {
        ptrdiff_t i;
        for (i = 1; i < len && key >= arr[i]; ++i) {
        }
        return i - 1;
    }
    if (guess > len - 3) guess = len - 3;
    if (guess < 1) guess = 1;
    if (key < arr[guess]) {
        if (key < arr[guess - 1]) {
            imax = guess - 1;
            if (guess > LIKELY_IN_CACHE_SIZE && key >= arr[guess - LIKELY_IN_CACHE_SIZE])
                imin = guess - LIKELY_IN_CACHE_SIZE;
        } else {
            return guess - 1;
        }
    } else {
        if (key < arr[guess + 1]) return guess;
        if (key < arr[guess + 2]) return guess + 1;
        imin = guess + 2;
        if (guess < len - LIKELY_IN_CACHE_SIZE - 1 && key < arr[guess + LIKELY_IN_CACHE_SIZE])
            imax = guess + LIKELY_IN_CACHE_SIZE;
    }
    while (imin < imax) {
        ptrdiff_t imid = imin + ((imax - imin) >> 1);
        if (key >= arr[imid]) imin = imid + 1;
        else imax = imid;
    }
    return imin - 1;
}

void np_interp(const double *x, size_t nx, const double *xp, const double *fp, size_t n, double left,
               double right, double *out)
{
    const ptrdiff_t len = (ptrdiff_t)n;
    if (len == 1) {
        for (size_t i = 0; i < nx; i++)
            out[i] = x[i] < xp[0] ? left : x[i] > xp[0] ? right : fp[0];
        return;
    }
    ptrdiff_t j = 0;
    for (size_t i = 0; i < nx; i++) {
        const double xv = x[i];
        if (isnan(xv)) {
            out[i] = xv;
            continue;
        }
        j = search_with_guess(xv, xp, len, j);
        if (j == -1) {
            out[i] = left;
        } else if (j == len) {
            out[i] = right;
        } else if (j == len - 1 || xp[j] == xv) {
            out[i] = fp[j];
        } else {
            double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
            double y = slope * (xv - xp[j]) + fp[j];
            if (isnan(y)) { /* NumPy retries from the right end, then falls back */
                y = slope * (xv - xp[j + 1]) + fp[j + 1];
                if (isnan(y) && fp[j] == fp[j + 1]) y = fp[j];
            }
            out[i] = y;
        }
    }
}

enum { PW_BLOCKSIZE = 128 };

static double pairwise_sum(const double *a, size_t n, size_t stride)
{
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++) res += a[i * stride];
        return res;
    }
    if (n <= PW_BLOCKSIZE) {
        double r[8];
        for (int k = 0; k < 8; k++) r[k] = a[k * stride];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++) r[k] += a[(i + k) * stride];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i * stride];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2, stride) + pairwise_sum(a + n2 * stride, n - n2, stride);
}

double np_sum(const double *a, size_t n, size_t stride)
{
    /* The reduction starts from the identity 0.0. */
    return 0.0 + pairwise_sum(a, n, stride);
}

double np_mean(const double *a, size_t n, size_t stride)
{
    if (n == 0) return NAN;
    return np_sum(a, n, stride) / (double)n;
}
