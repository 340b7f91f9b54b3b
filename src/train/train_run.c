/* `yolov5c train` from argv to the last checkpoint (train_run.h). */
#include "train/train_run.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anchors/autoanchor.h"
#include "core/gemm.h"
#include "data/fsutil.h"
#include "hyp/hyp.h"
#include "optim/pyfloat.h"
#include "draw/plot_images.h"
#include "train/checkpoint.h"
#include "train/hyp_json.h"
#include "train/progress.h"
#include "train/results_csv.h"
#include "train/run_dir.h"

/* Set by the SIGINT/SIGTERM handler, read between batches. A signal handler
 * can only talk to the loop through a static flag. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
    signal(sig, SIG_DFL); /* a second Ctrl-C ends the process at once (checkpoint writes are atomic) */
}

void train_env_default(TrainEnv *env)
{
    memset(env, 0, sizeof *env);
    env->tty = -1;
    env->interrupt_epoch = -1;
    env->interrupt_batch = -1;
}

/* ---- helpers ------------------------------------------------------------------ */

typedef struct {
    FILE *out, *err;
    int tty;
} Console;

static int fail(const Console *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const Console *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(c->out);
    fprintf(c->err, "yolov5c train: ");
    vfprintf(c->err, fmt, ap);
    fprintf(c->err, "\n");
    va_end(ap);
    return 1;
}

static const char *bold(const Console *c, const char *s, char *buf, size_t cap)
{
    if (!c->tty) return s;
    snprintf(buf, cap, "\033[1m%s\033[0m", s);
    return buf;
}

/* FNV-1a 64 over what defines the training data: each image's path below the
 * dataset root, its size and its label rows. */
static void dataset_fingerprint(const Dataset *ds, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
#define FNV(ptr, len)                                                        \
    do {                                                                     \
        const unsigned char *p_ = (const unsigned char *)(ptr);              \
        for (size_t k_ = 0; k_ < (size_t)(len); k_++) h = (h ^ p_[k_]) * 1099511628211ULL; \
    } while (0)
    const DatasetSplit *s = &ds->split[SPLIT_TRAIN];
    const char *root = ds->cfg.root ? ds->cfg.root : "";
    size_t rl = strlen(root);
    uint64_t n = s->n_images;
    FNV(&n, sizeof n);
    for (size_t i = 0; i < s->n_images; i++) {
        const DatasetImage *im = &s->images[i];
        const char *p = im->path;
        if (rl && !strncmp(p, root, rl) && p[rl] == '/') p += rl + 1;
        FNV(p, strlen(p) + 1);
        int32_t wh[2] = {im->width, im->height};
        FNV(wh, sizeof wh);
        FNV(s->labels.rows + im->label_start * LABEL_FIELDS, im->label_count * LABEL_FIELDS * sizeof(float));
    }
#undef FNV
    snprintf(out, 17, "%016" PRIx64, h);
}

static void print_scan(const Console *c, const Dataset *ds, SplitKind k)
{
    const DatasetSplit *s = &ds->split[k];
    const SplitConfig *sc = &ds->cfg.split[k];
    const ScanStats *st = &s->stats;
    fprintf(c->out, "%s: Scanning %s... %zu images, %zu backgrounds, %zu corrupt, %zu instances (cache %s)\n",
            split_name(k), sc->annotations ? sc->annotations : sc->sources.count ? sc->sources.items[0] : "?",
            st->images, st->backgrounds, st->corrupt, st->instances, s->cache_path ? s->cache_note : "off");
    const Warnings *w = &s->warnings;
    size_t show = w->kept.count < 10 ? w->kept.count : 10;
    for (size_t i = 0; i < show; i++) fprintf(c->err, "%s: WARNING %s\n", split_name(k), w->kept.items[i]);
    if (w->total > show) fprintf(c->err, "%s: ... %zu more warnings ('yolov5c dataset --data ... --verbose' lists them)\n",
                                 split_name(k), w->total - show);
}

static void print_args(const Console *c, const TrainOptions *o)
{
    char num[64];
    fprintf(c->out, c->tty ? "\033[34m\033[1mtrain: \033[0m" : "train: ");
    fprintf(c->out, "weights=%s, cfg=%s, data=%s, hyp=%s, epochs=%d, batch_size=%d, imgsz=%d, rect=%s, resume=%s, "
                    "nosave=%s, noval=%s, noautoanchor=%s, noplots=%s, cache=%s, multi_scale=%s, optimizer=%s, "
                    "workers=%d, project=%s, name=%s, exist_ok=%s, cos_lr=%s, ",
            o->weights, o->cfg, o->data, o->hyp, o->epochs, o->batch_size, o->imgsz, o->rect ? "True" : "False",
            o->resume ? "True" : "False", o->nosave ? "True" : "False", o->noval ? "True" : "False",
            o->noautoanchor ? "True" : "False", o->noplots ? "True" : "False",
            o->cache ? cache_mode_name(o->cache) : "None", o->multi_scale ? "True" : "False",
            optimizer_kind_name(o->optimizer), o->workers, o->project, o->name, o->exist_ok ? "True" : "False",
            o->cos_lr ? "True" : "False");
    py_float_repr(o->label_smoothing < 0 ? 0.0 : o->label_smoothing, num, sizeof num);
    fprintf(c->out, "label_smoothing=%s, patience=%d, freeze=[", num, o->patience);
    for (int i = 0; i < o->n_freeze; i++) fprintf(c->out, i ? ", %d" : "%d", o->freeze[i]);
    fprintf(c->out, "], save_period=%d, seed=%" PRIu64 "%s\n", o->save_period, o->seed, o->bf16 ? ", bf16=True" : "");
}

static int write_hyp_yaml(const Hyp *h, const char *path, Error *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return err_set(e, "%s: out of memory", path);
    int rc = hyp_write(h, f, e);
    if (fclose(f) != 0 && rc == 0) rc = err_set(e, "%s: out of memory", path);
    if (rc == 0) rc = fs_write_atomic(path, buf, len, e);
    free(buf);
    return rc;
}

/* The model of a fresh run: --cfg, or the --weights file's model_yaml. */
static int build_fresh_model(const TrainOptions *o, int nc, Model *m, Error *e)
{
    if (o->cfg[0]) return model_create_from_yaml(m, o->cfg, nc, e);
    SafeTensors st;
    if (st_read(&st, o->weights, e) != 0) return -1;
    const char *yaml = st_meta(&st, "model_yaml");
    const char *source = st_meta(&st, "model_source");
    int rc = 0;
    if (!yaml) {
        rc = err_set(e, "%s: no model_yaml metadata: give the model with --cfg", o->weights);
    } else {
        ModelConfig cfg;
        char src[TRAIN_PATH_MAX + 32];
        snprintf(src, sizeof src, "%s", source ? source : o->weights);
        if (model_config_parse_string(yaml, src, nc, &cfg, e) != 0) rc = err_prefix(e, "%s: model_yaml", o->weights);
        else rc = model_create(m, &cfg, e);
    }
    st_free(&st);
    return rc;
}

/* YOLOv5's create_dataloader: min(cpu count, batch size (0 for a batch of 1),
 * --workers). The batches do not depend on the count. */
static int loader_workers(int asked, int batch)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = asked;
    if (cpus > 0 && cpus < n) n = (int)cpus;
    if ((batch > 1 ? batch : 0) < n) n = batch > 1 ? batch : 0;
    return n;
}

/* ---- the run ------------------------------------------------------------------- */

typedef struct {
    Console con;
    const TrainEnv *env;
    TrainOptions opt;     /* in effect */
    Hyp hyp;              /* unscaled, label smoothing set */
    char *hyp_json, *options_json;
    char fingerprint[17];
    Dataset ds;
    int ds_open;
    Checkpoint ck;
    int ck_open;
    Trainer tr;
    int tr_open;
    BatchSource src;
    int src_open;
    ResultsText results;
    char weights_dir[TRAIN_PATH_MAX + 16];
    /* Data-parallel: rank 0 prints and writes; the others run with their
     * console on /dev/null and report only their own failures. */
    Dist *dist;
    int rank, world;
    FILE *devnull;
    int failed_elsewhere; /* this rank's error only says another rank failed */
} Run;

static void run_free(Run *r)
{
    if (r->src_open && r->src.close) r->src.close(r->src.ctx);
    if (r->tr_open) trainer_free(&r->tr);
    if (r->ck_open) checkpoint_close(&r->ck);
    if (r->ds_open) dataset_close(&r->ds);
    free(r->hyp_json);
    free(r->options_json);
    results_text_free(&r->results);
    if (r->devnull) fclose(r->devnull);
}

/* After the ranks exchanged {failed, rank 0 failed} (summed): the error of
 * this rank, if any. Failed ranks print their own reason, except when rank 0
 * failed too: the same inputs give the same error, and rank 0 prints it. A
 * rank that is fine gets a message naming how many ranks failed. */
static int settle_failures(Run *r, int rc, const double failed[2], Error *e)
{
    if (rc != 0) {
        if (r->rank != 0 && failed[1] > 0) r->failed_elsewhere = 1;
        return rc;
    }
    if (failed[0] > 0) {
        r->failed_elsewhere = 1;
        return err_set(e, "stopped: %g of %d ranks failed (their messages are above)", failed[0], r->world);
    }
    return 0;
}

/* Data-parallel agreement point: every rank says whether it failed; if any
 * did, all stop. */
static int agree(Run *r, int rc, Error *e)
{
    if (r->world <= 1) return rc;
    double failed[2] = {rc != 0, r->rank == 0 && rc != 0};
    Error ce;
    if (dist_sum_f64(r->dist, failed, 2, &ce) != 0) {
        if (rc == 0) *e = ce;
        return -1;
    }
    return settle_failures(r, rc, failed, e);
}

static int save_checkpoint(Run *r, const char *file, Error *e)
{
    char path[TRAIN_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s", r->weights_dir, file);
    CheckpointState s;
    trainer_checkpoint_state(&r->tr, &s);
    s.model_source = r->tr.model.cfg.source;
    s.hyp_json = r->hyp_json;
    s.options_json = r->options_json;
    s.dataset_fingerprint = r->fingerprint;
    s.results_csv = r->results.text;
    return checkpoint_save(path, &r->tr.model, &r->tr.ema_model, &r->tr.opt, &s, e);
}

/* Options, run directory, hyperparameters; for a resume, the checkpoint. */
static int setup_options(Run *r, const TrainOptions *cli, Error *e)
{
    const Console *c = &r->con;
    r->opt = *cli;
    if (cli->resume) {
        char path[TRAIN_PATH_MAX];
        if (cli->resume_path[0]) snprintf(path, sizeof path, "%s", cli->resume_path);
        else if (run_dir_latest_checkpoint(cli->project, path, sizeof path, e) != 0) return -1;
        if (checkpoint_open(&r->ck, path, e) != 0) return -1;
        r->ck_open = 1;
        if (train_options_from_json(&r->opt, r->ck.options_json, path, e) != 0) return -1;
        r->opt.resume = 1;
        snprintf(r->opt.resume_path, sizeof r->opt.resume_path, "%s", path);
        int done = r->ck.state.epoch + 1; /* epochs trained */
        if (run_dir_of_checkpoint(path, r->opt.save_dir, sizeof r->opt.save_dir, e) != 0) return -1;
        char weights[TRAIN_PATH_MAX + 16];
        snprintf(weights, sizeof weights, "%s/weights", r->opt.save_dir);
        if (r->rank == 0) run_dir_remove_stale_temps(weights);
        if (cli->given & TRAIN_FLAG_EPOCHS) {
            if (cli->epochs <= done)
                return err_set(e, "%s: the run has trained %d epochs; --epochs %d with --resume must be larger to extend it",
                               path, done, cli->epochs);
            r->opt.epochs = cli->epochs;
        }
        if (cli->given & TRAIN_FLAG_WORKERS) r->opt.workers = cli->workers;
        if (done >= r->opt.epochs)
            return err_set(e, "%s: training to %d epochs is finished, nothing to resume; add --epochs N (N > %d) to "
                              "extend it, or start a new run from it with --weights",
                           path, r->opt.epochs, r->opt.epochs);
        if (hyp_from_json(&r->hyp, r->ck.hyp_json, path, e) != 0) return -1;
        if (r->opt.bf16 && !gemm_bf16_available())
            return err_set(e, "%s: the run trains with --bf16, and this CPU has no AVX512_BF16 (bfloat16 dot products)",
                           path);
        if (r->opt.epochs != r->ck.state.epochs)
            fprintf(c->out, "Extending %s from %d to %d epochs: the remaining epochs follow the schedule of a %d-epoch run\n",
                    path, r->ck.state.epochs, r->opt.epochs, r->opt.epochs);
        fprintf(c->out, "Resuming training from %s from epoch %d to %d total epochs\n", path, done, r->opt.epochs);
    } else {
        if (train_options_validate(&r->opt, e) != 0) return -1;
        if (hyp_load(&r->hyp, r->opt.hyp, c->err, e) != 0) return -1;
        if (r->hyp.anchors > 0)
            return err_set(e, "%s: anchors: %d (anchors per level made by AutoAnchor) is not supported by yolov5c yet; "
                              "write the anchor count in the model YAML (anchors: %d) instead",
                           r->opt.hyp, r->hyp.anchors, r->hyp.anchors);
        if (r->opt.label_smoothing >= 0) r->hyp.label_smoothing = r->opt.label_smoothing;
        r->opt.label_smoothing = r->hyp.label_smoothing;
        if (r->opt.weights[0] && !fs_is_file(r->opt.weights)) return err_set(e, "%s: no such weights file", r->opt.weights);
        if (r->opt.cfg[0] && !fs_is_file(r->opt.cfg)) return err_set(e, "%s: no such model YAML", r->opt.cfg);
        if (!fs_is_file(r->opt.data)) return err_set(e, "%s: no such dataset YAML", r->opt.data);
        /* rank 0 names and makes the run directory; only it writes there */
        if (r->rank == 0 &&
            run_dir_create(r->opt.project, r->opt.name, r->opt.exist_ok, r->opt.save_dir, sizeof r->opt.save_dir, e) != 0)
            return -1;
    }
    snprintf(r->weights_dir, sizeof r->weights_dir, "%s/weights", r->opt.save_dir);
    if (r->rank == 0 && fs_mkdirs(r->weights_dir, e) != 0) return -1;
    print_args(c, &r->opt);
    hyp_print_line(&r->hyp, c->out, c->tty);

    r->hyp_json = hyp_to_json(&r->hyp);
    TrainOptions stored = r->opt;
    stored.resume = 0; /* what a checkpoint keeps is the run's options, not how it was started */
    stored.resume_path[0] = 0;
    r->options_json = train_options_to_json(&stored);
    if (!r->hyp_json || !r->options_json) return err_set(e, "out of memory");
    if (r->rank != 0) return 0;
    char path[TRAIN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/hyp.yaml", r->opt.save_dir);
    if (write_hyp_yaml(&r->hyp, path, e) != 0) return -1;
    snprintf(path, sizeof path, "%s/opt.yaml", r->opt.save_dir);
    if (train_options_write_yaml(&r->opt, r->hyp_json, path, e) != 0) return -1;
    return 0;
}

static int setup_data_and_model(Run *r, Model *model, Error *e)
{
    const Console *c = &r->con;
    ScanOptions so = {1, 0, 0};
    if (dataset_open(r->opt.data, (1u << SPLIT_TRAIN) | (1u << SPLIT_VAL), &so, &r->ds, e) != 0) return -1;
    r->ds_open = 1;
    print_scan(c, &r->ds, SPLIT_TRAIN);
    print_scan(c, &r->ds, SPLIT_VAL);
    if (r->opt.single_cls && dataset_single_class(&r->ds, e) != 0) return -1;
    dataset_fingerprint(&r->ds, r->fingerprint);
    int nc = r->ds.nc;
    if (r->ck_open) {
        if (r->ck.fingerprint && strcmp(r->ck.fingerprint, r->fingerprint) != 0)
            fprintf(c->err, "WARNING: the training data differ from the data this run started with (fingerprint %s, "
                            "checkpoint %s): the resumed run will not reproduce an uninterrupted one\n",
                    r->fingerprint, r->ck.fingerprint);
        if (r->ck.nc != nc) return err_set(e, "%s: checkpoint has nc=%d, dataset %s has nc=%d", r->ck.st.path, r->ck.nc,
                                           r->opt.data, nc);
        if (checkpoint_create_model(&r->ck, model, e) != 0) return -1;
        progress_model_summary(model, c->out);
    } else {
        if (build_fresh_model(&r->opt, nc, model, e) != 0) return -1;
        if (model->cfg.anchors_placeholder && r->opt.noautoanchor) {
            err_set(e, "%s: the model's anchors are placeholders that only AutoAnchor can replace; "
                       "drop --noautoanchor or give the anchors in the model YAML",
                    model->cfg.source[0] ? model->cfg.source : r->opt.weights);
            model_free(model);
            return -1;
        }
        Rng rng;
        rng_seed(&rng, r->opt.seed); /* init_seeds(opt.seed + 1 + RANK), RANK = -1 */
        model_init_weights(model, &rng);
        progress_model_summary(model, c->out);
        if (r->opt.weights[0]) {
            int copied = 0;
            int exclude = r->opt.cfg[0] != 0 || r->hyp.anchors > 0;
            if (weights_transfer(model, r->opt.weights, exclude, &copied, e) != 0) return -1;
            fprintf(c->out, "Transferred %d/%d items from %s\n", copied, model->table.n_entries, r->opt.weights);
        }
    }
    if (model_set_names(model, (const char *const *)r->ds.names.items, nc, e) != 0) return -1;
    return 0;
}

/* train.py's last step: the best weights validated once more, per class. */
static int validate_best(Run *r, Error *e)
{
    const Console *c = &r->con;
    char path[TRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/best.safetensors", r->weights_dir);
    if (!fs_is_file(path)) return 0;
    fprintf(c->out, "\nValidating %s...\n", path);
    Checkpoint ck;
    Model best;
    memset(&best, 0, sizeof best);
    if (checkpoint_open(&ck, path, e) != 0) return -1;
    int rc = checkpoint_create_model(&ck, &best, e);
    if (rc == 0) rc = checkpoint_load_model(&ck, "", &best, e);
    checkpoint_close(&ck);
    best.precision = r->tr.ema_model.precision; /* as every validation of the run */
    if (rc == 0) {
        Trainer *t = &r->tr;
        double results[VAL_RESULTS];
        TrainValContext vc = {&best, &r->ds.split[SPLIT_VAL], &t->loss, 2 * r->opt.batch_size, t->imgsz, t->gs,
                              loader_workers(2 * r->opt.workers, 2 * r->opt.batch_size),
                              r->opt.cache == CACHE_RAM || r->opt.cache == CACHE_DISK || r->opt.cache == CACHE_VAL,
                              t->epoch, 1, r->opt.save_dir, c->out, 1};
        rc = r->env->validate(r->env->validate_ctx, &vc, results, e);
        if (rc != 0) err_prefix(e, "validating %s", path);
    }
    model_free(&best);
    return rc;
}

/* The end of an epoch on rank 0 (the only rank in a single process):
 * validation of the EMA model, fitness and early stopping, results.csv and
 * the checkpoints. results receives the validation results. */
static int finish_epoch_rank0(Run *r, int epoch, int final, double results[VAL_RESULTS], TrainEpochInfo *out,
                              int *warned_val, Error *e)
{
    const Console *c = &r->con;
    const TrainEnv *env = r->env;
    Trainer *t = &r->tr;
    char csv_path[TRAIN_PATH_MAX + 32];
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", r->opt.save_dir);
    /* Validation of the EMA model (every epoch, or only the final one with --noval). */
    if (!r->opt.noval || final) {
        if (env->validate) {
            TrainValContext vc = {&t->ema_model, &r->ds.split[SPLIT_VAL], &t->loss, 2 * r->opt.batch_size,
                                  t->imgsz, t->gs, loader_workers(2 * r->opt.workers, 2 * r->opt.batch_size),
                                  r->opt.cache == CACHE_RAM || r->opt.cache == CACHE_DISK || r->opt.cache == CACHE_VAL,
                                  epoch, final, r->opt.save_dir, c->out, 0};
            if (env->validate(env->validate_ctx, &vc, results, e) != 0) return err_prefix(e, "epoch %d: validation", epoch);
        } else if (!*warned_val) {
            fprintf(c->out, "validation: not available yet in yolov5c; metrics and val losses are recorded as 0\n");
            *warned_val = 1;
        }
    }
    TrainEpochInfo info;
    trainer_epoch_finish(t, results, &info);
    char row[1024];
    results_csv_row(epoch, info.row, row, sizeof row);
    if (!r->results.len) {
        char header[1024];
        results_csv_header(header, sizeof header);
        if (results_text_append(&r->results, header, e) != 0) return -1;
    }
    if (results_text_append(&r->results, row, e) != 0 || results_csv_append(csv_path, row, e) != 0) return -1;

    /* last.safetensors is written last: it marks the epoch as done, so a
     * run killed while writing the others redoes the epoch on resume and
     * rewrites them the same. */
    if (!r->opt.nosave || final) {
        if (info.improved && save_checkpoint(r, "best.safetensors", e) != 0) return -1;
        if (r->opt.save_period > 0 && epoch % r->opt.save_period == 0) {
            char name[64];
            snprintf(name, sizeof name, "epoch%d.safetensors", epoch);
            if (save_checkpoint(r, name, e) != 0) return -1;
        }
        if (save_checkpoint(r, "last.safetensors", e) != 0) return -1;
    }
    *out = info;
    return 0;
}

static int run_epochs(Run *r, Error *e, int *interrupted)
{
    const Console *c = &r->con;
    const TrainEnv *env = r->env;
    Trainer *t = &r->tr;
    const int epochs = r->opt.epochs;
    int kill_epoch = -1, kill_batch = -1;
    const char *kill_at = getenv("YV5_TRAIN_KILL_AT");
    if (kill_at && sscanf(kill_at, "%d:%d", &kill_epoch, &kill_batch) != 2) kill_epoch = -1;
    /* Test hook: YV5_TRAIN_FAIL_AT=RANK:EPOCH:BATCH fails that batch on that rank alone. */
    int fail_rank = -1, fail_epoch = -1, fail_batch = -1;
    const char *fail_at = getenv("YV5_TRAIN_FAIL_AT");
    if (fail_at && sscanf(fail_at, "%d:%d:%d", &fail_rank, &fail_epoch, &fail_batch) != 3) fail_rank = -1;
    int warned_val = 0;
    double t0 = progress_now();
    int epoch = t->start_epoch, last_done = -1;
    for (; epoch < epochs; epoch++) {
        if (r->src.start_epoch(r->src.ctx, epoch, e) != 0) return err_prefix(e, "epoch %d", epoch);
        trainer_epoch_begin(t, epoch);
        progress_epoch_header(c->out);
        Progress p;
        int nb = (int)t->cfg.nb;
        progress_begin(&p, c->out, c->tty, nb);
        for (int i = 0;; i++) {
            const Batch *b = NULL;
            int got = r->src.next(r->src.ctx, &b, e);
            int rc = 0;
            if (got < 0) rc = err_prefix(e, "epoch %d batch %d", epoch, i);
            else if (got == 0 && i != nb) rc = err_set(e, "epoch %d: the loader gave %d batches, expected %d", epoch, i, nb);
            else if (got == 0) break; /* every rank has nb batches */
            else if (i >= nb) rc = err_set(e, "epoch %d: the loader gave more than %d batches", epoch, nb);
            TrainBatchInfo info;
            memset(&info, 0, sizeof info);
            if (rc == 0) rc = trainer_batch_compute(t, i, b, &info, e);
            if (rc == 0 && r->rank == fail_rank && epoch == fail_epoch && i == fail_batch)
                rc = err_set(e, "epoch %d batch %d: failure injected by YV5_TRAIN_FAIL_AT", epoch, i);
            const int stop_here = stop_signal || (epoch == env->interrupt_epoch && i == env->interrupt_batch);
            /* Data-parallel: the ranks agree on failure and stopping before the
             * gradient sum, and report the loss items averaged over ranks. */
            double shared[6] = {rc != 0, r->rank == 0 && rc != 0, stop_here, info.box, info.obj, info.cls};
            if (r->world > 1) {
                Error ce;
                if (dist_sum_f64(r->dist, shared, 6, &ce) != 0) rc = rc ? rc : (*e = ce, -1);
                else rc = settle_failures(r, rc, shared, e);
                if (rc != 0 && r->failed_elsewhere) err_prefix(e, "epoch %d batch %d", epoch, i);
                for (int k = 3; k < 6; k++) shared[k] /= r->world;
            }
            if (rc == 0) rc = trainer_batch_finish(t, i, shared + 3, &info, e);
            if (rc != 0) {
                progress_end(&p);
                return -1;
            }
            progress_update(&p, i + 1, epoch, epochs, t->mloss, info.instances, info.w);
            if (info.ni < 3 && !r->opt.noplots && r->rank == 0) {
                char path[TRAIN_PATH_MAX + 48];
                snprintf(path, sizeof path, "%s/train_batch%d.jpg", r->opt.save_dir, (int)info.ni);
                const char *paths[PLOT_IMAGES_MAX_IMAGES];
                const DatasetSplit *split = &r->ds.split[SPLIT_TRAIN];
                int shown = b->n < PLOT_IMAGES_MAX_IMAGES ? b->n : PLOT_IMAGES_MAX_IMAGES;
                for (int k = 0; k < shown; k++)
                    paths[k] = b->indices && b->indices[k] >= 0 && (size_t)b->indices[k] < split->n_images
                                   ? split->images[b->indices[k]].path
                                   : "";
                PlotImages pi = {b->images, shown, b->h, b->w, b->targets, b->n_targets, 6, paths,
                                 (const char *const *)r->ds.names.items, r->ds.nc};
                Error pe;
                if (plot_images_write_jpeg(&pi, path, &pe) != 0) fprintf(c->err, "WARNING: %s\n", pe.msg);
            }
            if (epoch == kill_epoch && i == kill_batch) raise(SIGKILL);
            if (shared[2] > 0) {
                progress_end(&p);
                *interrupted = 1;
                fprintf(c->err, "\nInterrupted at epoch %d batch %d. ", epoch, i);
                if (last_done >= 0 || t->start_epoch > 0)
                    fprintf(c->err, "%s/last.safetensors holds epoch %d; continue with: yolov5c train --resume %s/last.safetensors\n",
                            r->weights_dir, last_done >= 0 ? last_done : t->start_epoch - 1, r->weights_dir);
                else fprintf(c->err, "No epoch was completed, so there is no checkpoint.\n");
                return 0;
            }
        }
        progress_end(&p);

        double results[VAL_RESULTS] = {0};
        const int final = trainer_final_epoch(t);
        TrainEpochInfo info;
        int erc = r->rank == 0 ? finish_epoch_rank0(r, epoch, final, results, &info, &warned_val, e) : 0;
        if (r->world > 1) {
            /* rank 0's results (and whether it failed) to every rank, so all
             * take the same early-stopping and best-fitness decisions */
            double shared[1 + VAL_RESULTS] = {erc != 0};
            memcpy(shared + 1, results, sizeof(double) * VAL_RESULTS);
            Error ce;
            if (dist_bcast(r->dist, shared, sizeof shared, 0, &ce) != 0) return erc ? erc : (*e = ce, -1);
            if (r->rank != 0) {
                if (shared[0] != 0) {
                    r->failed_elsewhere = 1;
                    return err_set(e, "stopped: rank 0 failed at the end of epoch %d", epoch);
                }
                memcpy(results, shared + 1, sizeof(double) * VAL_RESULTS);
                trainer_epoch_finish(t, results, &info);
            }
        }
        if (erc != 0) return -1;
        last_done = epoch;
        if (env->interrupt_epoch == epoch && env->interrupt_batch < 0) {
            *interrupted = 1;
            fprintf(c->err, "\nInterrupted after epoch %d.\n", epoch);
            return 0;
        }
        if (info.stop) {
            fprintf(c->out, "Stopping training early as no improvement observed in last %d epochs. Best results observed "
                            "at epoch %d, best model saved as best.safetensors.\n",
                    r->opt.patience, t->stopper.best_epoch);
            epoch++;
            break;
        }
    }
    char b[TRAIN_PATH_MAX + 64];
    fprintf(c->out, "\n%d epochs completed in %.3f hours.\n", epoch - t->start_epoch, (progress_now() - t0) / 3600.0);
    if (r->world > 1) {
        double batches = (double)(epoch - t->start_epoch) * (double)t->cfg.nb;
        fprintf(c->out, "Data-parallel: %d ranks, %.3f s in communication (%.2f ms per batch: agreement, gradient sum%s)\n",
                r->world, r->dist->comm_seconds, batches > 0 ? 1e3 * r->dist->comm_seconds / batches : 0.0,
                r->opt.sync_bn ? ", BatchNorm statistics" : "");
    }
    if (env->validate && r->rank == 0 && validate_best(r, e) != 0) return -1;
    fprintf(c->out, "Results saved to %s\n", bold(c, r->opt.save_dir, b, sizeof b));
    if (last_done >= 0 || !r->opt.nosave)
        fprintf(c->out, "Weights: %s/last.safetensors (EMA weights + training state), %s/best.safetensors\n",
                r->weights_dir, r->weights_dir);
    return 0;
}

/* AutoAnchor at its place in the start-up (TrainerConfig.autoanchor; train.py
 * step 12: fresh runs without --noautoanchor). Its random draws come from
 * their own stream of the seed. As in YOLOv5, a failure is logged and the
 * model's anchors are kept. */
#define AUTOANCHOR_STREAM 0x6175746f616e6368ULL /* "autoanch" */

static int run_autoanchor(void *ctx, Model *model, int imgsz, Error *e)
{
    Run *r = ctx;
    (void)e;
    AutoAnchorOptions ao = autoanchor_defaults(r->hyp.anchor_t, imgsz);
    ao.log = r->con.out;
    ao.progress = r->con.tty;
    Rng rng;
    rng_seed_stream(&rng, r->opt.seed ^ AUTOANCHOR_STREAM, 0, 0);
    AutoAnchorResult res;
    Error ae = {{0}};
    if (r->rank == 0 && model_check_anchors(model, &r->ds.split[SPLIT_TRAIN], &ao, &rng, &res, &ae) != 0)
        fprintf(r->con.out, "AutoAnchor: ERROR: %s\n", ae.msg);
    /* rank 0's anchors (the buffers hold them) for every rank */
    if (r->world > 1 && dist_bcast(r->dist, model->buffers, model->table.n_buffers * sizeof(float), 0, e) != 0) return -1;
    return 0;
}

/* FNV-1a of the training state every rank must share (weights, EMA,
 * optimizer state), to catch ranks that started from different files. */
static uint64_t state_hash(const Trainer *t)
{
    uint64_t h = 1469598103934665603ULL;
    const void *blocks[3] = {t->model.params, t->ema_model.params, t->model.buffers};
    const size_t sizes[3] = {t->model.table.n_params * sizeof(float), t->ema_model.table.n_params * sizeof(float),
                             t->model.table.n_buffers * sizeof(float)};
    for (int k = 0; k < 3; k++) {
        const unsigned char *p = blocks[k];
        for (size_t i = 0; i < sizes[k]; i++) h = (h ^ p[i]) * 1099511628211ULL;
    }
    return h;
}

static int check_same_state(Run *r, Error *e)
{
    if (r->world <= 1) return 0;
    uint64_t h = state_hash(&r->tr);
    double mine[2] = {(double)(h >> 32), (double)(h & 0xffffffffu)};
    const double *all;
    if (dist_allgather_f64(r->dist, mine, 2, &all, e) != 0) return -1;
    for (int k = 1; k < r->world; k++)
        if (all[2 * k] != all[0] || all[2 * k + 1] != all[1])
            return err_set(e, "rank %d starts from other weights than rank 0 (are the --weights / --resume files the same "
                              "on every host?)",
                           k);
    return 0;
}

static int train_run(Run *r, const TrainOptions *cli, Error *e, int *interrupted)
{
    const Console *c = &r->con;
    Model model;
    memset(&model, 0, sizeof model);
    int rc = 0;
    if (r->world > 1 && !cli->resume && cli->batch_size % r->world != 0) /* before the run directory is made */
        rc = err_set(e, "--batch-size %d must be a multiple of the number of ranks (%d): it is the global batch, split "
                        "evenly across them",
                     cli->batch_size, r->world);
    if (rc == 0) rc = setup_options(r, cli, e);
    if (rc == 0 && r->world > 1 && r->opt.batch_size % r->world != 0)
        rc = err_set(e, "--batch-size %d must be a multiple of the number of ranks (%d): it is the global batch, split "
                        "evenly across them",
                     r->opt.batch_size, r->world);
    if (rc == 0) rc = setup_data_and_model(r, &model, e);
    if (agree(r, rc, e) != 0) {
        model_free(&model);
        return -1;
    }
    const DatasetSplit *train = &r->ds.split[SPLIT_TRAIN];
    const int bs = r->opt.batch_size, rank_bs = bs / r->world;
    /* batches per epoch: every rank has ceil(n / world) samples (DistributedSampler) */
    const int64_t per_rank = ((int64_t)train->n_images + r->world - 1) / r->world;
    const int64_t nb = (per_rank + rank_bs - 1) / rank_bs;
    if (r->world > 1)
        fprintf(c->out, "Data-parallel: %d ranks, batch %d = %d x %d per rank, BatchNorm statistics %s\n", r->world, bs,
                r->world, rank_bs, r->opt.sync_bn ? "over all ranks (--sync-bn)" : "per rank");
    TrainerConfig tc = {r->opt.optimizer, r->opt.epochs, bs, r->opt.imgsz, r->opt.multi_scale, r->opt.cos_lr,
                        r->opt.patience, r->opt.freeze, r->opt.n_freeze, r->opt.seed, nb, !r->ck_open, NULL, NULL,
                        r->dist, rank_bs, r->opt.sync_bn, r->opt.bf16};
    if (!r->opt.noautoanchor) {
        tc.autoanchor = run_autoanchor;
        tc.autoanchor_ctx = r;
    }
    rc = trainer_create(&r->tr, &tc, &r->hyp, &model, r->ck_open ? &r->ck : NULL, c->out, e);
    if (rc != 0) model_free(&model);
    else r->tr_open = 1;
    if (rc == 0) rc = check_same_state(r, e);
    if (agree(r, rc, e) != 0) return -1;
    Trainer *t = &r->tr;

    /* Training batches (step 11). */
    if (r->opt.rect) fprintf(c->out, "WARNING: --rect is incompatible with DataLoader shuffle, setting shuffle=False\n");
    LoaderOptions lo;
    memset(&lo, 0, sizeof lo);
    lo.batch_size = rank_bs;
    lo.rank = r->rank;
    lo.world = r->world;
    lo.img_size = t->imgsz;
    lo.stride = t->gs;
    lo.augment = 1;
    lo.rect = r->opt.rect;
    lo.pad = 0.0f;
    lo.shuffle = !r->opt.rect;
    lo.workers = loader_workers(r->opt.workers, rank_bs);
    lo.cache_ram = r->opt.cache == CACHE_RAM || r->opt.cache == CACHE_DISK;
    lo.seed = r->opt.seed;
    lo.hyp = &r->hyp;
    lo.log = c->out;
    if (!r->env->open_source) rc = err_set(e, "no batch source (data loader) configured");
    else if (r->env->open_source(&r->src, train, &lo, e) != 0) rc = err_prefix(e, "train loader");
    else r->src_open = 1;
    if (rc == 0 && r->src.batches(r->src.ctx) != nb)
        rc = err_set(e, "train loader: %d batches per epoch, expected %lld", r->src.batches(r->src.ctx), (long long)nb);
    if (agree(r, rc, e) != 0) return -1;

    /* results.csv: as the checkpoint had it when resuming; otherwise appended to. */
    char csv_path[TRAIN_PATH_MAX + 32];
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", r->opt.save_dir);
    if (r->rank != 0) {
        /* only rank 0 keeps results.csv */
    } else if (r->ck_open) {
        if (results_text_set(&r->results, r->ck.results_csv, e) != 0 ||
            results_csv_rewrite(csv_path, r->results.text, e) != 0)
            rc = -1;
    } else if (fs_is_file(csv_path)) {
        unsigned char *data = NULL;
        size_t size = 0;
        rc = fs_read_file(csv_path, &data, &size, e);
        if (rc == 0) rc = results_text_set(&r->results, (const char *)data, e);
        free(data);
    }
    if (agree(r, rc, e) != 0) return -1;
    char b[TRAIN_PATH_MAX + 64];
    fprintf(c->out, "Image sizes %d train, %d val\nUsing %d dataloader workers\nLogging results to %s\nStarting training for %d epochs...\n",
            t->imgsz, t->imgsz, lo.workers, bold(c, r->opt.save_dir, b, sizeof b), r->opt.epochs);
    return run_epochs(r, e, interrupted);
}

int train_main(int argc, char **argv, const TrainEnv *env_in)
{
    TrainEnv env_default;
    if (!env_in) {
        train_env_default(&env_default);
        env_in = &env_default;
    }
    Run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "yolov5c train: out of memory\n");
        return 1;
    }
    r->env = env_in;
    r->con.out = env_in->out ? env_in->out : stdout;
    r->con.err = env_in->err ? env_in->err : stderr;
    r->con.tty = env_in->tty >= 0 ? env_in->tty : isatty(fileno(r->con.out));
    r->dist = env_in->dist;
    r->rank = r->dist && r->dist->world > 1 ? r->dist->rank : 0;
    r->world = r->dist && r->dist->world > 1 ? r->dist->world : 1;
    FILE *fatal = r->con.err; /* a rank's own failure is always reported */
    if (r->rank != 0) {
        r->devnull = fopen("/dev/null", "w");
        if (!r->devnull) {
            fprintf(fatal, "yolov5c train: rank %d: cannot open /dev/null: %s\n", r->rank, strerror(errno));
            free(r);
            return 1;
        }
        r->con.out = r->con.err = r->devnull;
    }
    /* mpirun hands its ranks a pseudo-terminal whatever it writes to:
     * plain progress lines, no escapes. */
    if (r->world > 1) r->con.tty = 0;

    TrainOptions *cli = calloc(1, sizeof *cli);
    Error e = {{0}};
    if (!cli) {
        free(r);
        return fail(&(Console){stdout, stderr, 0}, "out of memory");
    }
    train_options_default(cli);
    int prc = train_options_parse(cli, argc, argv, &e);
    if (prc == 0 && !cli->resume && train_options_validate(cli, &e) != 0) prc = -1;
    if (prc == 0 && cli->resume && (cli->given & TRAIN_FLAG_OTHER)) {
        prc = err_set(&e, "--resume continues with the run's saved options; only --epochs (to extend it), --workers and "
                          "--project (where to find the newest run) may be given with it");
    }
    if (prc != 0) {
        FILE *usage_out = r->con.err; /* every rank parses the same argv: rank 0 speaks */
        if (prc != 1) {
            fprintf(usage_out, "yolov5c train: %s\n\n", e.msg);
            train_usage(usage_out);
        }
        free(cli);
        run_free(r);
        free(r);
        return prc == 1 ? 0 : 2;
    }

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    int interrupted = 0;
    int rc = train_run(r, cli, &e, &interrupted);
    int status = 0;
    if (rc != 0 && r->rank == 0) status = fail(&r->con, "%s", e.msg);
    else if (rc != 0) {
        status = 1;
        if (!r->failed_elsewhere) fprintf(fatal, "yolov5c train: rank %d of %d: %s\n", r->rank, r->world, e.msg);
    } else if (interrupted) status = 130;

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    run_free(r);
    free(r);
    free(cli);
    return status;
}
