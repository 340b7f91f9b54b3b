/* Mosaics of network-input batches with their boxes, as YOLOv5's
 * plot_images (utils/plots.py): train_batch0.jpg, val_batch0_labels.jpg, ...
 *
 * Up to 16 images in a ceil(sqrt(n)) grid on white, image i in column
 * i / ns, row i % ns (YOLOv5's order); the mosaic is shrunk (bilinear) so its
 * side is at most 1920 px; each tile gets a white border, its file name (when
 * paths are given) and its boxes coloured per class with the class name (or
 * number), plus the confidence for prediction rows (drawn only above 0.25). */
#ifndef YV5_DRAW_PLOT_IMAGES_H
#define YV5_DRAW_PLOT_IMAGES_H

#include "core/error.h"
#include "data/image.h"

enum { PLOT_IMAGES_MAX_IMAGES = 16, PLOT_IMAGES_MAX_SIZE = 1920 };

typedef struct {
    const float *images; /* n x 3 x h x w, RGB in [0, 1] (values above 1 are taken as 0..255) */
    int n, h, w;
    /* rows of target_cols floats: image index in batch, class, cx, cy, w, h
     * (normalised, or pixels of the h x w input), and with 7 columns a
     * confidence (predictions) */
    const float *targets;
    int n_targets, target_cols;
    const char *const *paths; /* n file paths, or NULL */
    const char *const *names; /* nc class names, or NULL (class numbers drawn) */
    int nc;
} PlotImages;

/* Renders the mosaic into out (allocated; free with image_free). */
int plot_images_render(const PlotImages *p, ImageU8 *out, Error *e);
/* Renders and writes it as a JPEG (quality 90). */
int plot_images_write_jpeg(const PlotImages *p, const char *path, Error *e);

#endif
