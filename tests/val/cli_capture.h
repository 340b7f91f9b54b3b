/* Runs a command entry point (val_cli_main, detect_cli_main) in-process with
 * its stdout and stderr captured, for the CLI tests. */
#ifndef YV5_TEST_CLI_CAPTURE_H
#define YV5_TEST_CLI_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int rc;
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

/* argv is NULL-terminated; argv[0] is the command name. */
static inline CliRun cli_run(int (*fn)(int, char **), char **argv)
{
    int argc = 0;
    while (argv[argc]) argc++;
    CliRun r = {0, NULL, NULL};
    fflush(stdout);
    fflush(stderr);
    FILE *fo = tmpfile(), *fe = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);
    if (!fo || !fe || saved_out < 0 || saved_err < 0) {
        r.rc = -100;
        return r;
    }
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    r.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    r.out = capture_read_all(fo);
    r.err = capture_read_all(fe);
    fclose(fo);
    fclose(fe);
    return r;
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

/* Copies the fixture's images (the first n, sorted) and labels into
 * dir/images and dir/labels. Returns 0 on success. */
static inline int copy_fixture_images(const char *fixture, const char *dir, int n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/images' '%s/labels' && ls '%s/images' | sort | head -n %d | while read f; do "
             "cp \"%s/images/$f\" '%s/images/' && s=\"${f%%.*}\"; "
             "[ ! -f \"%s/labels/$s.txt\" ] || cp \"%s/labels/$s.txt\" '%s/labels/'; done",
             dir, dir, fixture, n, fixture, dir, fixture, fixture, dir);
    return system(cmd);
}

#endif
