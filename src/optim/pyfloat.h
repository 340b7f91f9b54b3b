/* Python's repr() of a float (shortest round-trip digits; fixed notation for
 * decimal exponents -4 < decpt <= 16, else d.ddde+XX; "1.0", "0.0005",
 * "1e-05", "inf", "nan"), for log lines that must read as YOLOv5's. */
#ifndef YV5_OPTIM_PYFLOAT_H
#define YV5_OPTIM_PYFLOAT_H

#include <stddef.h>

/* Writes repr(v) to out (truncated to cap - 1 characters; 32 always fits). */
void py_float_repr(double v, char *out, size_t cap);

#endif
