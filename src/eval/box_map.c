#include "eval/box_map.h"

#include <math.h>

void boxes_xywh_to_xyxy(const float *xywh, size_t n, size_t in_stride, float *xyxy, size_t out_stride)
{
    for (size_t i = 0; i < n; i++) {
        const float *b = xywh + i * in_stride;
        float cx = b[0], cy = b[1], w = b[2], h = b[3];
        float *o = xyxy + i * out_stride;
        o[0] = cx - w / 2.0f;
        o[1] = cy - h / 2.0f;
        o[2] = cx + w / 2.0f;
        o[3] = cy + h / 2.0f;
    }
}

void boxes_xyxy_to_xywh(const float *xyxy, size_t n, size_t in_stride, float *xywh, size_t out_stride)
{
    for (size_t i = 0; i < n; i++) {
        const float *b = xyxy + i * in_stride;
        float x1 = b[0], y1 = b[1], x2 = b[2], y2 = b[3];
        float *o = xywh + i * out_stride;
        o[0] = (x1 + x2) / 2.0f;
        o[1] = (y1 + y2) / 2.0f;
        o[2] = x2 - x1;
        o[3] = y2 - y1;
    }
}

BoxMapping boxes_mapping_fit(int in_h, int in_w, int h0, int w0)
{
    double gh = (double)in_h / h0, gw = (double)in_w / w0;
    double gain = gh < gw ? gh : gw; /* Python's min keeps the first of equals */
    BoxMapping m = {gain, (in_w - w0 * gain) / 2, (in_h - h0 * gain) / 2};
    return m;
}

BoxMapping boxes_mapping_ratio_pad(double ratio_h, double ratio_w, double pad_w, double pad_h)
{
    (void)ratio_w; /* the reference ignores it */
    BoxMapping m = {ratio_h, pad_w, pad_h};
    return m;
}

/* torch.clamp(x, lo, hi) on float: min(max(x, lo), hi) with NaN propagated. */
static float clampf(float x, float lo, float hi)
{
    if (isnan(x)) return x;
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return x;
}

void boxes_clip(float *boxes, size_t n, size_t stride, int h, int w)
{
    float fw = (float)w, fh = (float)h;
    for (size_t i = 0; i < n; i++) {
        float *b = boxes + i * stride;
        b[0] = clampf(b[0], 0.0f, fw);
        b[1] = clampf(b[1], 0.0f, fh);
        b[2] = clampf(b[2], 0.0f, fw);
        b[3] = clampf(b[3], 0.0f, fh);
    }
}

void boxes_scale(float *boxes, size_t n, size_t stride, BoxMapping m, int h0, int w0)
{
    float px = (float)m.pad_x, py = (float)m.pad_y, gain = (float)m.gain;
    for (size_t i = 0; i < n; i++) {
        float *b = boxes + i * stride;
        b[0] = (b[0] - px) / gain;
        b[1] = (b[1] - py) / gain;
        b[2] = (b[2] - px) / gain;
        b[3] = (b[3] - py) / gain;
    }
    boxes_clip(boxes, n, stride, h0, w0);
}

void boxes_round(float *boxes, size_t n, size_t stride)
{
    /* nearbyintf rounds half to even in the default rounding mode. */
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) boxes[i * stride + k] = nearbyintf(boxes[i * stride + k]);
}

void boxes_xyxy_to_yolo(const float xyxy[4], int h0, int w0, float out[4])
{
    float xywh[4];
    boxes_xyxy_to_xywh(xyxy, 1, 4, xywh, 4);
    out[0] = xywh[0] / (float)w0;
    out[1] = xywh[1] / (float)h0;
    out[2] = xywh[2] / (float)w0;
    out[3] = xywh[3] / (float)h0;
}

void boxes_labels_to_native(const float *labels, size_t n, int in_h, int in_w, BoxMapping m,
                            int h0, int w0, float *out)
{
    float fw = (float)in_w, fh = (float)in_h;
    for (size_t i = 0; i < n; i++) {
        const float *l = labels + i * 5;
        float xywh[4] = {l[1] * fw, l[2] * fh, l[3] * fw, l[4] * fh};
        float cls = l[0];
        float *o = out + i * 5;
        o[0] = cls;
        boxes_xywh_to_xyxy(xywh, 1, 4, o + 1, 4);
    }
    boxes_scale(out + 1, n, 5, m, h0, w0);
}
