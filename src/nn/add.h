/* Residual add y = a + b and its backward. */
#ifndef YV5_ADD_H
#define YV5_ADD_H

#include <stddef.h>

/* y may alias a or b. */
void add_forward(size_t count, const float *a, const float *b, float *y);
/* da += dy; db += dy (each skipped when NULL). */
void add_backward(size_t count, const float *dy, float *da, float *db);

#endif
