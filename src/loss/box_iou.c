/* IoU / GIoU / DIoU / CIoU of two xywh boxes and the gradient w.r.t. the first. */
#include "loss/box_iou.h"

#include <math.h>

/* Gradient weight of `a` in min(a, b): PyTorch sends it all to the smaller
 * argument and splits it evenly on a tie. */
static double weight_of_min(double a, double b) { return a < b ? 1.0 : (a == b ? 0.5 : 0.0); }
static double weight_of_max(double a, double b) { return a > b ? 1.0 : (a == b ? 0.5 : 0.0); }

double box_iou_xywh(IouLoss kind, const double box[4], const double target[4], double grad[4])
{
    const double eps = 1e-7;
    const double x1 = box[0], y1 = box[1], w1 = box[2], h1 = box[3];
    const double x2 = target[0], y2 = target[1], w2 = target[2], h2 = target[3];
    const double b1x1 = x1 - w1 / 2, b1x2 = x1 + w1 / 2, b1y1 = y1 - h1 / 2, b1y2 = y1 + h1 / 2;
    const double b2x1 = x2 - w2 / 2, b2x2 = x2 + w2 / 2, b2y1 = y2 - h2 / 2, b2y2 = y2 + h2 / 2;

    /* Intersection: iw = min(right edges) - max(left edges), likewise ih. */
    const double iw = fmin(b1x2, b2x2) - fmax(b1x1, b2x1);
    const double ih = fmin(b1y2, b2y2) - fmax(b1y1, b2y1);
    const double iwc = iw > 0 ? iw : 0.0, ihc = ih > 0 ? ih : 0.0;
    const double inter = iwc * ihc;
    const double uni = w1 * h1 + w2 * h2 - inter + eps;
    const double iou = inter / uni;

    /* d iw / d (x1, w1) through the selected edges; clamp passes at iw >= 0. */
    const double mr = weight_of_min(b1x2, b2x2), ml = weight_of_max(b1x1, b2x1);
    const double nr = weight_of_min(b1y2, b2y2), nl = weight_of_max(b1y1, b2y1);
    const double gw = iw >= 0 ? 1.0 : 0.0, gh = ih >= 0 ? 1.0 : 0.0;
    const double dinter_x = gw * ihc * (mr - ml), dinter_w = gw * ihc * (mr + ml) / 2;
    const double dinter_y = gh * iwc * (nr - nl), dinter_h = gh * iwc * (nr + nl) / 2;
    /* d union: d(w1 h1) - d inter. */
    const double dunion[4] = {-dinter_x, -dinter_y, h1 - dinter_w, w1 - dinter_h};
    /* d iou = (d inter - iou d union) / union. */
    double g[4] = {
        (dinter_x - iou * dunion[0]) / uni,
        (dinter_y - iou * dunion[1]) / uni,
        (dinter_w - iou * dunion[2]) / uni,
        (dinter_h - iou * dunion[3]) / uni,
    };
    double value = iou;

    if (kind != IOU_LOSS_IOU) {
        /* Enclosing box: cw = max(right edges) - min(left edges). */
        const double cw = fmax(b1x2, b2x2) - fmin(b1x1, b2x1);
        const double ch = fmax(b1y2, b2y2) - fmin(b1y1, b2y1);
        const double Mr = weight_of_max(b1x2, b2x2), Ml = weight_of_min(b1x1, b2x1);
        const double Nr = weight_of_max(b1y2, b2y2), Nl = weight_of_min(b1y1, b2y1);
        const double dcw_x = Mr - Ml, dcw_w = (Mr + Ml) / 2;
        const double dch_y = Nr - Nl, dch_h = (Nr + Nl) / 2;
        if (kind == IOU_LOSS_GIOU) {
            /* giou = iou - 1 + union / c_area. */
            const double c_area = cw * ch + eps;
            const double dc[4] = {dcw_x * ch, dch_y * cw, dcw_w * ch, dch_h * cw};
            value = iou - (c_area - uni) / c_area;
            for (int k = 0; k < 4; k++) g[k] += dunion[k] / c_area - uni * dc[k] / (c_area * c_area);
        } else {
            const double c2 = cw * cw + ch * ch + eps;
            const double dx = b2x1 + b2x2 - b1x1 - b1x2, dy = b2y1 + b2y2 - b1y1 - b1y2;
            const double rho2 = (dx * dx + dy * dy) / 4;
            /* d rho2 / d (x1, y1) = -dx, -dy; none through w1, h1. */
            const double drho2[4] = {-dx, -dy, 0.0, 0.0};
            const double dc2[4] = {2 * cw * dcw_x, 2 * ch * dch_y, 2 * cw * dcw_w, 2 * ch * dch_h};
            value = iou - rho2 / c2;
            for (int k = 0; k < 4; k++) g[k] -= drho2[k] / c2 - rho2 * dc2[k] / (c2 * c2);
            if (kind == IOU_LOSS_CIOU) {
                const double pi = 3.14159265358979323846; /* M_PI is not in strict C11 */
                const double k4pi2 = 4 / (pi * pi);
                const double delta = atan(w2 / h2) - atan(w1 / h1);
                const double v = k4pi2 * delta * delta;
                const double alpha = v / (v - iou + (1 + eps));
                const double r2 = w1 * w1 + h1 * h1;
                value -= v * alpha;
                g[2] -= alpha * (-2 * k4pi2 * delta * h1 / r2);
                g[3] -= alpha * (2 * k4pi2 * delta * w1 / r2);
            }
        }
    }
    if (grad)
        for (int k = 0; k < 4; k++) grad[k] = g[k];
    return value;
}
