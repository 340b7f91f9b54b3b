/* results.csv as YOLOv5 v7.0 writes it (utils/loggers/__init__.py,
 * on_fit_epoch_end): one row per epoch, 14 columns
 *   epoch, train/box_loss, train/obj_loss, train/cls_loss, metrics/precision,
 *   metrics/recall, metrics/mAP_0.5, metrics/mAP_0.5:0.95, val/box_loss,
 *   val/obj_loss, val/cls_loss, x/lr0, x/lr1, x/lr2
 * header cells '%20s', values '%20.5g' (the epoch too), joined by commas,
 * no trailing comma; the header is written when the file does not exist.
 *
 * The trainer also keeps the whole text in memory and stores it in every
 * checkpoint, so a resumed run rewrites results.csv exactly as it was when
 * that checkpoint was saved (dropping any row of an epoch that was being
 * finished when the run was killed). */
#ifndef YV5_TRAIN_RESULTS_CSV_H
#define YV5_TRAIN_RESULTS_CSV_H

#include <stddef.h>

#include "core/error.h"

#define RESULTS_VALUES 13 /* columns after epoch */

/* Column names after "epoch". */
extern const char *const RESULTS_KEYS[RESULTS_VALUES];

/* The header line, with '\n'. Returns the length (snprintf semantics). */
int results_csv_header(char *out, size_t cap);
/* One row with '\n': values = 3 train losses, P, R, mAP50, mAP50-95, 3 val
 * losses, 3 learning rates (torch param_groups order: biases, decayed
 * weights, BN weights). NaN prints as Python prints it ("nan"). */
int results_csv_row(int epoch, const double values[RESULTS_VALUES], char *out, size_t cap);

/* Growing in-memory copy of the file's text. */
typedef struct {
    char *text; /* NUL-terminated; NULL when empty */
    size_t len, cap;
} ResultsText;

int results_text_append(ResultsText *r, const char *line, Error *e);
int results_text_set(ResultsText *r, const char *text, Error *e);
void results_text_free(ResultsText *r);

/* Appends `row` to path, writing the header first when the file does not
 * exist; flushed and fsynced. */
int results_csv_append(const char *path, const char *row, Error *e);
/* Replaces the file with `text` (atomically). */
int results_csv_rewrite(const char *path, const char *text, Error *e);

#endif
