/* Shapes of the float32 NCHW buffers every layer works on.
 * A Shape never owns memory: buffers are plain float arrays owned by the
 * caller (usually carved from an Arena). */
#ifndef YV5_TENSOR_H
#define YV5_TENSOR_H

#include <stddef.h>

typedef struct {
    int n, c, h, w;
} Shape;

static inline size_t shape_numel(Shape s) { return (size_t)s.n * s.c * s.h * s.w; }
static inline size_t shape_plane(Shape s) { return (size_t)s.h * s.w; }

#endif
