/* repr(float) as CPython formats it: the shortest digit string that reads
 * back as the same double, placed in fixed or exponent notation by its
 * decimal-point position. */
#include "optim/pyfloat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest correctly rounded digits of |v| > 0: digits[] (no dot) and decpt,
 * the position of the decimal point (value = 0.DIGITS x 10^decpt). */
static void shortest_digits(double v, char digits[24], int *decpt)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v || prec == 17) break;
    }
    /* buf = "d.ddde[+-]XX" */
    char *e = strchr(buf, 'e');
    int exp10 = atoi(e + 1);
    int n = 0;
    for (char *c = buf; c < e; c++)
        if (*c >= '0' && *c <= '9') digits[n++] = *c;
    while (n > 1 && digits[n - 1] == '0') n--; /* %.Ne pads; repr does not */
    digits[n] = '\0';
    *decpt = exp10 + 1;
}

void py_float_repr(double v, char *out, size_t cap)
{
    char tmp[64];
    if (cap == 0) return;
    if (isnan(v)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, "%sinf", v < 0 ? "-" : "");
        return;
    }
    const char *sign = signbit(v) ? "-" : "";
    if (v == 0.0) {
        snprintf(out, cap, "%s0.0", sign);
        return;
    }
    char d[24];
    int decpt;
    shortest_digits(fabs(v), d, &decpt);
    int n = (int)strlen(d);
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            snprintf(tmp, sizeof tmp, "%s0.%0*d%s", sign, -decpt, 0, d);
            if (decpt == 0) snprintf(tmp, sizeof tmp, "%s0.%s", sign, d);
        } else if (decpt < n) {
            snprintf(tmp, sizeof tmp, "%s%.*s.%s", sign, decpt, d, d + decpt);
        } else {
            snprintf(tmp, sizeof tmp, "%s%s%0*d.0", sign, d, decpt - n, 0);
            if (decpt == n) snprintf(tmp, sizeof tmp, "%s%s.0", sign, d);
        }
    } else {
        int x = decpt - 1;
        snprintf(tmp, sizeof tmp, "%s%c%s%s%se%c%02d", sign, d[0], n > 1 ? "." : "", d + 1, "",
                 x < 0 ? '-' : '+', x < 0 ? -x : x);
    }
    snprintf(out, cap, "%s", tmp);
}
