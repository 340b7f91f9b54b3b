/* `yolov5c dataset` run in-process (the command's source is compiled into this
 * test), so it is tested before and independently of its registration in
 * main.c; tests/data/test_dataset_cli.sh runs the real binary. */
#include <stdarg.h>

#include "cli/cmd_dataset.c"
#include "test.h"
#include "util/capture.h"
#include "util/temp_dataset.h"

static char *g_dir;

static char *tmp_path(const char *name)
{
    if (!g_dir) g_dir = tmpdir_make("cmd");
    return g_dir ? path_in(g_dir, name) : NULL;
}

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir) rm_rf(g_dir);
    free(g_dir);
}

static char g_out[1 << 16], g_err[1 << 16];

/* Runs cmd_dataset with stdout and stderr captured into g_out and g_err. */
static int run(int argc, const char **argv)
{
    CliRun r = cli_run_args(cmd_dataset, argc, (char **)argv);
    snprintf(g_out, sizeof g_out, "%s", r.out ? r.out : "");
    snprintf(g_err, sizeof g_err, "%s", r.err ? r.err : "");
    cli_run_free(&r);
    return r.rc;
}

/* run("dataset", args..., NULL) */
static int run_list(const char *first, ...)
{
    const char *argv[32] = {"dataset", first};
    int argc = 2;
    va_list ap;
    va_start(ap, first);
    for (const char *a; argc < 31 && (a = va_arg(ap, const char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    return run(argc, argv);
}

#define RUN(...) run_list(__VA_ARGS__, (const char *)NULL)

static void usage_and_bad_options(void)
{
    CHECK(RUN("--help") == 0 && strstr(g_out, "--generate-shapes DIR") && strstr(g_out, "--data FILE"), "help: %s",
          g_out);
    const char *none[] = {"dataset"};
    CHECK(run(1, none) == 2 && strstr(g_err, "give either --data FILE or --generate-shapes DIR"), "no args: %s", g_err);
    CHECK(RUN("--data", "a.yaml", "--generate-shapes", "d") == 2, "both modes");
    CHECK(RUN("--bogus") == 2 && strstr(g_err, "unknown option '--bogus'"), "%s", g_err);
    CHECK(RUN("--data") == 2 && strstr(g_err, "--data needs a value"), "%s", g_err);
    CHECK(RUN("--data", "x.yaml", "--img", "abc") == 2 && strstr(g_err, "--img 'abc' must be an integer"), "%s", g_err);
    CHECK(RUN("--data", "x.yaml", "--preview", "0") == 2 && strstr(g_err, "--preview '0' must be an integer"), "%s",
          g_err);
    CHECK(RUN("--data", "x.yaml", "--hyp", "h.yaml") == 1 && strstr(g_err, "h.yaml"), "%s", g_err);
}

static void generate_then_scan(void)
{
    char *dir = tmp_path("shapes"), *yaml = tmp_path("shapes/shapes.yaml");
    CHECK(RUN("--generate-shapes", dir, "--train", "8", "--val", "3", "--img", "96", "--seed", "5") == 0 &&
              strstr(g_out, "wrote 8 train + 3 val images"),
          "generate: %s%s", g_out, g_err);
    CHECK(fs_is_file(yaml), "writes %s", yaml);
    CHECK(RUN("--data", yaml) == 0, "scan: %s", g_err);
    CHECK(strstr(g_out, "train: Scanning") && strstr(g_out, "8 images") && strstr(g_out, "cache written") &&
              strstr(g_out, "val: Scanning") && strstr(g_out, "3 images"),
          "summary: %s", g_out);
    CHECK(strstr(g_out, "circle") && strstr(g_out, "ring") && strstr(g_out, "object sizes at --img 640"),
          "class and size tables: %s", g_out);
    CHECK(RUN("--data", yaml, "--img", "320", "--workers", "1") == 0 && strstr(g_out, "cache read") &&
              strstr(g_out, "--img 320"),
          "second scan: %s", g_out);
    CHECK(RUN("--data", yaml, "--no-cache", "--verify") == 0 && strstr(g_out, "cache off"), "no cache: %s", g_out);

    /* a broken image shows up as a warning on stderr, the scan still succeeds */
    char *img = tmp_path("shapes/images/train/000002.jpg");
    write_text(img, "broken");
    CHECK(RUN("--data", yaml) == 0 && strstr(g_out, "7 images") && strstr(g_out, "1 corrupt") &&
              strstr(g_err, "WARNING") && strstr(g_err, "000002.jpg"),
          "corrupt image: %s / %s", g_out, g_err);
    free(img);
    free(yaml);
    free(dir);
}

static void scan_errors(void)
{
    char *missing = tmp_path("missing.yaml");
    CHECK(RUN("--data", missing) == 1 && strstr(g_err, "missing.yaml"), "missing yaml: %s", g_err);
    char *nothing = tmp_path("nothing.yaml");
    write_text(nothing, "path: /nonexistent_yv5\ntrain: images/train\nval: images/val\nnames: [a]\n");
    CHECK(RUN("--data", nothing) == 1 && strstr(g_err, "/nonexistent_yv5/images/train does not exist"),
          "config pointing to nothing: %s", g_err);
    CHECK(RUN("--generate-shapes", "/proc/yv5_no/x", "--train", "1", "--val", "0") == 1 && strstr(g_err, "/proc/yv5_no"),
          "unwritable: %s", g_err);
    free(missing);
    free(nothing);
}

TEST_MAIN(TEST_ENTRY(usage_and_bad_options), TEST_ENTRY(generate_then_scan), TEST_ENTRY(scan_errors))
