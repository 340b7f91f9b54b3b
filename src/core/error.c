#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(Error *e, const char *fmt, ...)
{
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int err_prefix(Error *e, const char *fmt, ...)
{
    if (!e) return -1;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    /* Shift the old message right to make room for "head: " (truncating its tail). */
    size_t hl = strlen(head), cap = sizeof e->msg;
    if (hl + 2 >= cap) hl = cap - 3;
    size_t ol = strnlen(e->msg, cap - 1);
    if (hl + 2 + ol > cap - 1) ol = cap - 1 - hl - 2;
    memmove(e->msg + hl + 2, e->msg, ol);
    memcpy(e->msg, head, hl);
    e->msg[hl] = ':';
    e->msg[hl + 1] = ' ';
    e->msg[hl + 2 + ol] = '\0';
    return -1;
}
