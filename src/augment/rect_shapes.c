#include "augment/rect_shapes.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double ar;
    int index;
} ArEntry;

static int cmp_ar(const void *pa, const void *pb)
{
    const ArEntry *a = pa, *b = pb;
    if (a->ar < b->ar) return -1;
    if (a->ar > b->ar) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

int aug_rect_batch_shapes(const int *widths, const int *heights, int n, int batch_size, int img_size, int stride,
                          double pad, int *order, int *batch_hw, Error *e)
{
    if (n < 1 || batch_size < 1 || img_size < 1 || stride < 1)
        return err_set(e, "rect shapes: invalid n %d, batch %d, img_size %d or stride %d", n, batch_size, img_size,
                       stride);
    ArEntry *ent = malloc(sizeof *ent * (size_t)n);
    if (!ent) return err_set(e, "rect shapes: out of memory");
    for (int i = 0; i < n; i++) {
        if (widths[i] < 1 || heights[i] < 1) {
            free(ent);
            return err_set(e, "rect shapes: image %d has invalid size %dx%d", i, widths[i], heights[i]);
        }
        ent[i].ar = (double)heights[i] / widths[i];
        ent[i].index = i;
    }
    qsort(ent, (size_t)n, sizeof *ent, cmp_ar);
    for (int p = 0; p < n; p++) order[p] = ent[p].index;
    const int nb = aug_rect_batch_count(n, batch_size);
    for (int b = 0; b < nb; b++) {
        int lo_p = b * batch_size, hi_p = lo_p + batch_size < n ? lo_p + batch_size : n;
        double mini = ent[lo_p].ar, maxi = ent[hi_p - 1].ar; /* sorted */
        double sh = 1, sw = 1;
        if (maxi < 1) sh = maxi;
        else if (mini > 1) sw = 1 / mini;
        batch_hw[2 * b] = (int)ceil(sh * img_size / stride + pad) * stride;
        batch_hw[2 * b + 1] = (int)ceil(sw * img_size / stride + pad) * stride;
    }
    free(ent);
    return 0;
}
