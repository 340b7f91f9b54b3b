/* Hyperparameters as a JSON object, for checkpoint metadata: every key of
 * the Hyp struct in hyp-file order, numbers in Python's repr (the shortest
 * decimal that reads back to the same double), "iou_loss" as its name,
 * "balance" as a list (only when set). Reading it back gives the identical
 * struct, so a resumed run uses exactly the saved hyperparameters. */
#ifndef YV5_TRAIN_HYP_JSON_H
#define YV5_TRAIN_HYP_JSON_H

#include <stdio.h>

#include "core/error.h"
#include "hyp/hyp.h"

/* malloc'd JSON text, or NULL when out of memory. */
char *hyp_to_json(const Hyp *h);
/* Parses text over the defaults and validates (hyp_validate); `source`
 * names the origin in messages and becomes h->source. Unknown keys are errors. */
int hyp_from_json(Hyp *h, const char *text, const char *source, Error *e);

/* YOLOv5's start-up line, "hyperparameters: lr0=0.01, lrf=0.01, ...": the
 * keys of YOLOv5's hyp files (ours only when they differ from the defaults). */
void hyp_print_line(const Hyp *h, FILE *out, int color);

#endif
