/* Box formats and the mapping of boxes from the network input (letterboxed,
 * possibly rect-padded) back to the original image, as YOLOv5 v7.0 does it
 * (utils/general.py xywh2xyxy, xyxy2xywh, scale_boxes, clip_boxes; spec §6.4,
 * §8). Everything is float32 arithmetic in the reference's operation order,
 * so results are bit-identical to the PyTorch tensors.
 *
 * Boxes are rows of `stride` floats whose first four are the coordinates, so
 * NMS output rows (x1, y1, x2, y2, conf, cls; stride 6) are mapped in place. */
#ifndef YV5_EVAL_BOX_MAP_H
#define YV5_EVAL_BOX_MAP_H

#include <stddef.h>

/* (cx, cy, w, h) -> (x1, y1, x2, y2): x1 = cx - w/2, x2 = cx + w/2. */
void boxes_xywh_to_xyxy(const float *xywh, size_t n, size_t in_stride, float *xyxy, size_t out_stride);
/* (x1, y1, x2, y2) -> (cx, cy, w, h): cx = (x1 + x2)/2, w = x2 - x1. */
void boxes_xyxy_to_xywh(const float *xyxy, size_t n, size_t in_stride, float *xywh, size_t out_stride);

/* How the network input relates to the original image (h0 x w0):
 * original = (input - pad) / gain, per axis the same gain. */
typedef struct {
    double gain;         /* input pixels per original pixel */
    double pad_x, pad_y; /* padding left / top, input pixels (may be fractional) */
} BoxMapping;

/* The mapping scale_boxes derives when called without ratio_pad (detect.py):
 * gain = min(in_h/h0, in_w/w0), pad = ((in_w - w0*gain)/2, (in_h - h0*gain)/2),
 * in double as Python computes it. */
BoxMapping boxes_mapping_fit(int in_h, int in_w, int h0, int w0);
/* The mapping val uses: the loader's ratio_pad ((h/h0, w/w0), (dw, dh)).
 * Only the height ratio is used, for both axes, as in the reference. */
BoxMapping boxes_mapping_ratio_pad(double ratio_h, double ratio_w, double pad_w, double pad_h);

/* scale_boxes: x -= pad_x, y -= pad_y, all four /= gain (pad and gain rounded
 * to float32 first, as PyTorch does with Python scalars), then clip_boxes to
 * the original image. In place on rows of `stride` floats. */
void boxes_scale(float *boxes, size_t n, size_t stride, BoxMapping m, int h0, int w0);
/* clip_boxes: x into [0, w], y into [0, h]. NaN stays NaN (torch.clamp). */
void boxes_clip(float *boxes, size_t n, size_t stride, int h, int w);
/* The four coordinates rounded half-to-even (torch.round, detect.py). */
void boxes_round(float *boxes, size_t n, size_t stride);

/* A native-space xyxy box -> the --save-txt row (cx, cy, w, h) normalised by
 * the original image size w0 x h0 (xyxy2xywh, then / (w0, h0, w0, h0)). */
void boxes_xyxy_to_yolo(const float xyxy[4], int h0, int w0, float out[4]);

/* Label rows (class, cx, cy, w, h) normalised to the input image -> rows
 * (class, x1, y1, x2, y2) in the original image, as val.py prepares them:
 * cx, w times in_w and cy, h times in_h (float32), xywh2xyxy, boxes_scale.
 * in and out may be the same array. */
void boxes_labels_to_native(const float *labels, size_t n, int in_h, int in_w, BoxMapping m,
                            int h0, int w0, float *out);

#endif
