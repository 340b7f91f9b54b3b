/* train.py --multi-scale (spec §4.8): each batch is resized to a random size
 * between 0.5x and 1.5x the training size, in steps of the grid size gs:
 *
 *     sz = floor(randrange(imgsz * 0.5, imgsz * 1.5 + gs) / gs) * gs
 *     sf = sz / max(H, W)
 *     if sf != 1: new H, W = ceil(H * sf / gs) * gs, ceil(W * sf / gs) * gs
 *     images = F.interpolate(images, (new H, new W), mode='bilinear', align_corners=False)
 *
 * Targets are normalised, so they do not change. The resize reproduces
 * PyTorch 1.13's CPU bilinear kernel bit for bit (its source-index and
 * weight formulas and its float order of operations). */
#ifndef YV5_TRAIN_MULTISCALE_H
#define YV5_TRAIN_MULTISCALE_H

#include "core/rng.h"

/* The random size sz (one uniform integer draw from rng). */
int multiscale_draw_size(int imgsz, int gs, Rng *rng);
/* Largest size multiscale_draw_size can return. */
int multiscale_max_size(int imgsz, int gs);
/* Output size for an h x w batch and size sz; returns 0 when sf == 1 (no
 * resize; *out_h, *out_w = h, w), else 1. */
int multiscale_shape(int h, int w, int sz, int gs, int *out_h, int *out_w);

/* F.interpolate(x, size=(oh, ow), mode='bilinear', align_corners=False) of
 * `planes` float planes of ih x iw (planes = batch * channels), into dst
 * (planes x oh x ow). Planes run in parallel; each element is computed the
 * same way for any thread count. */
void resize_bilinear_planes(const float *src, int planes, int ih, int iw, float *dst, int oh, int ow);

#endif
