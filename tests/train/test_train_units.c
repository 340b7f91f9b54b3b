/* The trainer's building blocks: multi-scale sizes and PyTorch's bilinear
 * batch resize, results.csv formatting, option parsing and its JSON form,
 * hyperparameters as JSON, run directories, and checkpoints (round trip,
 * rejection of weights files and damaged files, --weights transfer). */
#include "train_test_util.h"

#include "core/rng.h"
#include "train/checkpoint.h"
#include "train/multiscale.h"
#include "train/results_csv.h"
#include "train/run_dir.h"
#include "train/train_options.h"
#include "optim/freeze.h"

#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>

/* ---- multi-scale ------------------------------------------------------------------ */

static void test_multiscale_sizes(void)
{
    Rng r;
    rng_seed(&r, 1);
    int lo = 1 << 30, hi = 0, bad = 0;
    for (int k = 0; k < 20000; k++) {
        int s = multiscale_draw_size(640, 32, &r);
        if (s % 32) bad++;
        if (s < lo) lo = s;
        if (s > hi) hi = s;
    }
    /* randrange(320, 992) // 32 * 32: 320, 352, ..., 960 */
    CHECK(bad == 0 && lo == 320 && hi == 960, "sizes in [%d, %d], %d not multiples of 32", lo, hi, bad);
    CHECK(multiscale_max_size(640, 32) == 960 && multiscale_max_size(64, 32) == 96, "max sizes");
    int h, w;
    CHECK(multiscale_shape(640, 640, 640, 32, &h, &w) == 0 && h == 640 && w == 640, "sf == 1: no resize");
    CHECK(multiscale_shape(640, 640, 352, 32, &h, &w) == 1 && h == 352 && w == 352, "square");
    /* rect batch 384 x 640 to 480: sf = 0.75 -> ceil(288 / 32) * 32 = 288, 480 */
    CHECK(multiscale_shape(384, 640, 480, 32, &h, &w) == 1 && h == 288 && w == 480, "rect %dx%d", h, w);
    /* 416 x 640 to 320: sf 0.5 -> 208 -> ceil(6.5) * 32 = 224 */
    CHECK(multiscale_shape(416, 640, 320, 32, &h, &w) == 1 && h == 224 && w == 320, "stretched to 32: %dx%d", h, w);
}

static void test_bilinear_resize_matches_torch(void)
{
    SafeTensors st;
    if (tt_open(&st, "resize.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    const StTensor *in = tt_tensor(&st, "input", ST_F32);
    int cases = 0;
    for (int k = 0; in && k < st.count; k++) {
        const StTensor *o = &st.tensors[k];
        int oh, ow;
        if (sscanf(o->name, "out_%dx%d", &oh, &ow) != 2) continue;
        int planes = (int)(in->shape[0] * in->shape[1]);
        float *got = malloc(o->numel * sizeof(float));
        resize_bilinear_planes((const float *)in->data, planes, (int)in->shape[2], (int)in->shape[3], got, oh, ow);
        size_t diff = 0;
        double worst = 0;
        for (size_t q = 0; q < o->numel; q++) {
            double d = fabs((double)got[q] - ((const float *)o->data)[q]);
            if (d > 0) diff++;
            if (d > worst) worst = d;
        }
        /* same formulas and operation order as torch's kernel: bit for bit */
        CHECK(diff == 0, "%s: %zu elements differ, worst %g", o->name, diff, worst);
        if (diff) printf("    %s: %zu of %zu elements differ (worst %.3g)\n", o->name, diff, o->numel, worst);
        free(got);
        cases++;
    }
    CHECK(cases >= 6, "%d resize cases", cases);
    st_free(&st);
}

/* ---- results.csv -------------------------------------------------------------------- */

static void test_results_csv_format(void)
{
    char line[1024];
    results_csv_header(line, sizeof line);
    CHECK(!strcmp(line, "               epoch,      train/box_loss,      train/obj_loss,      train/cls_loss,   "
                        "metrics/precision,      metrics/recall,     metrics/mAP_0.5,metrics/mAP_0.5:0.95,        "
                        "val/box_loss,        val/obj_loss,        val/cls_loss,               x/lr0,               "
                        "x/lr1,               x/lr2\n"),
          "header: %s", line);
    double v[RESULTS_VALUES] = {0.088387291431427, 0.0060809, 0.036757, 0, 1, 0.5, NAN, 1e-05, 123456.0, 0.1, 0.0973,
                                0.0003, 0.00029999999999999997};
    results_csv_row(12, v, line, sizeof line);
    /* Python: ('%20.5g,' * 14 % (12, *v)).rstrip(',') */
    CHECK(!strcmp(line, "                  12,            0.088387,           0.0060809,            0.036757,"
                        "                   0,                   1,                 0.5,                 nan,"
                        "               1e-05,          1.2346e+05,                 0.1,              0.0973,"
                        "              0.0003,              0.0003\n"),
          "row: %s", line);
    results_csv_row(123456, v, line, sizeof line);
    CHECK(!strncmp(line, "          1.2346e+05,", 21), "epoch formatted with %%20.5g too: %.30s", line);
}

/* ---- options ------------------------------------------------------------------------ */

static int parse(TrainOptions *o, const char *args, Error *e)
{
    char buf[1024], *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args);
    argv[argc++] = "train";
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
        argv[argc++] = strcmp(t, "''") ? t : "";
    train_options_default(o);
    return train_options_parse(o, argc, argv, e);
}

static void test_options_defaults_and_flags(void)
{
    TrainOptions o;
    Error e = {{0}};
    CHECK(parse(&o, "--cfg m.yaml", &e) == 0, "%s", e.msg);
    CHECK(o.epochs == 100 && o.batch_size == 16 && o.imgsz == 640 && o.optimizer == OPTIM_SGD && o.patience == 100 &&
              o.workers == 8 && o.save_period == -1 && o.seed == 0 && o.n_freeze == 1 && o.freeze[0] == 0 &&
              !strcmp(o.project, "runs/train") && !strcmp(o.name, "exp") && !strcmp(o.hyp, "hyps/hyp.scratch-low.yaml") &&
              !o.resume && o.cache == CACHE_NONE && o.label_smoothing < 0,
          "train.py's defaults");
    CHECK(parse(&o, "--data d.yaml --cfg m.yaml --hyp h.yaml --weights '' --epochs 7 --batch-size 4 --img 320 --rect "
                    "--seed 9 --workers 0 --project p --name n --exist-ok --noval --nosave --optimizer AdamW --cos-lr "
                    "--label-smoothing 0.1 --patience 0 --multi-scale --freeze 0 1 2 --save-period 2 --noautoanchor "
                    "--cache --noplots",
                &e) == 0,
          "%s", e.msg);
    CHECK(o.epochs == 7 && o.batch_size == 4 && o.imgsz == 320 && o.rect && o.seed == 9 && o.workers == 0 &&
              !strcmp(o.project, "p") && !strcmp(o.name, "n") && o.exist_ok && o.noval && o.nosave &&
              o.optimizer == OPTIM_ADAMW && o.cos_lr && o.label_smoothing == 0.1 && o.patience == 0 && o.multi_scale &&
              o.n_freeze == 3 && o.freeze[2] == 2 && o.save_period == 2 && o.noautoanchor && o.cache == CACHE_RAM &&
              o.noplots && o.weights[0] == 0,
          "every flag");
    CHECK(parse(&o, "--cfg=m.yaml --imgsz=256 --img-size 128 --cache disk --freeze 10", &e) == 0 && o.imgsz == 128 &&
              o.cache == CACHE_DISK && o.n_freeze == 1 && o.freeze[0] == 10,
          "--flag=value, aliases: %s", e.msg);
    CHECK(parse(&o, "--resume", &e) == 0 && o.resume && !o.resume_path[0], "bare --resume");
    CHECK(parse(&o, "--resume runs/x/weights/last.safetensors --epochs 20", &e) == 0 && o.resume &&
              !strcmp(o.resume_path, "runs/x/weights/last.safetensors") && o.epochs == 20 &&
              (o.given & TRAIN_FLAG_EPOCHS) && !(o.given & TRAIN_FLAG_OTHER),
          "--resume PATH --epochs N");
    CHECK(parse(&o, "--resume --epochs 5", &e) == 0 && o.resume && !o.resume_path[0] && o.epochs == 5,
          "--resume followed by a flag takes no value");
    CHECK(parse(&o, "--cfg m.yaml --help", &e) == 1, "--help");
}

static void test_options_errors(void)
{
    static const struct {
        const char *args, *msg;
    } bad[] = {
        {"--cfg m.yaml --bogus", "unknown option '--bogus'"},
        {"--cfg m.yaml --epochs", "--epochs needs a value"},
        {"--cfg m.yaml --epochs ten", "--epochs must be an integer"},
        {"--cfg m.yaml --epochs 0", "--epochs must be an integer in 1.."},
        {"--cfg m.yaml --batch-size -1", "AutoBatch"},
        {"--cfg m.yaml --batch-size 2x", "--batch-size must be an integer"},
        {"--cfg m.yaml --img -5", "--img must be an integer"},
        {"--cfg m.yaml --optimizer sgd", "--optimizer must be one of SGD, Adam, AdamW, got 'sgd'"},
        {"--cfg m.yaml --label-smoothing 2", "--label-smoothing must be in [0, 1]"},
        {"--cfg m.yaml --cache gpu", "--cache must be ram, disk or val"},
        {"--cfg m.yaml --freeze", "--freeze needs at least one layer number"},
        {"--cfg m.yaml --rect=1", "--rect takes no value"},
        {"--cfg m.yaml --device cpu", "train.py's --device is not supported"},
        {"--cfg m.yaml extra", "unexpected argument 'extra'"},
        {"--cfg m.yaml --seed -3", "--seed must be an integer"},
        {"--cfg m.yaml --name a/b", "--name must be a non-empty name without '/'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        TrainOptions o;
        Error e = {{0}};
        int rc = parse(&o, bad[k].args, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[k].msg), "'%s': rc %d, message '%s'", bad[k].args, rc, e.msg);
    }
    TrainOptions o;
    Error e = {{0}};
    train_options_default(&o);
    CHECK(train_options_validate(&o, &e) == -1 && strstr(e.msg, "either --cfg or --weights"), "%s", e.msg);
}

static void test_options_json_round_trip(void)
{
    TrainOptions o, back;
    Error e = {{0}};
    CHECK(parse(&o, "--data d.yaml --cfg m.yaml --epochs 7 --batch-size 4 --img 320 --rect --seed 9007199254740991 "
                    "--optimizer Adam --cos-lr --label-smoothing 0.1 --freeze 3 5 --cache val --save-period 3",
                &e) == 0,
          "%s", e.msg);
    snprintf(o.save_dir, sizeof o.save_dir, "runs/train/exp4");
    char *json = train_options_to_json(&o);
    CHECK(json && train_options_from_json(&back, json, "test", &e) == 0, "%s", e.msg);
    CHECK(!strcmp(back.data, "d.yaml") && !strcmp(back.cfg, "m.yaml") && back.epochs == 7 && back.batch_size == 4 &&
              back.imgsz == 320 && back.rect && back.seed == 9007199254740991ULL && back.optimizer == OPTIM_ADAM &&
              back.cos_lr && back.label_smoothing == 0.1 && back.n_freeze == 2 && back.freeze[1] == 5 &&
              back.cache == CACHE_VAL && back.save_period == 3 && !strcmp(back.save_dir, "runs/train/exp4"),
          "round trip: %s", json ? json : "(null)");
    free(json);
    CHECK(train_options_from_json(&back, "{\"epochs\": \"ten\"}", "ckpt", &e) == -1 && strstr(e.msg, "epochs"), "%s",
          e.msg);
    CHECK(train_options_from_json(&back, "{\"nonsense\": 1}", "ckpt", &e) == -1 && strstr(e.msg, "nonsense"), "%s",
          e.msg);
}

static void test_hyp_json_round_trip(void)
{
    Hyp h, back;
    Error e = {{0}};
    hyp_default(&h);
    h.lr0 = 0.0032;
    h.lrf = 0.12;
    h.momentum = 0.843;
    h.warmup_epochs = 2.5;
    h.mixup = 0.1;
    h.label_smoothing = 0.05;
    h.iou_loss = IOU_LOSS_GIOU;
    h.balance_count = 3;
    h.balance[0] = 4.0;
    h.balance[1] = 1.0;
    h.balance[2] = 0.3;
    h.obj = 0.7 * 0.1; /* a double with a long decimal expansion */
    char *json = hyp_to_json(&h);
    CHECK(json && strstr(json, "\"lr0\":0.0032") && strstr(json, "\"iou_loss\":\"giou\"") && strstr(json, "\"balance\":[4.0, 1.0, 0.3]"),
          "%s", json ? json : "(null)");
    CHECK(json && hyp_from_json(&back, json, "test", &e) == 0, "%s", e.msg);
    snprintf(back.source, sizeof back.source, "%s", h.source);
    CHECK(memcmp(&back, &h, offsetof(Hyp, source)) == 0, "every field read back exactly");
    free(json);
    CHECK(hyp_from_json(&back, "{\"lr0\": -1}", "ckpt", &e) == -1 && strstr(e.msg, "lr0"), "validated: %s", e.msg);
    CHECK(hyp_from_json(&back, "{\"lr9\": 1}", "ckpt", &e) == -1 && strstr(e.msg, "unknown hyperparameter 'lr9'"), "%s",
          e.msg);
}

/* ---- run directories ---------------------------------------------------------------- */

static void test_run_dirs(void)
{
    char *tmp = tmpdir_make("rundir");
    char out[1024], want[1024];
    Error e = {{0}};
    CHECK(run_dir_create(tmp, "exp", 0, out, sizeof out, &e) == 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s/exp", tmp);
    CHECK(!strcmp(out, want), "first: %s", out);
    CHECK(run_dir_create(tmp, "exp", 0, out, sizeof out, &e) == 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s/exp2", tmp);
    CHECK(!strcmp(out, want) && fs_is_dir(out), "second: %s", out);
    CHECK(run_dir_create(tmp, "exp", 0, out, sizeof out, &e) == 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s/exp3/weights", tmp);
    CHECK(fs_is_dir(want), "weights/ created");
    CHECK(run_dir_create(tmp, "exp", 1, out, sizeof out, &e) == 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s/exp", tmp);
    CHECK(!strcmp(out, want), "exist_ok reuses: %s", out);

    CHECK(run_dir_latest_checkpoint(tmp, out, sizeof out, &e) == -1 && strstr(e.msg, "no last.safetensors"), "%s", e.msg);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/exp/weights/last.safetensors", tmp);
    snprintf(b, sizeof b, "%s/exp2/weights/last.safetensors", tmp);
    FILE *f = fopen(b, "w");
    if (f) fclose(f);
    f = fopen(a, "w");
    if (f) fclose(f);
    struct timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    utimensat(AT_FDCWD, b, times, 0); /* exp2's is older */
    CHECK(run_dir_latest_checkpoint(tmp, out, sizeof out, &e) == 0 && !strcmp(out, a), "newest: %s", out);
    CHECK(run_dir_of_checkpoint(a, out, sizeof out, &e) == 0 && !strcmp(out, want), "run of checkpoint: %s", out);
    rm_rf(tmp);
    free(tmp);
}

/* ---- checkpoints -------------------------------------------------------------------- */

static int fill_model(Model *m, Rng *r)
{
    model_init_weights(m, r);
    for (size_t k = 0; k < m->table.n_buffers; k++) m->buffers[k] += (float)rng_uniform(r);
    for (size_t k = 0; k < m->table.n_counters; k++) m->counters[k] = (int64_t)(k * 7 + 3);
    return 0;
}

static void test_checkpoint_round_trip(void)
{
    char *tmp = tmpdir_make("ckpt");
    char path[512];
    snprintf(path, sizeof path, "%s/last.safetensors", tmp);
    Error e = {{0}};
    Model raw, ema, raw2, ema2;
    Rng r;
    rng_seed(&r, 3);
    if (model_create_from_yaml(&raw, TRAIN_TINY_CFG, 5, &e) || model_create_from_yaml(&ema, TRAIN_TINY_CFG, 5, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    fill_model(&raw, &r);
    fill_model(&ema, &r);
    const char *names[5] = {"a", "b", "c", "d", "e"};
    model_set_names(&raw, names, 5, &e);
    model_set_names(&ema, names, 5, &e);
    unsigned char *trainable = calloc((size_t)raw.table.n_entries, 1);
    int freeze[1] = {2};
    freeze_mask(&raw.table, freeze, 1, trainable, &e);
    Optimizer opt;
    OptimizerConfig oc = {OPTIM_ADAM, 0.001, 0.9, 0.0005};
    CHECK(optimizer_init(&opt, &oc, &raw.table, trainable, &e) == 0, "%s", e.msg);
    for (size_t k = 0; k < raw.table.n_params; k++) {
        opt.state0[k] = (float)rng_normal(&r);
        opt.state1[k] = (float)rng_uniform(&r);
    }
    for (int k = 0; k < raw.table.n_entries; k++) opt.steps[k] = opt.trainable[k] ? 17 : 0;
    for (int k = 0; k < raw.table.n_entries; k++)
        if (!opt.trainable[k] && raw.table.entries[k].kind == ENTRY_PARAM) {
            const ParamEntry *en = &raw.table.entries[k];
            memset(opt.state0 + en->offset, 0, en->numel * sizeof(float));
            memset(opt.state1 + en->offset, 0, en->numel * sizeof(float));
        }
    CheckpointState s;
    memset(&s, 0, sizeof s);
    s.epoch = 4;
    s.epochs = 10;
    s.updates = 123;
    s.best_fitness = 0.1 + 0.2;
    s.stopper.best_fitness = 0.25;
    s.stopper.best_epoch = 3;
    s.last_opt_step = 99;
    s.lr[0] = s.lr[1] = s.lr[2] = 0.00604;
    s.seed = 42;
    s.hyp_json = "{\"lr0\":0.001}";
    s.options_json = "{\"epochs\":10}";
    s.dataset_fingerprint = "0123456789abcdef";
    s.results_csv = "header\nrow\n";
    CHECK(checkpoint_save(path, &raw, &ema, &opt, &s, &e) == 0, "%s", e.msg);

    Checkpoint c;
    CHECK(checkpoint_open(&c, path, &e) == 0, "%s", e.msg);
    CHECK(c.state.epoch == 4 && c.state.epochs == 10 && c.state.updates == 123 && c.state.best_fitness == 0.1 + 0.2 &&
              c.state.stopper.best_fitness == 0.25 && c.state.stopper.best_epoch == 3 && c.state.last_opt_step == 99 &&
              c.state.seed == 42 && c.nc == 5 && c.optimizer == OPTIM_ADAM && !strcmp(c.results_csv, "header\nrow\n") &&
              !strcmp(c.fingerprint, "0123456789abcdef") && !strcmp(c.hyp_json, "{\"lr0\":0.001}"),
          "metadata read back");
    CHECK(checkpoint_create_model(&c, &raw2, &e) == 0 && checkpoint_create_model(&c, &ema2, &e) == 0, "%s", e.msg);
    CHECK(checkpoint_load_model(&c, "raw.", &raw2, &e) == 0 && checkpoint_load_model(&c, "", &ema2, &e) == 0, "%s",
          e.msg);
    CHECK(!memcmp(raw2.params, raw.params, raw.table.n_params * 4) && !memcmp(raw2.buffers, raw.buffers, raw.table.n_buffers * 4) &&
              !memcmp(raw2.counters, raw.counters, raw.table.n_counters * 8),
          "training model bit for bit");
    CHECK(!memcmp(ema2.params, ema.params, ema.table.n_params * 4) && !memcmp(ema2.buffers, ema.buffers, ema.table.n_buffers * 4) &&
              !memcmp(ema2.counters, ema.counters, ema.table.n_counters * 8),
          "EMA model bit for bit");
    CHECK(!strcmp(ema2.names[4], "e"), "names");
    Optimizer opt2;
    CHECK(optimizer_init(&opt2, &oc, &raw.table, trainable, &e) == 0, "%s", e.msg);
    CHECK(checkpoint_load_optimizer(&c, &opt2, &raw.table, &e) == 0, "%s", e.msg);
    CHECK(!memcmp(opt2.state0, opt.state0, raw.table.n_params * 4) && !memcmp(opt2.state1, opt.state1, raw.table.n_params * 4) &&
              !memcmp(opt2.steps, opt.steps, (size_t)raw.table.n_entries * 8),
          "optimizer state bit for bit");
    /* only trainable entries have optimizer tensors; the plain keys are a complete weights set */
    CHECK(st_find(&c.st, "momentum.model.0.conv.weight") == NULL && st_find(&c.st, "momentum.model.2.cv1.conv.weight") &&
              st_find(&c.st, "adam_v.model.24.m.0.bias") && st_find(&c.st, "raw.model.0.bn.num_batches_tracked"),
          "tensor names");
    CHECK(c.st.count == 2 * raw.table.n_entries + 2 * opt.n_segments, "%d tensors", c.st.count);
    OptimizerConfig sgd = {OPTIM_SGD, 0.01, 0.9, 0.0005};
    Optimizer opt3;
    optimizer_init(&opt3, &sgd, &raw.table, trainable, &e);
    CHECK(checkpoint_load_optimizer(&c, &opt3, &raw.table, &e) == -1 && strstr(e.msg, "holds Adam state"), "%s", e.msg);
    optimizer_free(&opt3);
    checkpoint_close(&c);

    /* the EMA weights as plain weights: --weights copies every matching tensor */
    Model other;
    CHECK(model_create_from_yaml(&other, TRAIN_TINY_CFG, 5, &e) == 0, "%s", e.msg);
    int copied = 0;
    CHECK(weights_transfer(&other, path, 0, &copied, &e) == 0 && copied == other.table.n_entries, "copied %d: %s", copied,
          e.msg);
    CHECK(!memcmp(other.params, ema.params, ema.table.n_params * 4), "EMA weights transferred");
    model_free(&other);
    /* a different nc: the class-dependent Detect tensors do not fit and are skipped; anchors excluded on request */
    CHECK(model_create_from_yaml(&other, TRAIN_TINY_CFG, 2, &e) == 0, "%s", e.msg);
    CHECK(weights_transfer(&other, path, 1, &copied, &e) == 0 && copied == other.table.n_entries - 7, "copied %d of %d",
          copied, other.table.n_entries);
    model_free(&other);

    /* a plain weights file is not a checkpoint */
    char wpath[512];
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", tmp);
    CHECK(model_save_weights(&ema, wpath, &e) == 0, "%s", e.msg);
    CHECK(checkpoint_open(&c, wpath, &e) == -1 && strstr(e.msg, "not a training checkpoint") && strstr(e.msg, "--weights"),
          "%s", e.msg);
    /* a damaged file */
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        if (ftruncate(fileno(f), size / 2) != 0) size = 0;
        fclose(f);
    }
    CHECK(checkpoint_open(&c, path, &e) == -1 && strstr(e.msg, path), "truncated: %s", e.msg);
    CHECK(checkpoint_open(&c, "/nonexistent/x.safetensors", &e) == -1, "missing file");

    optimizer_free(&opt);
    optimizer_free(&opt2);
    free(trainable);
    model_free(&raw);
    model_free(&ema);
    model_free(&raw2);
    model_free(&ema2);
    rm_rf(tmp);
    free(tmp);
}

TEST_MAIN(TEST_ENTRY(test_multiscale_sizes), TEST_ENTRY(test_bilinear_resize_matches_torch),
          TEST_ENTRY(test_results_csv_format), TEST_ENTRY(test_options_defaults_and_flags),
          TEST_ENTRY(test_options_errors), TEST_ENTRY(test_options_json_round_trip),
          TEST_ENTRY(test_hyp_json_round_trip), TEST_ENTRY(test_run_dirs), TEST_ENTRY(test_checkpoint_round_trip))
