/* The few NumPy primitives the mAP computation is built from, reproduced
 * with NumPy 1.24's arithmetic order so results match to the last bit:
 * linspace, interp, add.reduce (pairwise summation), mean. */
#ifndef YV5_NP_COMPAT_H
#define YV5_NP_COMPAT_H

#include <stddef.h>

/* np.linspace(start, stop, num): start + k*step with step = (stop-start)/(num-1),
 * the last element set to stop exactly. */
void np_linspace(double start, double stop, size_t num, double *out);

/* np.interp(x, xp, fp, left, right) over nx points, as NumPy 1.24's C loop:
 * for xp non-decreasing (duplicates allowed): below xp[0] -> left, above
 * xp[n-1] -> right; otherwise with j the largest index with xp[j] <= x: fp[j]
 * if j is last or xp[j] == x, else slope*(x - xp[j]) + fp[j],
 * slope = (fp[j+1]-fp[j])/(xp[j+1]-xp[j]). The index search is NumPy's
 * (linear for n <= 4, else around the previous point's index, then
 * bisection), so even an xp that is not sorted gives NumPy's answer.
 * NaN x gives NaN. n >= 1. */
void np_interp(const double *x, size_t nx, const double *xp, const double *fp, size_t n, double left,
               double right, double *out);

/* np.add.reduce of a strided double array: NumPy's pairwise summation
 * (8 interleaved partial sums per block of up to 128, halves above that). */
double np_sum(const double *a, size_t n, size_t stride);
/* np.mean: np_sum / n (NaN for n == 0, as NumPy warns and returns). */
double np_mean(const double *a, size_t n, size_t stride);

#endif
