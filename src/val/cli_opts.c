/* Table-driven option parsing (cli_opts.h). */
#include "val/cli_opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 1 when `arg` (up to len characters) is one of the '|'-separated names. */
static int name_matches(const char *names, const char *arg, size_t len)
{
    const char *p = names;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, arg, len)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

/* The first spelling, for messages. */
static const char *first_name(const char *names, char *buf, size_t cap)
{
    const char *bar = strchr(names, '|');
    size_t n = bar ? (size_t)(bar - names) : strlen(names);
    if (n >= cap) n = cap - 1;
    memcpy(buf, names, n);
    buf[n] = 0;
    return buf;
}

static int parse_int(const char *text, const CliOpt *o, int *out, Error *e)
{
    char name[64], *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end)
        return err_set(e, "%s: '%s' is not an integer", first_name(o->names, name, sizeof name), text);
    if ((double)v < o->min || (double)v > o->max)
        return err_set(e, "%s: %ld is out of range [%.0f, %.0f]", first_name(o->names, name, sizeof name), v, o->min,
                       o->max);
    *out = (int)v;
    return 0;
}

static int parse_double(const char *text, const CliOpt *o, double *out, Error *e)
{
    char name[64], *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return err_set(e, "%s: '%s' is not a number", first_name(o->names, name, sizeof name), text);
    if (v < o->min || v > o->max)
        return err_set(e, "%s: %g is out of range [%g, %g]", first_name(o->names, name, sizeof name), v, o->min,
                       o->max);
    *out = v;
    return 0;
}

/* A value-looking argument: not an option ("-3" is a number, "--x" is not). */
static int is_value(const char *arg)
{
    if (arg[0] != '-') return 1;
    char *end;
    strtod(arg, &end);
    return end != arg && *end == 0;
}

int cli_parse(int argc, char **argv, const CliOpt *opts, int n_opts, Error *e)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t len = eq && !strncmp(arg, "--", 2) ? (size_t)(eq - arg) : strlen(arg);
        const CliOpt *o = NULL;
        for (int k = 0; k < n_opts && !o; k++)
            if (name_matches(opts[k].names, arg, len)) o = &opts[k];
        if (!o) {
            if (arg[0] != '-') return err_set(e, "unexpected argument '%s'", arg);
            return err_set(e, "unknown option '%.*s'", (int)len, arg);
        }
        char name[64];
        first_name(o->names, name, sizeof name);
        if (o->kind == CLI_FLAG) {
            if (eq && arg[len] == '=') return err_set(e, "%s takes no value", name);
            *(int *)o->dest = 1;
            continue;
        }
        const char *value = NULL;
        if (arg[len] == '=') value = arg + len + 1;
        else if (i + 1 < argc && is_value(argv[i + 1])) value = argv[++i];
        if (!value) return err_set(e, "%s needs a value", name);
        switch (o->kind) {
        case CLI_INT:
            if (parse_int(value, o, (int *)o->dest, e) != 0) return -1;
            break;
        case CLI_DOUBLE:
            if (parse_double(value, o, (double *)o->dest, e) != 0) return -1;
            break;
        case CLI_STRING:
            if (!*value) return err_set(e, "%s needs a non-empty value", name);
            *(const char **)o->dest = value;
            break;
        case CLI_INT_LIST: {
            int *list = (int *)o->dest, n = 0;
            for (;;) {
                if (n >= o->cap) return err_set(e, "%s takes at most %d values", name, o->cap);
                if (parse_int(value, o, &list[n], e) != 0) return -1;
                n++;
                if (arg[len] == '=' || i + 1 >= argc || !is_value(argv[i + 1])) break;
                value = argv[++i];
            }
            *o->count = n;
            break;
        }
        case CLI_FLAG:
            break;
        }
    }
    return 0;
}
