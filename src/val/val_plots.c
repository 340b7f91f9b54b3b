/* val_batch*_labels.jpg / _pred.jpg (val_plots.h). */
#include "val/val_plots.h"

#include <stdlib.h>

#include "draw/plot_images.h"
#include "eval/box_map.h"
#include "eval/nms.h"

void val_plot_batch(const char *save_dir, const DatasetSplit *split, const Batch *b, const float *targets,
                    const float *det, const int *counts, int max_det, const char *const *names, int nc,
                    FILE *warn)
{
    int n = b->n < PLOT_IMAGES_MAX_IMAGES ? b->n : PLOT_IMAGES_MAX_IMAGES;
    size_t n_pred = 0;
    for (int i = 0; i < n; i++) n_pred += (size_t)counts[i];
    const char **paths = malloc((size_t)(n ? n : 1) * sizeof *paths);
    float *pred = malloc((n_pred + 1) * 7 * sizeof *pred);
    Error e;
    char path[4096];
    if (!paths || !pred) {
        if (warn) fprintf(warn, "WARNING: val plots skipped: out of memory\n");
        free(paths);
        free(pred);
        return;
    }
    for (int i = 0; i < n; i++) paths[i] = split->images[b->indices[i]].path;
    /* output_to_target: (image, class, cx, cy, w, h, conf) in input pixels */
    size_t k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < counts[i]; j++, k++) {
            const float *d = det + ((size_t)i * (size_t)max_det + (size_t)j) * NMS_ROW;
            float *row = pred + k * 7;
            row[0] = (float)i;
            row[1] = d[5];
            boxes_xyxy_to_xywh(d, 1, NMS_ROW, row + 2, 4);
            row[6] = d[4];
        }
    PlotImages p = {b->images, n, b->h, b->w, targets, b->n_targets, 6, paths, names, nc};
    snprintf(path, sizeof path, "%s/val_batch%d_labels.jpg", save_dir, b->batch_index);
    if (plot_images_write_jpeg(&p, path, &e) != 0 && warn) fprintf(warn, "WARNING: %s\n", e.msg);
    p.targets = pred;
    p.n_targets = (int)n_pred;
    p.target_cols = 7;
    snprintf(path, sizeof path, "%s/val_batch%d_pred.jpg", save_dir, b->batch_index);
    if (plot_images_write_jpeg(&p, path, &e) != 0 && warn) fprintf(warn, "WARNING: %s\n", e.msg);
    free(paths);
    free(pred);
}
