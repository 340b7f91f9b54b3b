/* The exact orders in which the reference sorts, ties included.
 *
 * YOLOv5's evaluation sorts with unstable sorts in three places, and the order
 * of equal keys there changes results (which of two equally scored boxes NMS
 * keeps, which detection a label is matched to, the shape of a PR curve):
 *
 *   - NMS: torch.argsort(descending=True) on CPU (PyTorch 1.13) is libstdc++'s
 *     std::sort (introsort: median-of-three pivot, unguarded partition, heap
 *     sort past 2*floor(log2 n) levels, final insertion sort with threshold 16)
 *     over (score, index) pairs. torchvision's nms then sorts again with a
 *     stable sort, which keeps that order.
 *   - process_batch, ConfusionMatrix and ap_per_class: np.argsort's default
 *     "quicksort" of NumPy 1.24 (introsort: median of three, partitions of
 *     more than 16 elements, heap sort below depth 2*floor(log2 n), insertion
 *     sort for the rest).
 *
 * Both were re-implemented from the algorithms' descriptions and checked
 * against torch 1.13 / NumPy 1.24 on tie-heavy arrays of 1 to 60000 elements
 * (scripts/gen_eval_fixtures.py keeps the parity cases). Newer NumPy releases
 * dispatch argsort to SIMD sorts on AVX-512 machines, whose tie order differs;
 * for keys without ties every order is the plain sorted one. */
#ifndef YV5_SORT_ORDER_H
#define YV5_SORT_ORDER_H

#include <stddef.h>

/* order[0..n) = torch.argsort(key, descending=True) as PyTorch 1.13 on CPU
 * returns it (NaN first, then descending; ties as libstdc++'s std::sort
 * leaves them). Returns -1 if scratch memory could not be allocated. */
int sort_order_torch_desc(const float *key, size_t n, int *order);

/* order[0..n) = np.argsort(key) (ascending, NaN last) as NumPy 1.24's default
 * introsort returns it. Never allocates. */
void sort_order_numpy(const float *key, size_t n, int *order);

#endif
