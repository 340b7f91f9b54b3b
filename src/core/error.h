/* Error reporting without globals: a function that can fail takes an Error*,
 * fills in a human-readable reason (naming the file, field and cause where it
 * knows them) and returns -1. Callers add context with err_prefix. */
#ifndef YV5_ERROR_H
#define YV5_ERROR_H

typedef struct {
    char msg[1024];
} Error;

/* Formats into e->msg (if e is non-NULL) and returns -1, so `return err_set(e, ...)`. */
int err_set(Error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "context: " to the existing message; returns -1. */
int err_prefix(Error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
