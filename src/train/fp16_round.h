/* IEEE binary16 rounding of float32 values, as torch's `.half()` converts:
 * round to nearest, ties to even, overflow to infinity, subnormals kept, NaN
 * stays NaN. train.py rounds the whole training model once at start
 * (`model.half().float()`, spec §2.8 side effect 2, §4.1 step 12); this is
 * that pass on our flat blocks. */
#ifndef YV5_TRAIN_FP16_ROUND_H
#define YV5_TRAIN_FP16_ROUND_H

#include <stddef.h>
#include <stdint.h>

/* The binary16 bit pattern nearest to f (ties to even). */
uint16_t f32_to_f16_bits(float f);
/* f rounded to the nearest binary16 value, as a float. */
float f32_round_to_f16(float f);
/* Rounds n floats in place. */
void round_array_to_f16(float *x, size_t n);

#endif
