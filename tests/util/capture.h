/* Runs a command entry point (cmd_dataset, val_cli_main, detect_cli_main ...)
 * in-process with its stdout and stderr captured, for the CLI tests, and
 * looks through the captured text. Header-only. */
#ifndef YV5_TEST_UTIL_CAPTURE_H
#define YV5_TEST_UTIL_CAPTURE_H

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int rc;          /* the entry point's return value; -100 when capturing failed */
    char *out, *err; /* NUL-terminated, owned */
} CliRun;

static inline char *capture_read_all(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    if (n < 0) n = 0;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    rewind(f);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    return s;
}

/* fn(argc, argv) with file descriptors 1 and 2 sent to temporary files. */
static inline CliRun cli_run_args(int (*fn)(int, char **), int argc, char **argv)
{
    CliRun r = {-100, NULL, NULL};
    fflush(stdout);
    fflush(stderr);
    FILE *fo = tmpfile(), *fe = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);
    if (fo && fe && saved_out >= 0 && saved_err >= 0) {
        dup2(fileno(fo), 1);
        dup2(fileno(fe), 2);
        r.rc = fn(argc, argv);
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        r.out = capture_read_all(fo);
        r.err = capture_read_all(fe);
    }
    if (saved_out >= 0) close(saved_out);
    if (saved_err >= 0) close(saved_err);
    if (fo) fclose(fo);
    if (fe) fclose(fe);
    return r;
}

/* argv is NULL-terminated; argv[0] is the command name. */
static inline CliRun cli_run(int (*fn)(int, char **), char **argv)
{
    int argc = 0;
    while (argv[argc]) argc++;
    return cli_run_args(fn, argc, argv);
}

static inline void cli_run_free(CliRun *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Prints the tails of both streams (for a failed check). */
static inline void cli_run_dump(const CliRun *r)
{
    const char *o = r->out ? r->out : "", *e = r->err ? r->err : "";
    size_t lo = strlen(o), le = strlen(e);
    printf("    rc=%d\n    stdout: ...%s\n    stderr: ...%s\n", r->rc, o + (lo > 1200 ? lo - 1200 : 0),
           e + (le > 1200 ? le - 1200 : 0));
}

static inline int has(const char *text, const char *needle) { return text && strstr(text, needle) != NULL; }

/* How many lines of text match the extended regex pattern (-1: bad pattern). */
static inline int count_lines_matching(const char *text, const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE) != 0) return -1;
    int n = 0;
    const char *p = text;
    regmatch_t m;
    while (p && *p && regexec(&re, p, 1, &m, 0) == 0) {
        n++;
        p += m.rm_eo;
        if (*p) p++;
    }
    regfree(&re);
    return n;
}

#endif
