/* `yolov5c anchors` run in-process (the command's source is compiled into
 * this test, so it is tested before and independently of its registration in
 * main.c; tests/anchors/test_anchors_cli.sh runs the real binary) on a small
 * generated shapes dataset. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd_anchors.c"
#include "data/shapes.h"
#include "test.h"

static char g_dir[256];
static char g_data[320];
static char g_out[1 << 16], g_err[1 << 16];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir[0]) nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The shapes dataset (40 train, 10 val images, long side 160), made once. */
static int dataset_ready(void)
{
    if (g_data[0]) return 0;
    snprintf(g_dir, sizeof g_dir, "/tmp/yv5_anchors_XXXXXX");
    if (!mkdtemp(g_dir)) {
        g_dir[0] = 0;
        return -1;
    }
    char sub[300];
    snprintf(sub, sizeof sub, "%s/shapes", g_dir);
    ShapesOptions so = {40, 10, 160, 5, 0, 0};
    ShapesSummary sum;
    Error e;
    if (shapes_generate(sub, &so, &sum, &e)) {
        printf("    shapes_generate: %s\n", e.msg);
        return -1;
    }
    snprintf(g_data, sizeof g_data, "%s/shapes.yaml", sub);
    return 0;
}

static void slurp_into(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Runs cmd_anchors with stdout and stderr captured into g_out and g_err. */
static int run(int argc, const char **argv)
{
    char fo[300], fe[300];
    snprintf(fo, sizeof fo, "%s/stdout.txt", g_dir[0] ? g_dir : "/tmp");
    snprintf(fe, sizeof fe, "%s/stderr.txt", g_dir[0] ? g_dir : "/tmp");
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    int o = open(fo, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(fe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    int rc = cmd_anchors(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(o);
    close(e);
    close(save_out);
    close(save_err);
    slurp_into(fo, g_out, sizeof g_out);
    slurp_into(fe, g_err, sizeof g_err);
    return rc;
}

static int run_list(const char *first, ...)
{
    const char *argv[40] = {"anchors", first};
    int argc = 2;
    va_list ap;
    va_start(ap, first);
    for (const char *a; argc < 39 && (a = va_arg(ap, const char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    return run(argc, argv);
}

#define RUN(...) run_list(__VA_ARGS__, (const char *)NULL)

/* g_out without the progress bar line (its elapsed time may differ). */
static void strip_progress(const char *in, char *out, size_t cap)
{
    size_t at = 0;
    for (const char *p = in; *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p + 1) : strlen(p);
        int bar = 0;
        for (const char *q = p; q < p + n; q++) bar |= q[0] == '%' && q[1] == '|';
        if (!bar && at + n < cap) {
            memcpy(out + at, p, n);
            at += n;
        }
        p += n;
    }
    out[at] = 0;
}

static void usage_and_bad_options(void)
{
    CHECK(RUN("--help") == 0 && strstr(g_out, "usage: yolov5c anchors --data FILE"), "help: %s", g_out);
    const char *none[] = {"anchors"};
    CHECK(run(1, none) == 2 && strstr(g_err, "--data FILE is required"), "no args: %s", g_err);
    CHECK(RUN("--data", "x.yaml", "--bogus") == 2 && strstr(g_err, "unknown option '--bogus'"), "%s", g_err);
    CHECK(RUN("--data", "x.yaml", "--cfg", "models/yolov5s.yaml", "--weights", "w.safetensors") == 2 &&
              strstr(g_err, "not both"),
          "%s", g_err);
    CHECK(RUN("--data", "x.yaml", "--img", "abc") == 2 && strstr(g_err, "--img 'abc' must be an integer"), "%s", g_err);
    CHECK(RUN("--data", "x.yaml", "--gen") == 2 && strstr(g_err, "needs a value"), "%s", g_err);
    CHECK(RUN("--data", "/nonexistent/data.yaml", "--gen", "5") == 1 && strstr(g_err, "yolov5c anchors: "), "%s",
          g_err);
    CHECK(RUN("--data", "x.yaml", "--cfg", "/nonexistent/model.yaml") == 1, "bad model: %s", g_err);
}

/* The anchors of the "n=9, img_size=..., ...: 10,13, 16,30, ..." line. */
static int parse_result_line(const char *text, int *vals, int max)
{
    const char *p = strstr(text, "AutoAnchor: n=");
    if (!p) return 0;
    p = strstr(p, "-mean: ");
    if (!p) return 0;
    p += 7;
    int n = 0;
    while (n < max && *p && *p != '\n') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        vals[n++] = (int)v;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    return n;
}

static void proposes_anchors_on_shapes(void)
{
    CHECK(dataset_ready() == 0, "dataset");
    if (!g_data[0]) return;
    int rc = RUN("--data", g_data, "--img", "160", "--seed", "1", "--gen", "300");
    CHECK(rc == 0, "rc %d, stderr: %s", rc, g_err);
    CHECK(strstr(g_out, "train: 40 images, "), "%s", g_out);
    CHECK(strstr(g_out, "model anchors: 10,13, 16,30, 33,23, 30,61, 62,45, 59,119, 116,90, 156,198, 373,326"), "%s",
          g_out);
    CHECK(strstr(g_out, " anchors/target, ") && strstr(g_out, " Best Possible Recall (BPR). "), "%s", g_out);
    CHECK(strstr(g_out, "AutoAnchor: Running kmeans for 9 anchors on "), "%s", g_out);
    CHECK(strstr(g_out, "AutoAnchor: thr=0.25: "), "%s", g_out);
    CHECK(strstr(g_out, "AutoAnchor: n=9, img_size=160, metric_all="), "%s", g_out);
    CHECK(strstr(g_out, "%|██████████| 300/300 "), "progress bar: %s", g_out);
    CHECK(strstr(g_out, "proposed anchors: ") && strstr(g_out, "training would "), "%s", g_out);
    CHECK(strstr(g_out, "\nanchors:\n  - [") && strstr(g_out, "]  # P3/8\n") && strstr(g_out, "]  # P4/16\n") &&
              strstr(g_out, "]  # P5/32\n"),
          "%s", g_out);

    /* The YAML block, pasted into a model YAML, gives the printed anchors. */
    int printed[18];
    CHECK(parse_result_line(g_out, printed, 18) == 18, "result line: %s", g_out);
    const char *block = strstr(g_out, "\nanchors:\n");
    FILE *f = fopen("models/yolov5s.yaml", "rb");
    char model[1 << 14];
    size_t len = f ? fread(model, 1, sizeof model - 1, f) : 0;
    if (f) fclose(f);
    model[len] = 0;
    char *start = strstr(model, "\nanchors:"), *end = start ? strstr(start, "\n\n") : NULL;
    CHECK(block && start && end, "texts");
    if (block && start && end) {
        char text[1 << 15];
        snprintf(text, sizeof text, "%.*s%s%s", (int)(start - model), model, block, end);
        ModelConfig cfg;
        Error e;
        CHECK(model_config_parse_string(text, "pasted.yaml", 0, &cfg, &e) == 0, "%s", e.msg);
        if (cfg.nl == 3 && cfg.na == 3) {
            size_t bad = 0;
            for (int l = 0; l < 3; l++)
                for (int j = 0; j < 6; j++) bad += cfg.anchors[l][j] != (float)printed[l * 6 + j];
            CHECK(bad == 0, "pasted anchors differ from the printed ones");
        }
        model_config_free(&cfg);
    }

    /* Same seed, same output; another seed, other anchors. */
    static char first[1 << 16], again[1 << 16];
    strip_progress(g_out, first, sizeof first);
    CHECK(RUN("--data", g_data, "--img", "160", "--seed", "1", "--gen", "300") == 0, "rerun");
    strip_progress(g_out, again, sizeof again);
    CHECK(!strcmp(first, again), "same seed, different output:\n%s\n---\n%s", first, again);
    CHECK(RUN("--data", g_data, "--img", "160", "--seed", "2", "--gen", "300") == 0, "seed 2");
    strip_progress(g_out, again, sizeof again);
    CHECK(strcmp(first, again) != 0, "seed 2 gave the same output");
}

static void options_n_img_hyp(void)
{
    CHECK(dataset_ready() == 0, "dataset");
    if (!g_data[0]) return;
    /* Six anchors: two per level in the YAML block. */
    CHECK(RUN("--data", g_data, "--img", "160", "--n", "6", "--gen", "50") == 0, "rc, stderr: %s", g_err);
    CHECK(strstr(g_out, "AutoAnchor: computing 6 anchors for the proposal") || strstr(g_out, "Running kmeans for 6"),
          "%s", g_out);
    CHECK(strstr(g_out, "keeps its 3 anchors per level"), "%s", g_out);
    const char *block = strstr(g_out, "\nanchors:\n");
    int rows_with_two = 0;
    for (const char *p = block; p && (p = strstr(p, "\n  - [")) != NULL; p++) {
        int commas = 0;
        for (const char *q = p + 6; *q && *q != ']'; q++) commas += *q == ',';
        rows_with_two += commas == 3;
    }
    CHECK(rows_with_two == 3, "3 rows of 2 anchors: %s", block ? block : g_out);
    CHECK(RUN("--data", g_data, "--n", "8") == 2 && strstr(g_err, "multiple of the model's 3 levels"), "%s", g_err);
    /* Sizes are rounded to the stride as training does. */
    CHECK(RUN("--data", g_data, "--img", "100", "--gen", "10") == 0, "rc");
    CHECK(strstr(g_out, "WARNING ⚠️ --img-size 100 must be multiple of max stride 32, updating to 128"), "%s", g_out);
    CHECK(strstr(g_out, "img_size 128"), "%s", g_out);
    /* hyp anchors: N replaces the model's anchors with placeholders. */
    char hyp[400];
    snprintf(hyp, sizeof hyp, "%s/hyp_anchors.yaml", g_dir);
    FILE *f = fopen(hyp, "w");
    if (f) {
        fprintf(f, "anchor_t: 3.0\nanchors: 2\n");
        fclose(f);
    }
    CHECK(RUN("--data", g_data, "--img", "160", "--hyp", hyp, "--gen", "50") == 0, "rc, stderr: %s", g_err);
    CHECK(strstr(g_out, "Overriding model.yaml anchors with anchors=2"), "%s", g_out);
    CHECK(strstr(g_out, "model anchors (placeholders): 0,1, 2,3, 0,1, 2,3, 0,1, 2,3"), "%s", g_out);
    CHECK(strstr(g_out, "Anchors are placeholders") && strstr(g_out, "AutoAnchor: thr=0.33: "), "%s", g_out);
    CHECK(strstr(g_out, "training would replace the model's anchors with these"), "%s", g_out);
}

TEST_MAIN(TEST_ENTRY(usage_and_bad_options), TEST_ENTRY(proposes_anchors_on_shapes), TEST_ENTRY(options_n_img_hyp))
