/* The model table YOLOv5's parse_model logs, column for column (spec §1.3):
 * index, from, n, params, module, arguments. Shared by `info` and `train`. */
#ifndef YV5_MODEL_SUMMARY_H
#define YV5_MODEL_SUMMARY_H

#include <stdio.h>

#include "model/model_config.h"
#include "model/param_table.h"

/* Writes a blank line, the header and one row per layer. */
void model_print_layer_table(const ModelConfig *cfg, const ParamTable *t, FILE *out);

#endif
