/* YOLOv5 v7.0 target assignment for one detection level (build_targets).
 *
 * For each anchor a and target t (anchor-major order), keep the pair when the
 * target's size in grid cells is within a factor anchor_t of the anchor
 * (max(w/aw, aw/w, h/ah, ah/h) < anchor_t). Each kept pair is emitted for its
 * centre cell and for the neighbour cells whose shared edge is less than half
 * a cell from the centre (left/up when frac(g) < 0.5 and g > 1, right/down
 * when frac(n - g) < 0.5 and n - g > 1), offset-major: all centre rows, then
 * left, up, right, down. Cell indices are truncated from the offset centre,
 * clamped to the grid, and the target box is made relative to the clamped
 * cell. All arithmetic is float32, as the reference does it, so that the
 * assignment matches bit for bit. */
#ifndef YV5_BUILD_TARGETS_H
#define YV5_BUILD_TARGETS_H

#include "core/error.h"

/* One assigned (target, anchor, cell). */
typedef struct {
    int image;          /* image index in the batch */
    int anchor;         /* anchor index within the level */
    int gj, gi;         /* cell row and column */
    int cls;            /* class index */
    float tbox[4];      /* target centre relative to the cell's corner, size, grid units */
    float anchor_wh[2]; /* the anchor, grid units */
} TargetRow;

/* Rows of one level. Buffers grow on demand and are reused across calls. */
typedef struct {
    TargetRow *rows;
    int n;          /* rows in use */
    int cap;        /* rows allocated */
    int *kept;      /* scratch: kept (anchor, target) pairs */
    unsigned char *flags; /* scratch: neighbour flags of each kept pair */
    int kept_cap;
} LevelTargets;

/* Assigns targets (nt rows [image, class, cx, cy, w, h], coordinates
 * normalised to the input image) to a level with an ny x nx grid and na
 * anchors (na x 2, grid units). Targets must already be validated (finite,
 * image and class in range). Returns -1 only when memory runs out. */
int build_targets_level(LevelTargets *out, const float *targets, int nt, int na, const float *anchors,
                        int ny, int nx, float anchor_t, Error *e);

void level_targets_free(LevelTargets *lt);

#endif
