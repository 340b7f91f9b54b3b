/* YOLOv5's augment_hsv on an RGB image, reproducing OpenCV 4.6's 8-bit
 * colour conversions exactly (spec §5.9):
 *
 *   gains g = 1 + U(-1, 1)·(hsv_h, hsv_s, hsv_v)           (three draws, h s v)
 *   (H, S, V) = OpenCV RGB->HSV, H in [0, 180)            (integer, 12-bit tables)
 *   H' = trunc((x·g0) mod 180), S' = trunc(clip(x·g1, 0, 255)),
 *   V' = trunc(clip(x·g2, 0, 255))                        (256-entry LUTs, double)
 *   image = OpenCV HSV->RGB(H', S', V')                   (float32)
 *
 * Channel order: the image is RGB (r = byte 0, b = byte 2). YOLOv5 runs the
 * same conversions on BGR data with COLOR_BGR2HSV / COLOR_HSV2BGR, which read
 * and write the same physical colours, so the result is the same picture.
 *
 * OpenCV's HSV->RGB converts each image row in blocks of AUG_HSV_SIMD_BLOCK
 * pixels with SIMD code that truncates (and fuses 1 - s·f and 1 - s·(1 - f)
 * into FMAs) and converts the last W mod AUG_HSV_SIMD_BLOCK pixels of the row
 * with scalar code that rounds half to even (only 1 - s·f fused). Both paths
 * are reproduced, so the output equals cv2's for any width (x86-64 OpenCV 4.6
 * with AVX2 dispatch; tests/augment checks it against fixtures). */
#ifndef YV5_AUG_HSV_H
#define YV5_AUG_HSV_H

#include <stdint.h>

#include "augment/image_ops.h"
#include "core/cpu.h"
#include "core/rng.h"

#define AUG_HSV_SIMD_BLOCK 32

/* Draws the three gains (hue, saturation, value) in that order, three
 * rng_uniform_range(-1, 1) calls. The caller skips the call (no draws) when
 * all three hyp gains are 0, as YOLOv5 does. */
void aug_hsv_draw_gains(Rng *rng, double hgain, double sgain, double vgain, double gains[3]);
/* Applies augment_hsv with the given gains to img in place. */
int aug_hsv_apply(ImageU8 *img, const double gains[3], Error *e);
/* The same with the kernel capped at `isa` (ISA_GENERIC: baseline code with
 * libm fmaf; ISA_AVX2 and up: the -mfma build). Both give identical bytes;
 * the cap exists for the tests. YV5_ISA caps aug_hsv_apply too. */
int aug_hsv_apply_isa(ImageU8 *img, const double gains[3], Isa isa, Error *e);

/* Building blocks (exposed for the tests). */
void aug_rgb_to_hsv(const uint8_t rgb[3], uint8_t hsv[3]);
/* simd_path selects OpenCV's vectorised rule (truncate) or its scalar tail (round). */
void aug_hsv_to_rgb(const uint8_t hsv[3], int simd_path, uint8_t rgb[3]);
void aug_hsv_luts(const double gains[3], uint8_t lut_h[256], uint8_t lut_s[256], uint8_t lut_v[256]);

#endif
