/* IoU variants between a predicted box and a target box, both (x, y, w, h)
 * centre/size, and their exact gradient w.r.t. the predicted box, as YOLOv5's
 * bbox_iou(xywh=True) computes and autograd differentiates them:
 *
 *   iou  = inter / (w1 h1 + w2 h2 - inter + eps)                 (eps = 1e-7)
 *   giou = iou - (c_area - union) / c_area,  c_area = cw ch + eps
 *   diou = iou - rho2 / c2,                  c2 = cw^2 + ch^2 + eps
 *   ciou = diou - v alpha,  v = 4/pi^2 (atan(w2/h2) - atan(w1/h1))^2,
 *          alpha = v / (v - iou + 1 + eps) held constant (no gradient)
 *
 * with cw, ch the enclosing box and rho2 the squared centre distance.
 * Ties follow PyTorch: min/max split the gradient half/half between equal
 * arguments, clamp(x, 0) passes it when x >= 0. Double precision throughout. */
#ifndef YV5_BOX_IOU_H
#define YV5_BOX_IOU_H

#include "hyp/hyp.h"

/* Returns the chosen IoU variant of box (prediction) against target; when
 * grad is non-NULL stores d value / d (x, y, w, h) of box in grad[0..3].
 * w and h of both boxes must be > 0. */
double box_iou_xywh(IouLoss kind, const double box[4], const double target[4], double grad[4]);

#endif
