/* Helpers for the data-layer tests: the scratch directories and files of
 * util/temp_dataset.h, and looking through the warnings a scan kept. */
#ifndef YV5_DATA_TEST_UTIL_H
#define YV5_DATA_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "data/strlist.h"
#include "util/temp_dataset.h"

/* Does any kept warning contain every one of the given substrings? */
static inline int warnings_have(const StrList *l, const char *a, const char *b)
{
    for (size_t i = 0; i < l->count; i++)
        if (strstr(l->items[i], a) && (!b || strstr(l->items[i], b))) return 1;
    return 0;
}

static inline void dump_warnings(const StrList *l)
{
    for (size_t i = 0; i < l->count; i++) printf("    warning: %s\n", l->items[i]);
}

#endif
