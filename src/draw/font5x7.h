/* A built-in 5x7 bitmap font for printable ASCII (32..126), drawn for this
 * project. Each glyph is 7 rows, top first; bit 4 of a row is the leftmost
 * column. Characters outside the range draw as '?'. */
#ifndef YV5_FONT5X7_H
#define YV5_FONT5X7_H

#include <stdint.h>

enum { FONT5X7_W = 5, FONT5X7_H = 7, FONT5X7_ADVANCE = 6 };

/* The 7 row bitmasks of character c. */
const uint8_t *font5x7_glyph(unsigned char c);

#endif
