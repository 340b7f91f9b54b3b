/* Warnings collected while scanning a dataset: every one is counted, the
 * first `limit` are kept for display (a COCO file with thousands of bad
 * annotations should not produce thousands of lines). */
#ifndef YV5_WARNINGS_H
#define YV5_WARNINGS_H

#include <stddef.h>

#include "data/strlist.h"

#define WARNINGS_DEFAULT_LIMIT 2000

typedef struct {
    StrList kept;   /* the first `limit` messages, in order */
    size_t total;   /* all messages, kept or not */
    size_t limit;   /* 0 means WARNINGS_DEFAULT_LIMIT */
} Warnings;

void warn_add(Warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends src's messages and counts (respecting dst's limit). */
void warn_merge(Warnings *dst, const Warnings *src);
void warn_free(Warnings *w);

#endif
