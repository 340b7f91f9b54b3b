#include "data/warnings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static size_t limit_of(const Warnings *w) { return w->limit ? w->limit : WARNINGS_DEFAULT_LIMIT; }

void warn_add(Warnings *w, const char *fmt, ...)
{
    w->total++;
    if (w->kept.count >= limit_of(w)) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *s = malloc((size_t)n + 1);
    if (!s) return; /* still counted in total */
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    strlist_push_owned(&w->kept, s);
}

void warn_merge(Warnings *dst, const Warnings *src)
{
    for (size_t i = 0; i < src->kept.count; i++) {
        if (dst->kept.count < limit_of(dst)) strlist_push(&dst->kept, src->kept.items[i]);
    }
    dst->total += src->total;
}

void warn_free(Warnings *w)
{
    strlist_free(&w->kept);
    w->total = 0;
}
