/* Whole training runs in-process (train_main with the real data loader on a
 * small generated shapes dataset and a tiny model at 64 px):
 *   - an interrupted run resumed from its last checkpoint ends with the same
 *     checkpoint tensors (and metadata) and results.csv as an uninterrupted
 *     one, with mosaic, multi-scale, SGD and with AdamW, cosine, rect, freeze;
 *   - the same for any --workers and any OpenMP thread count;
 *   - --resume --epochs N extends a finished run with the N-epoch schedule;
 *   - the run directory's files; --save-period, --nosave, --weights;
 *   - the loss falls and the model fits a small dataset;
 *   - a non-finite loss stops the run naming the epoch and batch, keeping the
 *     last good checkpoint; bad inputs fail with exit status 1 or 2. */
#include "train_test_util.h"

#include <omp.h>
#include <stdarg.h>

#include "data/shapes.h"
#include "train/batch_source.h"
#include "train/checkpoint.h"
#include "train/train_run.h"
#include "train/train_val.h"

static char *g_root;     /* scratch directory of this test binary */
static int g_with_val;   /* runs validate the EMA model each epoch (val/val.h) */
static char g_data[700]; /* shapes.yaml of the generated dataset */

static const char *root(void)
{
    if (!g_root) {
        g_root = tmpdir_make("trainrun");
        char dir[600];
        snprintf(dir, sizeof dir, "%s/shapes", g_root);
        ShapesOptions so = {16, 4, 80, 7, 0, 90};
        ShapesSummary sum;
        Error e = {{0}};
        if (shapes_generate(dir, &so, &sum, &e)) printf("    shapes: %s\n", e.msg);
        snprintf(g_data, sizeof g_data, "%s/shapes.yaml", dir);
    }
    return g_root;
}

/* Runs `yolov5c train` with the words of fmt (split on spaces) plus
 * --project <root>/runs. Output goes to files under the root; *err_text (may
 * be NULL) gets stderr's text (malloc'd). */
static int run_train(TrainEnv *env_in, char **err_text, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_train(TrainEnv *env_in, char **err_text, const char *fmt, ...)
{
    char args[2048], *argv[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int argc = 0;
    argv[argc++] = "train";
    for (char *save = NULL, *t = strtok_r(args, " ", &save); t && argc < 90; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    TrainEnv env;
    if (env_in) env = *env_in;
    else train_env_default(&env);
    env.open_source = loader_source_open;
    char out_path[700], err_path[700];
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", root());
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", root());
    FILE *out = fopen(out_path, "w"), *err = fopen(err_path, "w+");
    env.out = out;
    env.err = err;
    env.tty = 0;
    TrainVal val = {0};
    if (g_with_val) {
        env.validate = train_validate;
        env.validate_ctx = &val;
    }
    int rc = train_main(argc, argv, &env);
    train_val_close(&val);
    if (err_text) {
        *err_text = NULL;
        fflush(err);
        long n = ftell(err);
        rewind(err);
        *err_text = calloc((size_t)n + 1, 1);
        if (*err_text && fread(*err_text, 1, (size_t)n, err) != (size_t)n) (*err_text)[0] = 0;
    }
    fclose(out);
    fclose(err);
    return rc;
}

#define COMMON "--cfg " TRAIN_TINY_CFG " --hyp hyps/hyp.scratch-low.yaml --img 64 --batch-size 4 --noplots"

/* Tensor names, bytes and metadata equal, except metadata `options` (which
 * names the run directory). */
static int same_checkpoint(const char *a, const char *b)
{
    SafeTensors x, y;
    Error e = {{0}};
    if (st_read(&x, a, &e) || st_read(&y, b, &e)) {
        printf("    %s\n", e.msg);
        return 0;
    }
    int same = x.count == y.count && x.meta_count == y.meta_count;
    for (int i = 0; same && i < x.count; i++) {
        const StTensor *t = &x.tensors[i], *u = st_find(&y, t->name);
        if (!u || u->nbytes != t->nbytes || memcmp(u->data, t->data, t->nbytes)) {
            printf("    tensor %s differs\n", t->name);
            same = 0;
        }
    }
    for (int i = 0; same && i < x.meta_count; i++) {
        if (!strcmp(x.meta_keys[i], "options")) continue;
        const char *v = st_meta(&y, x.meta_keys[i]);
        if (!v || strcmp(v, x.meta_values[i])) {
            printf("    metadata %s differs\n", x.meta_keys[i]);
            same = 0;
        }
    }
    if (!same && (x.count != y.count || x.meta_count != y.meta_count)) printf("    %d vs %d tensors\n", x.count, y.count);
    st_free(&x);
    st_free(&y);
    return same;
}

static char *read_text(const char *path)
{
    unsigned char *data = NULL;
    size_t size = 0;
    Error e;
    if (fs_read_file(path, &data, &size, &e)) return NULL;
    return (char *)data;
}

static int same_file_text(const char *a, const char *b)
{
    char *x = read_text(a), *y = read_text(b);
    int same = x && y && !strcmp(x, y);
    if (!same) printf("    %s and %s differ\n", a, b);
    free(x);
    free(y);
    return same;
}

/* dir/sub as a path in a static rotating buffer. */
static const char *path_of(const char *run, const char *sub)
{
    static char buf[8][800];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/runs/%s/%s", root(), run, sub);
    return buf[k];
}

static int count_rows(const char *csv_path)
{
    char *t = read_text(csv_path);
    int n = 0;
    for (char *p = t; p && *p; p++) n += *p == '\n';
    free(t);
    return n - 1;
}

/* ---- resume -------------------------------------------------------------------------- */

static void resume_case(const char *tag, const char *flags)
{
    const char *r = root();
    char straight[64], cut[64], cut2[64];
    snprintf(straight, sizeof straight, "%s_straight", tag);
    snprintf(cut, sizeof cut, "%s_cut", tag);
    snprintf(cut2, sizeof cut2, "%s_cut_after_epoch", tag);
    int rc = run_train(NULL, NULL, "--data %s " COMMON " --epochs 3 %s --project %s/runs --name %s", g_data, flags, r,
                       straight);
    CHECK(rc == 0, "straight run: rc %d", rc);

    /* interrupted in the middle of epoch 1, then resumed */
    TrainEnv env;
    train_env_default(&env);
    env.interrupt_epoch = 1;
    env.interrupt_batch = 2;
    rc = run_train(&env, NULL, "--data %s " COMMON " --epochs 3 %s --project %s/runs --name %s", g_data, flags, r, cut);
    CHECK(rc == 130, "interrupted run: rc %d", rc);
    CHECK(count_rows(path_of(cut, "results.csv")) == 1, "interrupted run has 1 row");
    char *err = NULL;
    rc = run_train(NULL, &err, "--resume %s", path_of(cut, "weights/last.safetensors"));
    CHECK(rc == 0, "resume: rc %d: %s", rc, err ? err : "");
    free(err);
    CHECK(same_checkpoint(path_of(straight, "weights/last.safetensors"), path_of(cut, "weights/last.safetensors")),
          "%s: last checkpoints equal", tag);
    CHECK(same_checkpoint(path_of(straight, "weights/best.safetensors"), path_of(cut, "weights/best.safetensors")),
          "%s: best checkpoints equal", tag);
    CHECK(same_file_text(path_of(straight, "results.csv"), path_of(cut, "results.csv")), "%s: results.csv equal", tag);

    /* stopped right after epoch 0's checkpoint; a bare --resume finds the newest run */
    env.interrupt_epoch = 0;
    env.interrupt_batch = -1;
    rc = run_train(&env, NULL, "--data %s " COMMON " --epochs 3 %s --project %s/runs --name %s", g_data, flags, r, cut2);
    CHECK(rc == 130, "interrupted after epoch 0: rc %d", rc);
    rc = run_train(NULL, NULL, "--resume --project %s/runs", r);
    CHECK(rc == 0, "bare --resume: rc %d", rc);
    CHECK(same_checkpoint(path_of(straight, "weights/last.safetensors"), path_of(cut2, "weights/last.safetensors")),
          "%s: checkpoints equal after a resume between epochs", tag);
    CHECK(same_file_text(path_of(straight, "results.csv"), path_of(cut2, "results.csv")), "results.csv equal");
}

static void test_resume_sgd_mosaic_multiscale(void) { resume_case("sgd", "--noval --multi-scale"); }

static void test_resume_adamw_cosine_rect_freeze(void)
{
    resume_case("adamw", "--noval --optimizer AdamW --cos-lr --rect --freeze 2 --label-smoothing 0.1");
}

/* With validation every epoch: metrics, val losses, fitness, best.safetensors
 * and early stopping come out the same after a resume. */
static void test_resume_with_validation(void)
{
    g_with_val = 1;
    resume_case("val", "--patience 2");
    g_with_val = 0;
}

/* ---- determinism ---------------------------------------------------------------------- */

static void test_same_results_for_any_workers_and_threads(void)
{
    const char *r = root();
    int threads = omp_get_max_threads();
    int rc = run_train(NULL, NULL, "--data %s " COMMON " --noval --epochs 2 --multi-scale --workers 0 --project %s/runs --name w0",
                       g_data, r);
    CHECK(rc == 0, "workers 0");
    rc = run_train(NULL, NULL, "--data %s " COMMON " --noval --epochs 2 --multi-scale --workers 3 --project %s/runs --name w3",
                   g_data, r);
    CHECK(rc == 0, "workers 3");
    omp_set_num_threads(1);
    rc = run_train(NULL, NULL, "--data %s " COMMON " --noval --epochs 2 --multi-scale --workers 2 --project %s/runs --name t1",
                   g_data, r);
    CHECK(rc == 0, "1 thread");
    omp_set_num_threads(threads > 1 ? threads : 2);
    rc = run_train(NULL, NULL, "--data %s " COMMON " --noval --epochs 2 --multi-scale --workers 2 --project %s/runs --name t2",
                   g_data, r);
    omp_set_num_threads(threads);
    CHECK(rc == 0, "2 threads");
    const char *names[3] = {"w3", "t1", "t2"};
    for (int k = 0; k < 3; k++) {
        CHECK(same_checkpoint(path_of("w0", "weights/last.safetensors"), path_of(names[k], "weights/last.safetensors")),
              "w0 vs %s", names[k]);
        CHECK(same_file_text(path_of("w0", "results.csv"), path_of(names[k], "results.csv")), "csv w0 vs %s", names[k]);
    }
}

/* ---- extension -------------------------------------------------------------------------- */

/* x/lr0..2 of a results.csv row (epoch e), as text */
static int lr_columns(const char *csv_path, int epoch, char *out, size_t cap)
{
    char *t = read_text(csv_path);
    int rc = -1;
    char *save = NULL;
    int line = 0;
    for (char *l = t ? strtok_r(t, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save), line++) {
        if (line != epoch + 1) continue;
        int commas = 0;
        for (char *p = l; *p; p++)
            if (*p == ',' && ++commas == 11) {
                snprintf(out, cap, "%s", p + 1);
                rc = 0;
                break;
            }
    }
    free(t);
    return rc;
}

static void test_extend_finished_run(void)
{
    const char *r = root();
    int rc = run_train(NULL, NULL, "--data %s " COMMON " --noval --epochs 2 --project %s/runs --name ext", g_data, r);
    CHECK(rc == 0, "2-epoch run");
    rc = run_train(NULL, NULL, "--data %s " COMMON " --noval --epochs 4 --project %s/runs --name four", g_data, r);
    CHECK(rc == 0, "4-epoch run");
    char *err = NULL;
    rc = run_train(NULL, &err, "--resume %s", path_of("ext", "weights/last.safetensors"));
    CHECK(rc == 1 && err && strstr(err, "finished, nothing to resume") && strstr(err, "--epochs"),
          "finished run: rc %d: %s", rc, err ? err : "");
    free(err);
    rc = run_train(NULL, &err, "--resume %s --epochs 2", path_of("ext", "weights/last.safetensors"));
    CHECK(rc == 1 && err && strstr(err, "must be larger"), "--epochs not larger: rc %d: %s", rc, err ? err : "");
    free(err);
    char *before = read_text(path_of("ext", "results.csv"));
    rc = run_train(NULL, &err, "--resume %s --epochs 4 --workers 1", path_of("ext", "weights/last.safetensors"));
    CHECK(rc == 0, "extension: rc %d: %s", rc, err ? err : "");
    free(err);
    char *after = read_text(path_of("ext", "results.csv"));
    CHECK(before && after && !strncmp(before, after, strlen(before)), "the first rows stay");
    CHECK(count_rows(path_of("ext", "results.csv")) == 4, "4 rows");
    /* the added epochs use the 4-epoch schedule: same learning rates as the 4-epoch run */
    for (int epoch = 2; epoch < 4; epoch++) {
        char a[256] = "", b[256] = "";
        lr_columns(path_of("ext", "results.csv"), epoch, a, sizeof a);
        lr_columns(path_of("four", "results.csv"), epoch, b, sizeof b);
        CHECK(a[0] && !strcmp(a, b), "epoch %d lr: %s vs %s", epoch, a, b);
    }
    Checkpoint c;
    Error e = {{0}};
    CHECK(checkpoint_open(&c, path_of("ext", "weights/last.safetensors"), &e) == 0, "%s", e.msg);
    CHECK(c.state.epoch == 3 && c.state.epochs == 4, "epoch %d of %d", c.state.epoch, c.state.epochs);
    CHECK(strstr(c.options_json, "\"epochs\":4") != NULL, "options say 4 epochs");
    checkpoint_close(&c);
    free(before);
    free(after);
}

/* ---- run directory ------------------------------------------------------------------------ */

static void test_run_directory_files(void)
{
    const char *r = root();
    int rc = run_train(NULL, NULL,
                       "--data %s --cfg " TRAIN_TINY_CFG " --img 64 --batch-size 4 --noval --epochs 3 --save-period 2 "
                       "--project %s/runs --name files",
                       g_data, r);
    CHECK(rc == 0, "run");
    static const char *const files[] = {"hyp.yaml", "opt.yaml", "results.csv", "train_batch0.jpg", "train_batch1.jpg",
                                        "train_batch2.jpg", "weights/last.safetensors", "weights/best.safetensors",
                                        "weights/epoch0.safetensors", "weights/epoch2.safetensors"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) CHECK(fs_is_file(path_of("files", files[k])), "%s", files[k]);
    CHECK(!fs_is_file(path_of("files", "weights/epoch1.safetensors")), "no epoch1 with --save-period 2");
    Hyp h, d;
    Error e = {{0}};
    CHECK(hyp_load(&h, path_of("files", "hyp.yaml"), NULL, &e) == 0, "hyp.yaml reads back: %s", e.msg);
    hyp_load(&d, "hyps/hyp.scratch-low.yaml", NULL, &e);
    CHECK(memcmp(&h, &d, offsetof(Hyp, source)) == 0, "hyp.yaml holds the unscaled hyperparameters");
    char *opt = read_text(path_of("files", "opt.yaml"));
    CHECK(opt && strstr(opt, "epochs: 3") && strstr(opt, "batch_size: 4") && strstr(opt, "hyp:\n  lr0: 0.01"), "opt.yaml");
    free(opt);
    /* a second run with the same name goes to files2 */
    rc = run_train(NULL, NULL, "--data %s " COMMON " --noval --epochs 1 --nosave --project %s/runs --name files", g_data, r);
    CHECK(rc == 0 && fs_is_file(path_of("files2", "weights/last.safetensors")), "files2, final epoch saved with --nosave");
    /* the checkpoint's EMA weights start a new run (--weights) */
    char *err = NULL;
    rc = run_train(NULL, &err, "--data %s --weights %s --img 64 --batch-size 4 --noval --noplots --epochs 1 --project %s/runs --name ft",
                   g_data, path_of("files", "weights/last.safetensors"), r);
    CHECK(rc == 0, "fine-tune from a checkpoint: rc %d: %s", rc, err ? err : "");
    free(err);
    char *out = read_text(path_of("..", "stdout.txt"));
    CHECK(out && strstr(out, "Transferred 349/349 items from"), "transfer line");
    free(out);
}

/* ---- learning -------------------------------------------------------------------------------- */

static double total_loss(const char *csv_path, int epoch)
{
    char *t = read_text(csv_path);
    double sum = -1;
    char *save = NULL;
    int line = 0;
    for (char *l = t ? strtok_r(t, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save), line++) {
        if (line != epoch + 1) continue;
        double v[4];
        if (sscanf(l, "%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3]) == 4) sum = v[1] + v[2] + v[3];
    }
    free(t);
    return sum;
}

static void test_loss_falls_and_fits(void)
{
    const char *r = root();
    /* Four images at 128 px without augmentation, all in one batch (batch
     * 64: accumulate 1, one optimizer step per epoch), the wider tiny model,
     * AdamW (YOLOv5's warmup keeps SGD's weight learning rate near 0 for the
     * first 100 steps). One thread: the work is too small to share, and busy
     * machines punish spinning OpenMP threads. */
    char dir[700], data[760];
    snprintf(dir, sizeof dir, "%s/shapes4", r);
    ShapesOptions so = {4, 2, 128, 11, 0, 90};
    ShapesSummary sum;
    Error e = {{0}};
    CHECK(shapes_generate(dir, &so, &sum, &e) == 0, "%s", e.msg);
    snprintf(data, sizeof data, "%s/shapes.yaml", dir);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = run_train(NULL, NULL,
                       "--data %s --cfg tests/fixtures/model_parity/tiny.yaml --hyp hyps/hyp.no-augmentation.yaml --img 128 "
                       "--batch-size 64 --optimizer AdamW --noval --noplots --noautoanchor --epochs 100 --workers 0 "
                       "--project %s/runs --name fit",
                       data, r);
    omp_set_num_threads(threads);
    CHECK(rc == 0, "rc %d", rc);
    double first = total_loss(path_of("fit", "results.csv"), 0), last = total_loss(path_of("fit", "results.csv"), 99);
    printf("    loss (box + obj + cls) epoch 0 %.4f, epoch 99 %.4f\n", first, last);
    CHECK(first > 0 && last > 0 && last < 0.45 * first, "loss %g -> %g", first, last);
}

/* ---- failures ----------------------------------------------------------------------------------- */

static void test_non_finite_loss_stops_training(void)
{
    const char *r = root();
    char hyp[700];
    snprintf(hyp, sizeof hyp, "%s/explode.yaml", r);
    FILE *f = fopen(hyp, "w");
    if (f) {
        fprintf(f, "lr0: 1.0e+30\nwarmup_bias_lr: 1.0e+30\nwarmup_epochs: 0.0\n");
        fclose(f);
    }
    char *err = NULL;
    int rc = run_train(NULL, &err,
                       "--data %s --cfg " TRAIN_TINY_CFG " --hyp %s --img 64 --batch-size 4 --noval --noplots --epochs 5 "
                       "--project %s/runs --name nan",
                       g_data, hyp, r);
    CHECK(rc == 1 && err && strstr(err, "non-finite") && strstr(err, "at epoch ") && strstr(err, " batch "),
          "rc %d: %s", rc, err ? err : "");
    free(err);
    Checkpoint c;
    Error e = {{0}};
    if (fs_is_file(path_of("nan", "weights/last.safetensors"))) {
        CHECK(checkpoint_open(&c, path_of("nan", "weights/last.safetensors"), &e) == 0, "last good checkpoint readable: %s",
              e.msg);
        checkpoint_close(&c);
    } else {
        CHECK(1, "failed in the first epoch: no checkpoint");
    }
}

static void test_bad_inputs(void)
{
    const char *r = root();
    static const struct {
        const char *args;
        int rc;
        const char *msg;
    } cases[] = {
        {"--data /nonexistent/d.yaml --cfg " TRAIN_TINY_CFG, 1, "no such dataset YAML"},
        {"--data DATA --cfg /nonexistent/m.yaml", 1, "no such model YAML"},
        {"--data DATA --cfg tests/fixtures/model/bad_unknown_module.yaml", 1, "unknown module"},
        {"--data DATA --weights /nonexistent/w.safetensors", 1, "no such weights file"},
        {"--data DATA --cfg " TRAIN_TINY_CFG " --hyp tests/fixtures/hyp/bad_type.yaml", 1, "bad_type.yaml"},
        {"--data DATA", 2, "either --cfg or --weights"},
        {"--data DATA --cfg " TRAIN_TINY_CFG " --epochs x", 2, "--epochs must be an integer"},
        {"--resume tests/fixtures/ckpt/release_tiny.expected.safetensors", 1, "not a training checkpoint"},
        {"--resume /nonexistent/last.safetensors", 1, "/nonexistent/last.safetensors"},
        {"--resume x.safetensors --batch-size 8", 2, "only --epochs"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char args[1024];
        const char *d = strstr(cases[k].args, "DATA");
        if (d) snprintf(args, sizeof args, "%.*s%s%s", (int)(d - cases[k].args), cases[k].args, g_data, d + 4);
        else snprintf(args, sizeof args, "%s", cases[k].args);
        char *err = NULL;
        int rc = strncmp(args, "--resume", 8) ? run_train(NULL, &err, "%s --img 64 --project %s/runs --name bad", args, r)
                                               : run_train(NULL, &err, "%s", args);
        CHECK(rc == cases[k].rc && err && strstr(err, cases[k].msg), "'%s': rc %d: %s", cases[k].args, rc,
              err ? err : "");
        if (cases[k].rc == 2) CHECK(err && strstr(err, "usage: yolov5c train"), "usage printed");
        free(err);
    }
}

static void test_zz_cleanup(void)
{
    CHECK(g_root != NULL, "scratch directory");
    if (g_root && !getenv("YV5_KEEP_TMP")) rm_rf(g_root);
}

TEST_MAIN(TEST_ENTRY(test_resume_sgd_mosaic_multiscale), TEST_ENTRY(test_resume_adamw_cosine_rect_freeze),
          TEST_ENTRY(test_resume_with_validation),
          TEST_ENTRY(test_same_results_for_any_workers_and_threads), TEST_ENTRY(test_extend_finished_run),
          TEST_ENTRY(test_run_directory_files), TEST_ENTRY(test_loss_falls_and_fits),
          TEST_ENTRY(test_non_finite_loss_stops_training), TEST_ENTRY(test_bad_inputs), TEST_ENTRY(test_zz_cleanup))
