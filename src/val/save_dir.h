/* YOLOv5's increment_path for the val and detect output directories:
 * project/name when it does not exist (or exist_ok), else the first free
 * project/name2, name3, ... The directory is created (with labels/ inside
 * when asked: val.py and detect.py create it for --save-txt). */
#ifndef YV5_SAVE_DIR_H
#define YV5_SAVE_DIR_H

#include <stddef.h>

#include "core/error.h"

int save_dir_create(const char *project, const char *name, int exist_ok, int with_labels, char *out, size_t cap,
                    Error *e);

#endif
