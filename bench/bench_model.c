/* Whole-model benchmark: YOLOv5 training steps and inference, ours against
 * PyTorch on the same machine in the same run.
 *
 *   bench_model                 full suite (yolov5n/s, 320/640, 1 and 2 threads; ~5 min)
 *   bench_model --quick         yolov5n at 320 only, short timings (~1 min)
 *   options: --json PATH (default build/bench/results.json), --no-pytorch,
 *            --pytorch-all (also the slow PyTorch rows, see below; ~+7 min),
 *            --only SUBSTRING (workloads whose name contains it, e.g. "train n320"),
 *            --min-time SECONDS (timed seconds per workload and side)
 *
 * Where the CPU has AVX512_BF16, every workload also runs ours with the
 * opt-in bf16 products (Model.precision = GEMM_BF16, train/val/detect --bf16):
 * the "bf16" columns.
 *
 * Workloads: "train": one full training step at batch 16 (zero grad, train-mode
 * forward, the YOLOv5 loss on synthetic targets with its gradient, backward, an
 * SGD step as train.py's optimizer); "infer": an eval-mode forward with the
 * Detect decode (no NMS) at batch 1 and 16. Inputs are random images.
 *
 * Each workload runs in a fresh child process (this binary with --child, and
 * scripts/bench_pytorch.py for PyTorch when /usr/bin/python3 has torch), so
 * peak RSS is the workload's own. A child runs one warm-up step (ours: sizes
 * the arena, the loss buffers and the per-thread scratch; PyTorch: its
 * allocator and oneDNN caches), then timed steps until --min-time seconds
 * have passed (0.5 s by default) and at least MIN_STEPS_OURS /
 * MIN_STEPS_PYTORCH were timed; the figure is the best step. PyTorch needs
 * three: its step time keeps falling for a few steps (see the script's
 * notes); ours is flat from the second step (yolov5n 320: 0.58-0.62 s over 8
 * steps), two are for the noise (one when a step takes LONG_STEP_S or more). Allocations per step count every
 * malloc/calloc/realloc/aligned_alloc/posix_memalign call of the timed steps
 * (a counting wrapper around glibc's allocator, this binary only).
 *
 * Time: PyTorch's steps at 640 take 3-45 s each (its first ones the most),
 * so to keep the suite near 5 minutes on 2 cores the PyTorch column is left
 * out by default on the six slowest rows (pytorch_slow: yolov5s 640 training
 * and batch-16 inference, and yolov5n 640 training and batch-16 inference on
 * one thread; half a minute to two minutes of PyTorch each); the table says
 * so, and --pytorch-all runs them too. Our side runs every row.
 *
 * GFLOP/s use YOLOv5's FLOP count (model_gflops, spec §1.4) of one image,
 * three times that for a training step (forward + two backward products); the
 * peak is the FMA loop of bench_common.h with the same number of threads.
 * The machine is shared: the load average before and after each workload goes
 * into the JSON, and "ratio" is PyTorch's best step time over ours. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "util/alloc_count.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/rng.h"
#include "hyp/hyp.h"
#include "loss/loss.h"
#include "model/flops.h"
#include "model/model.h"
#include "optim/optimizer.h"

/* ------------------------------------------------------------------------ */
/* Workloads                                                                 */

typedef enum { MODE_TRAIN, MODE_INFER } Mode;

typedef struct {
    Mode mode;
    char model; /* 'n' or 's' */
    int img, batch, threads;
    int bf16; /* ours with GEMM_BF16 products (the opt-in --bf16 mode) */
} Workload;

typedef struct {
    int ok;
    double seconds;      /* best step */
    double images_per_s;
    double peak_rss_mb;
    double allocs_per_step; /* ours only; -1 when not measured */
    int steps;
    char error[256];
} SideResult;

/* Timed steps at least, after the warm-up step (see the top of the file);
 * ours: one when that one took LONG_STEP_S or more (noise is small there). */
#define MIN_STEPS_OURS 2
#define MIN_STEPS_PYTORCH 3
#define LONG_STEP_S 3.0

static const char *mode_name(Mode m) { return m == MODE_TRAIN ? "train" : "infer"; }

/* The 640 rows whose PyTorch side (start, warm-up step, three timed steps)
 * takes half a minute or more on 2 Zen 5 cores: yolov5s training and batch-16
 * inference, and yolov5n's on one thread (its two-thread rows stay, as do
 * all batch-1 rows). Left out unless --pytorch-all. */
static int pytorch_slow(const Workload *w)
{
    if (w->img < 640 || (w->mode == MODE_INFER && w->batch == 1)) return 0;
    return w->model == 's' || w->threads == 1;
}

static void workload_name(const Workload *w, char *out, size_t cap)
{
    snprintf(out, cap, "%s %c%d b%d t%d", mode_name(w->mode), w->model, w->img, w->batch, w->threads);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_rss_mb_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* Same synthetic targets as the PyTorch side draws (same distribution, not the
 * same numbers): per image, centres in [0.1, 0.9), sizes in [0.02, 0.32). */
static float *synthetic_targets(int batch, int per_image, Rng *rng)
{
    float *t = malloc((size_t)batch * per_image * 6 * sizeof(float));
    if (!t) return NULL;
    for (int b = 0; b < batch; b++) {
        for (int i = 0; i < per_image; i++) {
            float *row = t + ((size_t)b * per_image + i) * 6;
            row[0] = (float)b;
            row[1] = (float)rng_int(rng, 0, 79);
            row[2] = (float)(0.1 + 0.8 * rng_uniform(rng));
            row[3] = (float)(0.1 + 0.8 * rng_uniform(rng));
            row[4] = (float)(0.02 + 0.3 * rng_uniform(rng));
            row[5] = (float)(0.02 + 0.3 * rng_uniform(rng));
        }
    }
    return t;
}

typedef struct {
    Model model;
    Loss loss;
    Optimizer opt;
    float *images, *targets;
    int nt;
    const Workload *w;
    int have_loss, have_opt;
} Runner;

static int runner_step(Runner *r, Error *e)
{
    const Workload *w = r->w;
    Model *m = &r->model;
    if (w->mode == MODE_INFER) return model_forward(m, r->images, w->batch, w->img, w->img, MODEL_EVAL, e);
    model_zero_grad(m);
    if (model_forward(m, r->images, w->batch, w->img, w->img, MODEL_TRAIN, e) != 0) return -1;
    LossInput in = {.batch = w->batch, .targets = r->targets, .nt = r->nt};
    for (int l = 0; l < m->out.nl; l++) {
        in.ny[l] = m->out.h[l];
        in.nx[l] = m->out.w[l];
        in.pred[l] = m->out.pred[l];
    }
    LossResult res;
    if (loss_compute(&r->loss, &in, m->out.dpred, &res, e) != 0) return -1;
    if (model_backward(m, NULL, NULL, e) != 0) return -1;
    optimizer_step(&r->opt, m->params, m->grads);
    return 0;
}

static int runner_init(Runner *r, const Workload *w, const char *models_dir, Error *e)
{
    memset(r, 0, sizeof *r);
    r->w = w;
    char path[1024];
    snprintf(path, sizeof path, "%s/yolov5%c.yaml", models_dir, w->model);
    if (model_create_from_yaml(&r->model, path, 0, e) != 0) return -1;
    r->model.precision = w->bf16 ? GEMM_BF16 : GEMM_FP32;
    Rng rng;
    rng_seed(&rng, 1);
    model_init_weights(&r->model, &rng);
    size_t n_img = (size_t)w->batch * 3 * w->img * w->img;
    r->images = malloc(n_img * sizeof(float));
    if (!r->images) return err_set(e, "out of memory for the images");
    for (size_t i = 0; i < n_img; i++) r->images[i] = (float)rng_uniform(&rng);
    ModelMode mode = w->mode == MODE_TRAIN ? MODEL_TRAIN : MODEL_EVAL;
    if (model_reserve(&r->model, w->batch, w->img, w->img, mode, e) != 0) return -1;
    if (w->mode == MODE_INFER) return 0;

    r->nt = 8 * w->batch;
    r->targets = synthetic_targets(w->batch, 8, &rng);
    if (!r->targets) return err_set(e, "out of memory for the targets");
    const DetectParams *d = &r->model.table.detect;
    Hyp h;
    hyp_default(&h);
    hyp_rescale(&h, d->nl, r->model.nc, w->img);
    LossConfig lc;
    if (loss_config_from_hyp(&lc, &h, d->nl, e) != 0) return -1;
    LossModel lm = {d->nl, d->na, r->model.nc, r->model.buffers + d->anchors, r->model.stride};
    if (loss_init(&r->loss, &lm, &lc, e) != 0) return -1;
    r->have_loss = 1;
    /* train.py scales the decay by batch * accumulate / nbs; batch 16 with
     * nbs 64 accumulates 4 batches, so the scale is 1. */
    OptimizerConfig oc = {OPTIM_SGD, h.lr0, h.momentum, h.weight_decay};
    if (optimizer_init(&r->opt, &oc, &r->model.table, NULL, e) != 0) return -1;
    r->have_opt = 1;
    return 0;
}

static void runner_free(Runner *r)
{
    if (r->have_opt) optimizer_free(&r->opt);
    if (r->have_loss) loss_free(&r->loss);
    model_free(&r->model);
    free(r->images);
    free(r->targets);
}

/* Runs one workload in this process and prints its result as one JSON line. */
static int child_main(const Workload *w, const char *models_dir, double min_time)
{
    omp_set_num_threads(w->threads);
    Error e = {0};
    Runner r;
    SideResult res = {0};
    res.allocs_per_step = -1;
    if (runner_init(&r, w, models_dir, &e) != 0) goto fail;
    if (runner_step(&r, &e) != 0) goto fail; /* warm-up */
    double best = 1e30, spent = 0;
    int steps = 0;
    alloc_count_start();
    while (steps < 1 || (steps < MIN_STEPS_OURS && spent < LONG_STEP_S) || (spent < min_time && steps < 200)) {
        double s0 = now_s();
        if (runner_step(&r, &e) != 0) goto fail;
        double dt = now_s() - s0;
        if (dt < best) best = dt;
        spent += dt;
        steps++;
    }
    const long allocs = alloc_count_stop();
    res.ok = 1;
    res.seconds = best;
    res.images_per_s = w->batch / best;
    res.steps = steps;
    res.allocs_per_step = (double)allocs / steps;
    res.peak_rss_mb = peak_rss_mb_self();
    printf("{\"ok\": true, \"seconds\": %.6f, \"images_per_s\": %.4f, \"steps\": %d, \"peak_rss_mb\": %.1f, "
           "\"allocs_per_step\": %.2f}\n",
           res.seconds, res.images_per_s, res.steps, res.peak_rss_mb, res.allocs_per_step);
    runner_free(&r);
    return 0;
fail:
    printf("{\"ok\": false, \"error\": \"%s\"}\n", e.msg);
    runner_free(&r);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Parent: runs children, collects results                                   */

/* Runs `cmd` and parses the last line it printed that starts with '{'. */
static SideResult run_side(const char *cmd)
{
    SideResult res = {0};
    res.allocs_per_step = -1;
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(res.error, sizeof res.error, "cannot run: %s", cmd);
        return res;
    }
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof line, p))
        if (line[0] == '{') snprintf(last, sizeof last, "%s", line);
    int status = pclose(p);
    cJSON *j = cJSON_Parse(last);
    cJSON *ok = j ? cJSON_GetObjectItem(j, "ok") : NULL;
    if (!j || !cJSON_IsTrue(ok)) {
        cJSON *err = j ? cJSON_GetObjectItem(j, "error") : NULL;
        snprintf(res.error, sizeof res.error, "%s (exit status %d)",
                 cJSON_IsString(err) ? err->valuestring : "no result", status);
        cJSON_Delete(j);
        return res;
    }
    res.ok = 1;
    res.seconds = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seconds"));
    res.images_per_s = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "images_per_s"));
    res.peak_rss_mb = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "peak_rss_mb"));
    res.steps = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "steps"));
    cJSON *a = cJSON_GetObjectItem(j, "allocs_per_step");
    if (cJSON_IsNumber(a)) res.allocs_per_step = a->valuedouble;
    cJSON_Delete(j);
    return res;
}

static int have_torch(void)
{
    return system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

static cJSON *side_json(const SideResult *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", s->ok);
    if (!s->ok) {
        cJSON_AddStringToObject(o, "error", s->error);
        return o;
    }
    cJSON_AddNumberToObject(o, "seconds_per_step", s->seconds);
    cJSON_AddNumberToObject(o, "images_per_s", s->images_per_s);
    cJSON_AddNumberToObject(o, "peak_rss_mb", s->peak_rss_mb);
    cJSON_AddNumberToObject(o, "timed_steps", s->steps);
    if (s->allocs_per_step >= 0) cJSON_AddNumberToObject(o, "allocs_per_step", s->allocs_per_step);
    return o;
}

static void mkdir_parents(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        mkdir(buf, 0755);
        *s = '/';
    }
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick] [--json PATH] [--no-pytorch] [--pytorch-all] [--only SUBSTRING] [--min-time S]\n"
            "          [--models DIR] [--script PATH]\n",
            argv0);
    return 2;
}

static int parse_child(char **argv, Workload *w)
{
    w->mode = !strcmp(argv[0], "train") ? MODE_TRAIN : MODE_INFER;
    w->model = argv[1][0];
    w->img = atoi(argv[2]);
    w->batch = atoi(argv[3]);
    w->threads = atoi(argv[4]);
    w->bf16 = !strcmp(argv[6], "bf16");
    if (w->bf16 && !gemm_bf16_available()) return -1;
    return (w->model == 'n' || w->model == 's') && w->img > 0 && w->batch > 0 && w->threads > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int quick = 0, pytorch = 1, pytorch_all = 0;
    const char *json_path = "build/bench/results.json", *only = NULL, *models_dir = "models";
    const char *script = "scripts/bench_pytorch.py";
    double min_time = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--child") && i + 7 < argc) {
            Workload w;
            if (parse_child(argv + i + 1, &w) != 0) return usage(argv[0]);
            return child_main(&w, models_dir, atof(argv[i + 6]));
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--no-pytorch")) {
            pytorch = 0;
        } else if (!strcmp(argv[i], "--pytorch-all")) {
            pytorch_all = 1;
        } else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
            json_path = argv[++i];
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) {
            min_time = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--models") && i + 1 < argc) {
            models_dir = argv[++i];
        } else if (!strcmp(argv[i], "--script") && i + 1 < argc) {
            script = argv[++i];
        } else {
            return usage(argv[0]);
        }
    }
    if (min_time < 0) min_time = quick ? 0.3 : 0.5;

    char self[1024];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "bench_model: cannot read /proc/self/exe\n");
        return 1;
    }
    self[len] = 0;

    /* The workload list. */
    Workload list[64];
    int count = 0;
    const char models[2] = {'n', 's'};
    const int imgs[2] = {320, 640};
    for (int mi = 0; mi < (quick ? 1 : 2); mi++)
        for (int ii = 0; ii < (quick ? 1 : 2); ii++) {
            for (int t = 1; t <= 2; t++) list[count++] = (Workload){MODE_TRAIN, models[mi], imgs[ii], 16, t, 0};
            for (int b = 0; b < 2; b++)
                for (int t = 1; t <= 2; t++)
                    list[count++] = (Workload){MODE_INFER, models[mi], imgs[ii], b ? 16 : 1, t, 0};
        }

    int torch_ok = pytorch && have_torch();
    if (pytorch && !torch_ok) {
        printf("PyTorch: /usr/bin/python3 cannot import torch; the PyTorch column is skipped.\n");
    } else if (torch_ok && access(script, R_OK) != 0) {
        printf("PyTorch: %s not found (run from the repository root); the PyTorch column is skipped.\n", script);
        torch_ok = 0;
    }

    Isa best = cpu_best_isa();
    double peak[3] = {0, 0, 0};
    Isa peak_isa = best >= ISA_AVX512 ? ISA_AVX512 : ISA_AVX2;
    if (best >= ISA_AVX2) {
        long iters = quick ? 20000000L : 50000000L;
        for (int t = 1; t <= 2; t++) peak[t] = fma_peak(peak_isa, t, iters);
        printf("fp32 FMA peak (%s), measured: %.1f GFLOP/s on 1 thread, %.1f on 2", isa_name(peak_isa), peak[1],
               peak[2]);
        /* Other load depresses the 2-thread figure most; the cores are alike,
         * so two cores' peak is at least twice one core's. */
        if (peak[2] < 2 * peak[1]) {
            peak[2] = 2 * peak[1];
            printf(" (%%peak uses %.1f for 2 threads)", peak[2]);
        }
        printf("\n");
    } else {
        printf("no AVX2: peak not measured\n");
    }
    double load_start = load_average();
    printf("load average at start: %.2f (2 cores; other load slows the 2-thread rows most)\n\n", load_start);

    cJSON *root = cJSON_CreateObject();
    cJSON *machine = cJSON_AddObjectToObject(root, "machine");
    cJSON_AddStringToObject(machine, "isa", isa_name(best));
    cJSON_AddNumberToObject(machine, "cores_online", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(machine, "fma_peak_gflops_1thread", peak[1]);
    cJSON_AddNumberToObject(machine, "fma_peak_gflops_2threads", peak[2]);
    cJSON_AddNumberToObject(root, "load_average_start", load_start);
    cJSON_AddBoolToObject(root, "quick", quick);
    cJSON_AddBoolToObject(root, "pytorch", torch_ok);
    cJSON_AddBoolToObject(root, "pytorch_all", torch_ok && pytorch_all);
    cJSON_AddNumberToObject(root, "min_time_s", min_time);
    cJSON_AddNumberToObject(root, "min_steps_ours", MIN_STEPS_OURS);
    cJSON_AddNumberToObject(root, "min_steps_pytorch", MIN_STEPS_PYTORCH);
    cJSON *rows = cJSON_AddArrayToObject(root, "workloads");

    const int bf16_ok = gemm_bf16_available();
    cJSON_AddBoolToObject(root, "bf16", bf16_ok);
    printf("%-18s %8s %7s %6s %8s %7s | %8s | %8s %8s | %6s %6s %6s\n", "workload", "img/s", "GFLOP/s", "%peak",
           "RSS MB", "alloc", "bf16", "torch", "RSS MB", "ratio", "bf16", "load");
    int failures = 0, skipped_rows = 0;
    for (int i = 0; i < count; i++) {
        const Workload *w = &list[i];
        char name[64];
        workload_name(w, name, sizeof name);
        if (only && !strstr(name, only)) continue;
        double load_before = load_average();
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s' --models '%s' --child %s %c %d %d %d %g fp32", self, models_dir,
                 mode_name(w->mode), w->model, w->img, w->batch, w->threads, min_time);
        double wall0 = now_s();
        SideResult ours = run_side(cmd);
        const double ours_wall = now_s() - wall0;
        SideResult bf16 = {0};
        if (bf16_ok) {
            snprintf(cmd, sizeof cmd, "'%s' --models '%s' --child %s %c %d %d %d %g bf16", self, models_dir,
                     mode_name(w->mode), w->model, w->img, w->batch, w->threads, min_time);
            bf16 = run_side(cmd);
        }
        SideResult torch = {0};
        double torch_wall = 0;
        const int torch_skipped = torch_ok && !pytorch_all && pytorch_slow(w);
        if (torch_ok && !torch_skipped) {
            snprintf(cmd, sizeof cmd,
                     "/usr/bin/python3 '%s' --mode %s --model %c --img %d --batch %d --threads %d --min-time %g "
                     "--warmup 1 --min-steps %d",
                     script, mode_name(w->mode), w->model, w->img, w->batch, w->threads, min_time,
                     MIN_STEPS_PYTORCH);
            wall0 = now_s();
            torch = run_side(cmd);
            torch_wall = now_s() - wall0;
        }
        skipped_rows += torch_skipped;
        double load_after = load_average();

        char cfg_path[1024];
        snprintf(cfg_path, sizeof cfg_path, "%s/yolov5%c.yaml", models_dir, w->model);
        ModelConfig cfg;
        Error e = {0};
        double gflop_img = -1;
        if (model_config_load(cfg_path, 0, &cfg, &e) == 0) {
            gflop_img = model_gflops(&cfg, w->img, w->img);
            model_config_free(&cfg);
        }
        double gflop_step_img = gflop_img * (w->mode == MODE_TRAIN ? 3 : 1);
        double gflops = ours.ok ? ours.images_per_s * gflop_step_img : 0;
        double ratio = ours.ok && torch.ok ? torch.seconds / ours.seconds : 0;

        const double bf16_ratio = bf16.ok && torch.ok ? torch.seconds / bf16.seconds : 0;
        char ours_col[160], torch_col[64], ratio_col[16], bf16_col[16], bf16_ratio_col[16];
        if (bf16.ok)
            snprintf(bf16_col, sizeof bf16_col, "%8.1f", bf16.images_per_s);
        else
            snprintf(bf16_col, sizeof bf16_col, "%8s", bf16_ok ? "FAILED" : "-");
        if (bf16_ratio > 0)
            snprintf(bf16_ratio_col, sizeof bf16_ratio_col, "%5.2fx", bf16_ratio);
        else
            snprintf(bf16_ratio_col, sizeof bf16_ratio_col, "%6s", "-");
        if (ours.ok)
            snprintf(ours_col, sizeof ours_col, "%8.1f %7.1f %5.1f%% %8.0f %7.1f", ours.images_per_s, gflops,
                     peak[w->threads] > 0 ? 100 * gflops / peak[w->threads] : 0, ours.peak_rss_mb,
                     ours.allocs_per_step);
        else
            snprintf(ours_col, sizeof ours_col, "%-40s", "FAILED");
        if (torch.ok)
            snprintf(torch_col, sizeof torch_col, "%8.1f %8.0f", torch.images_per_s, torch.peak_rss_mb);
        else
            snprintf(torch_col, sizeof torch_col, "%17s", torch_skipped ? "skipped (slow)" : torch_ok ? "FAILED" : "-");
        if (ratio > 0)
            snprintf(ratio_col, sizeof ratio_col, "%5.2fx", ratio);
        else
            snprintf(ratio_col, sizeof ratio_col, "%6s", "-");
        printf("%-18s %s | %s | %s | %s %s %6.2f\n", name, ours_col, bf16_col, torch_col, ratio_col, bf16_ratio_col,
               load_after);
        if (!ours.ok) {
            printf("    ours: %s\n", ours.error);
            failures++;
        }
        if (bf16_ok && !bf16.ok) {
            printf("    ours bf16: %s\n", bf16.error);
            failures++;
        }
        if (torch_ok && !torch_skipped && !torch.ok) printf("    pytorch: %s\n", torch.error);
        fflush(stdout);

        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "name", name);
        cJSON_AddStringToObject(row, "mode", mode_name(w->mode));
        char model_name[16];
        snprintf(model_name, sizeof model_name, "yolov5%c", w->model);
        cJSON_AddStringToObject(row, "model", model_name);
        cJSON_AddNumberToObject(row, "img", w->img);
        cJSON_AddNumberToObject(row, "batch", w->batch);
        cJSON_AddNumberToObject(row, "threads", w->threads);
        cJSON_AddNumberToObject(row, "gflop_per_image_forward", gflop_img);
        cJSON *o = side_json(&ours);
        if (ours.ok) {
            cJSON_AddNumberToObject(o, "gflops", gflops);
            cJSON_AddNumberToObject(o, "fraction_of_peak", peak[w->threads] > 0 ? gflops / peak[w->threads] : 0);
        }
        cJSON_AddNumberToObject(o, "wall_s", ours_wall); /* the whole child: start, warm-up, timed steps */
        cJSON_AddItemToObject(row, "ours", o);
        if (bf16_ok) {
            cJSON_AddItemToObject(row, "ours_bf16", side_json(&bf16));
            if (bf16_ratio > 0) cJSON_AddNumberToObject(row, "bf16_speedup_vs_pytorch", bf16_ratio);
        }
        if (torch_skipped) {
            cJSON *t = cJSON_AddObjectToObject(row, "pytorch");
            cJSON_AddBoolToObject(t, "ok", 0);
            cJSON_AddStringToObject(t, "skipped", "slow row: run bench_model --pytorch-all");
        } else if (torch_ok) {
            cJSON *t = side_json(&torch);
            cJSON_AddNumberToObject(t, "wall_s", torch_wall);
            if (torch.ok) cJSON_AddNumberToObject(t, "gflops", torch.images_per_s * gflop_step_img);
            cJSON_AddItemToObject(row, "pytorch", t);
            if (ratio > 0) cJSON_AddNumberToObject(row, "speedup_vs_pytorch", ratio);
        }
        cJSON_AddNumberToObject(row, "load_before", load_before);
        cJSON_AddNumberToObject(row, "load_after", load_after);
        cJSON_AddItemToArray(rows, row);
    }
    printf("\nimg/s: images per second (best step); GFLOP/s: YOLOv5 FLOPs (training step = 3x forward);\n"
           "alloc: heap allocations per step after warm-up; ratio: PyTorch step time / ours.\n"
           "bf16: ours with --bf16 (bfloat16 GEMM operands, fp32 sums; AVX512_BF16 CPUs only), img/s and ratio.\n"
           "Timing: one warm-up step, then at least %g s and %d (ours; 1 when a step takes %g s or more) /\n"
           "%d (PyTorch: its step time falls for a few steps) timed steps.\n",
           min_time, MIN_STEPS_OURS, LONG_STEP_S, MIN_STEPS_PYTORCH);
    if (skipped_rows)
        printf("PyTorch skipped on %d slow row%s (0.5-2 min of PyTorch each; "
               "bench_model --pytorch-all includes them, ~7 min more).\n",
               skipped_rows, skipped_rows > 1 ? "s" : "");

    char *text = cJSON_Print(root);
    mkdir_parents(json_path);
    FILE *f = text ? fopen(json_path, "w") : NULL;
    if (f) {
        fputs(text, f);
        fputc('\n', f);
        fclose(f);
        printf("results: %s\n", json_path);
    } else {
        fprintf(stderr, "bench_model: cannot write %s\n", json_path);
        failures++;
    }
    free(text);
    cJSON_Delete(root);
    return failures ? 1 : 0;
}
