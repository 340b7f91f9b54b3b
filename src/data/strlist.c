#include "data/strlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int strlist_push_owned(StrList *l, char *s)
{
    if (!s) return -1;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            free(s);
            return -1;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = s;
    return 0;
}

int strlist_push(StrList *l, const char *s) { return strlist_push_owned(l, strdup(s)); }

int strlist_pushf(StrList *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    char *s = malloc((size_t)n + 1);
    if (!s) return -1;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return strlist_push_owned(l, s);
}

int strlist_extend(StrList *l, const StrList *src)
{
    for (size_t i = 0; i < src->count; i++)
        if (strlist_push(l, src->items[i])) return -1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void strlist_sort(StrList *l)
{
    if (l->count > 1) qsort(l->items, l->count, sizeof *l->items, cmp_str);
}

void strlist_free(StrList *l)
{
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}
