/* A growable list of owned C strings: file lists, class names, warning messages. */
#ifndef YV5_STRLIST_H
#define YV5_STRLIST_H

#include <stddef.h>

typedef struct {
    char **items; /* each malloc'd, owned by the list */
    size_t count, cap;
} StrList;

/* Appends a copy of s. Returns 0, or -1 when out of memory (list unchanged). */
int strlist_push(StrList *l, const char *s);
/* Appends s itself, taking ownership (freed on failure). */
int strlist_push_owned(StrList *l, char *s);
/* Appends a printf-formatted string. */
int strlist_pushf(StrList *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends copies of every item of src. */
int strlist_extend(StrList *l, const StrList *src);
/* Sorts by byte order (strcmp), as Python sorts str paths. */
void strlist_sort(StrList *l);
void strlist_free(StrList *l);

#endif
