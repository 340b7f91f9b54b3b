/* Weights files: save -> load round trip of a built model (identical blocks
 * and outputs), files written by scripts/pt2safetensors.py, and the errors for
 * missing, extra, mis-shaped and mistyped tensors. */
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ckpt/safetensors.h"
#include "model/model.h"
#include "test.h"

#define TINY_YAML "tests/fixtures/model_parity/tiny.yaml"
#define PT2ST_FILE "tests/fixtures/ckpt/release_tiny.expected.safetensors"

static void temp_path(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "/tmp/yv5_test_model_weights_%ld_%s.safetensors", (long)getpid(), tag);
}

/* A tiny model with seeded weights and BN statistics moved by one train step. */
static int tiny_model(Model *m, uint64_t seed)
{
    Error e;
    int rc = model_create_from_yaml(m, TINY_YAML, 0, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return -1;
    Rng rng;
    rng_seed(&rng, seed);
    model_init_weights(m, &rng);
    const int n = 2, h = 64, w = 96;
    float *x = malloc((size_t)n * 3 * h * w * sizeof(float));
    for (int i = 0; i < n * 3 * h * w; i++) x[i] = (float)rng_uniform(&rng);
    rc = model_forward(m, x, n, h, w, MODEL_TRAIN, &e);
    CHECK(rc == 0, "%s", e.msg);
    free(x);
    return rc;
}

static float *images(int n, int h, int w, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    size_t count = (size_t)n * 3 * h * w;
    float *x = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) x[i] = (float)rng_uniform(&rng);
    return x;
}

static void round_trip_gives_identical_model(void)
{
    Model a, b;
    if (tiny_model(&a, 11) != 0) return;
    const char *names[] = {"person", "bicycle", "traffic light"};
    Error e;
    CHECK(model_set_names(&a, names, 3, &e) == 0, "%s", e.msg);
    char path[256];
    temp_path(path, sizeof path, "roundtrip");
    int rc = model_save_weights(&a, path, &e);
    CHECK(rc == 0, "%s", e.msg);
    rc = rc ? rc : model_create_from_weights(&b, path, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc == 0) {
        const ParamTable *t = &a.table;
        CHECK(b.table.n_params == t->n_params && b.table.n_buffers == t->n_buffers, "layout differs");
        CHECK(memcmp(a.params, b.params, t->n_params * sizeof(float)) == 0, "params differ");
        CHECK(memcmp(a.buffers, b.buffers, t->n_buffers * sizeof(float)) == 0, "buffers differ");
        CHECK(memcmp(a.counters, b.counters, t->n_counters * sizeof(int64_t)) == 0, "counters differ");
        CHECK(b.counters[t->units[0].num_batches_tracked] == 2, "num_batches_tracked %lld",
              (long long)b.counters[t->units[0].num_batches_tracked]);
        CHECK(b.nc == 3 && !strcmp(b.names[2], "traffic light"), "names: %s", b.names[2]);
        CHECK(b.stride[2] == 32.0f, "stride %g", b.stride[2]);

        /* Same outputs, bit for bit, in both modes. */
        float *x = images(2, 64, 96, 5);
        for (int mode = 0; mode < 2; mode++) {
            ModelMode mm = mode ? MODEL_TRAIN : MODEL_EVAL;
            CHECK(model_forward(&a, x, 2, 64, 96, mm, &e) == 0, "%s", e.msg);
            CHECK(model_forward(&b, x, 2, 64, 96, mm, &e) == 0, "%s", e.msg);
            for (int l = 0; l < a.out.nl; l++)
                CHECK(memcmp(a.out.pred[l], b.out.pred[l], a.out.numel[l] * sizeof(float)) == 0,
                      "mode %d level %d differs", mode, l);
        }
        free(x);

        /* Metadata as specified. */
        SafeTensors st;
        CHECK(st_read(&st, path, &e) == 0, "%s", e.msg);
        CHECK(st_meta(&st, "format") && !strcmp(st_meta(&st, "format"), MODEL_WEIGHTS_FORMAT), "format");
        CHECK(st_meta(&st, "nc") && !strcmp(st_meta(&st, "nc"), "3"), "nc");
        CHECK(st_meta(&st, "names") && !strcmp(st_meta(&st, "names"), "[\"person\",\"bicycle\",\"traffic light\"]"),
              "names %s", st_meta(&st, "names"));
        CHECK(st_meta(&st, "stride") && !strcmp(st_meta(&st, "stride"), "[8.0, 16.0, 32.0]"), "stride %s",
              st_meta(&st, "stride"));
        CHECK(st_meta(&st, "model_yaml") && strstr(st_meta(&st, "model_yaml"), "\"width_multiple\":0.0625"),
              "model_yaml");
        const StTensor *w0 = st_find(&st, "model.0.conv.weight");
        const StTensor *nbt = st_find(&st, "model.0.bn.num_batches_tracked");
        const StTensor *anc = st_find(&st, "model.24.anchors");
        CHECK(w0 && w0->dtype == ST_F32 && w0->ndim == 4 && w0->shape[0] == 8 && w0->shape[3] == 6, "conv weight");
        CHECK(nbt && nbt->dtype == ST_I64 && nbt->ndim == 0, "num_batches_tracked");
        CHECK(anc && anc->ndim == 3 && anc->shape[0] == 3 && anc->shape[2] == 2, "anchors");
        CHECK(st_find(&st, "model.2.m.0.cv1.conv.weight") && st_find(&st, "model.24.m.2.bias"), "keys");
        CHECK(st.count == a.table.n_entries, "%d tensors, %d entries", st.count, a.table.n_entries);
        st_free(&st);

        /* Loading into an already built model gives the same weights too. */
        Model c;
        CHECK(model_create_from_yaml(&c, TINY_YAML, 0, &e) == 0, "%s", e.msg);
        CHECK(model_load_weights(&c, path, &e) == 0, "%s", e.msg);
        CHECK(memcmp(a.params, c.params, t->n_params * sizeof(float)) == 0, "load into built model");
        model_free(&c);
        model_free(&b);
    }
    unlink(path);
    model_free(&a);
}

/* Writes the model's state_dict with one change: `drop` left out, `resize`
 * written with its first dimension reduced by one, `retype` written as F32
 * (`retype` must be a counter), `extra` added as a (3,) tensor. */
static int write_modified(const Model *m, const char *path, const char *drop, const char *resize, const char *retype,
                          const char *extra, int with_yaml)
{
    const ParamTable *t = &m->table;
    StEntry *entries = calloc((size_t)t->n_entries + 1, sizeof *entries);
    static const float extra_data[3] = {1, 2, 3};
    static const float one = 1.0f;
    int count = 0;
    for (int i = 0; i < t->n_entries; i++) {
        const ParamEntry *p = &t->entries[i];
        if (drop && !strcmp(p->key, drop)) continue;
        StEntry *s = &entries[count++];
        s->name = p->key;
        s->ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++) s->shape[d] = p->shape[d];
        s->dtype = p->kind == ENTRY_COUNTER ? ST_I64 : ST_F32;
        s->data = p->kind == ENTRY_PARAM    ? (const void *)(m->params + p->offset)
                  : p->kind == ENTRY_BUFFER ? (const void *)(m->buffers + p->offset)
                                            : (const void *)(m->counters + p->offset);
        if (resize && !strcmp(p->key, resize)) s->shape[0]--;
        if (retype && !strcmp(p->key, retype)) {
            s->dtype = ST_F32;
            s->data = &one;
        }
    }
    if (extra) entries[count++] = (StEntry){.name = extra, .dtype = ST_F32, .ndim = 1, .shape = {3}, .data = extra_data};
    StMeta meta[] = {{"format", MODEL_WEIGHTS_FORMAT}, {"nc", "3"}, {"model_yaml", m->cfg.yaml_text}};
    Error e;
    int rc = st_write(path, entries, count, meta, with_yaml ? 3 : 2, &e);
    CHECK(rc == 0, "%s", e.msg);
    free(entries);
    return rc;
}

/* Loads path into a copy of m and returns the error message (empty on success). */
static int load_error(const Model *ref, const char *path, char *msg, size_t cap)
{
    Model m;
    Error e;
    msg[0] = 0;
    if (model_create_from_yaml(&m, TINY_YAML, 0, &e) != 0) {
        CHECK(0, "build: %s", e.msg);
        return 0;
    }
    memcpy(m.params, ref->params, ref->table.n_params * sizeof(float));
    int rc = model_load_weights(&m, path, &e);
    if (rc != 0) snprintf(msg, cap, "%s", e.msg);
    /* A rejected file changes nothing. */
    CHECK(rc == 0 || memcmp(m.params, ref->params, ref->table.n_params * sizeof(float)) == 0,
          "failed load modified the parameters");
    model_free(&m);
    return rc;
}

static void load_errors_name_key_and_shapes(void)
{
    Model m;
    if (tiny_model(&m, 3) != 0) return;
    char path[256], msg[1024];
    temp_path(path, sizeof path, "bad");

    /* Control: the unmodified file loads. */
    if (write_modified(&m, path, NULL, NULL, NULL, NULL, 1) == 0) {
        CHECK(load_error(&m, path, msg, sizeof msg) == 0, "unmodified file: %s", msg);
    }
    if (write_modified(&m, path, "model.2.m.0.cv1.conv.weight", NULL, NULL, NULL, 1) == 0) {
        CHECK(load_error(&m, path, msg, sizeof msg) != 0, "missing tensor accepted");
        CHECK(strstr(msg, "missing tensor 'model.2.m.0.cv1.conv.weight'") && strstr(msg, "(4, 4, 1, 1)") &&
                  strstr(msg, path),
              "message: %s", msg);
    }
    if (write_modified(&m, path, NULL, NULL, NULL, "model.25.extra", 1) == 0) {
        CHECK(load_error(&m, path, msg, sizeof msg) != 0, "extra tensor accepted");
        CHECK(strstr(msg, "unexpected tensor 'model.25.extra'") && strstr(msg, "(3,)"), "message: %s", msg);
    }
    /* Training state of a checkpoint rides along and is skipped; look-alikes are not. */
    if (write_modified(&m, path, NULL, NULL, NULL, "momentum.model.0.conv.weight", 1) == 0)
        CHECK(load_error(&m, path, msg, sizeof msg) == 0, "checkpoint optimizer state rejected: %s", msg);
    if (write_modified(&m, path, NULL, NULL, NULL, "raw.model.0.conv.weight", 1) == 0)
        CHECK(load_error(&m, path, msg, sizeof msg) == 0, "checkpoint raw weights rejected: %s", msg);
    if (write_modified(&m, path, NULL, NULL, NULL, "rawx.model.0", 1) == 0)
        CHECK(load_error(&m, path, msg, sizeof msg) != 0 && strstr(msg, "unexpected tensor 'rawx.model.0'"),
              "message: %s", msg);
    if (write_modified(&m, path, NULL, "model.24.m.0.bias", NULL, NULL, 1) == 0) {
        CHECK(load_error(&m, path, msg, sizeof msg) != 0, "mis-shaped tensor accepted");
        CHECK(strstr(msg, "tensor 'model.24.m.0.bias' has shape (23,), the model needs (24,)"), "message: %s", msg);
    }
    if (write_modified(&m, path, NULL, "model.0.conv.weight", NULL, NULL, 1) == 0) {
        CHECK(load_error(&m, path, msg, sizeof msg) != 0, "mis-shaped tensor accepted");
        CHECK(strstr(msg, "'model.0.conv.weight' has shape (7, 3, 6, 6), the model needs (8, 3, 6, 6)"),
              "message: %s", msg);
    }
    if (write_modified(&m, path, NULL, NULL, "model.4.cv1.bn.num_batches_tracked", NULL, 1) == 0) {
        CHECK(load_error(&m, path, msg, sizeof msg) != 0, "F32 counter accepted");
        CHECK(strstr(msg, "'model.4.cv1.bn.num_batches_tracked' is F32"), "message: %s", msg);
    }
    /* Several problems: the first is described and the rest counted. */
    if (write_modified(&m, path, "model.24.anchors", "model.0.bn.weight", NULL, "junk", 1) == 0) {
        CHECK(load_error(&m, path, msg, sizeof msg) != 0, "bad file accepted");
        CHECK(strstr(msg, "model.0.bn.weight") && strstr(msg, "and 2 more problems"), "message: %s", msg);
    }
    /* Building from a file needs the model definition. */
    if (write_modified(&m, path, NULL, NULL, NULL, NULL, 0) == 0) {
        Model b;
        Error e;
        CHECK(model_create_from_weights(&b, path, &e) != 0 && strstr(e.msg, "model_yaml"), "message: %s", e.msg);
    }
    /* Weights for another nc. */
    {
        Model other;
        Error e;
        if (model_create_from_yaml(&other, TINY_YAML, 5, &e) == 0) {
            if (write_modified(&m, path, NULL, NULL, NULL, NULL, 1) == 0) {
                CHECK(model_load_weights(&other, path, &e) != 0 && strstr(e.msg, "nc=3") && strstr(e.msg, "nc=5"),
                      "message: %s", e.msg);
            }
            model_free(&other);
        }
    }
    /* A file that is not there. */
    {
        Error e;
        CHECK(model_load_weights(&m, "/nonexistent/w.safetensors", &e) != 0 && strstr(e.msg, "/nonexistent"),
              "message: %s", e.msg);
    }
    unlink(path);
    model_free(&m);
}

/* model_weights_check_tensors on a layout alone (as `yolov5c info --weights`
 * uses it) accepts and rejects what model_load_weights does, with the same
 * message. */
static void tensor_check_alone_agrees_with_the_loader(void)
{
    Model m;
    if (tiny_model(&m, 5) != 0) return;
    char path[256], msg[1024];
    temp_path(path, sizeof path, "check");
    SafeTensors st;
    Error e;
    if (write_modified(&m, path, NULL, NULL, NULL, "momentum.model.0.conv.weight", 1) == 0 &&
        st_read(&st, path, &e) == 0) {
        CHECK(model_weights_check_tensors(&m.table, &st, &e) == 0, "good file: %s", e.msg);
        st_free(&st);
    }
    if (write_modified(&m, path, "model.24.anchors", "model.0.conv.weight", "model.4.cv1.bn.num_batches_tracked",
                       "junk", 1) == 0 &&
        st_read(&st, path, &e) == 0) {
        CHECK(model_weights_check_tensors(&m.table, &st, &e) != 0, "bad file accepted");
        CHECK(load_error(&m, path, msg, sizeof msg) != 0 && !strcmp(msg, e.msg), "check: %s\n    load:  %s", e.msg,
              msg);
        CHECK(strstr(e.msg, path) && strstr(e.msg, "and 3 more problems"), "message: %s", e.msg);
        st_free(&st);
    }
    unlink(path);
    model_free(&m);
}

/* scripts/pt2safetensors.py writes ultralytics' model dict as JSON into
 * model_yaml; that is YAML too and builds the same model. */
static void loads_pt2safetensors_output(void)
{
    Model m;
    Error e;
    int rc = model_create_from_weights(&m, PT2ST_FILE, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return;
    CHECK(m.nc == 3 && !strcmp(m.names[0], "class0"), "nc %d names[0] %s", m.nc, m.names[0]);
    CHECK(m.table.n_entries == 349, "%d entries", m.table.n_entries);
    CHECK(m.table.units[0].c_out == 8, "layer 0 has %d channels", m.table.units[0].c_out);
    /* The release checkpoint is fp16-rounded: running_var of a fresh model is 0.9 -> 0.89990234375. */
    int i = param_table_find(&m.table, "model.8.m.0.cv1.bn.running_var");
    CHECK(i >= 0, "key missing");
    float *x = images(1, 64, 64, 2);
    rc = model_forward(&m, x, 1, 64, 64, MODEL_EVAL, &e);
    CHECK(rc == 0, "%s", e.msg);
    int finite = 1;
    size_t count = m.out.n_boxes * m.out.no;
    for (size_t j = 0; rc == 0 && j < count; j++) finite &= isfinite(m.out.decoded[j]);
    CHECK(finite, "non-finite decoded output");
    CHECK(m.out.n_boxes == 3 * (64 + 16 + 4), "%zu boxes", m.out.n_boxes);
    free(x);
    model_free(&m);
}

/* The stored definition is JSON (as pt2safetensors writes ultralytics'
 * model.yaml) with the nc in effect, and resolves to the same network. */
static void definition_is_json_with_nc_in_effect(void)
{
    Model a;
    Error e;
    if (model_create_from_yaml(&a, TINY_YAML, 5, &e) != 0) {
        CHECK(0, "%s", e.msg);
        return;
    }
    char path[256];
    temp_path(path, sizeof path, "json");
    CHECK(model_save_weights(&a, path, &e) == 0, "%s", e.msg);
    SafeTensors st;
    if (st_read(&st, path, &e) != 0) {
        CHECK(0, "%s", e.msg);
    } else {
        const char *def = st_meta(&st, "model_yaml");
        cJSON *root = def ? cJSON_Parse(def) : NULL;
        CHECK(root != NULL, "model_yaml is not JSON: %.80s", def ? def : "(missing)");
        if (root) {
            cJSON *nc = cJSON_GetObjectItem(root, "nc");
            cJSON *backbone = cJSON_GetObjectItem(root, "backbone");
            CHECK(cJSON_IsNumber(nc) && nc->valuedouble == 5, "nc in the definition");
            CHECK(cJSON_IsArray(backbone) && cJSON_GetArraySize(backbone) == 10, "backbone rows");
            cJSON_Delete(root);
        }
        ModelConfig cfg;
        int rc = def ? model_config_parse_string(def, "model_yaml", 0, &cfg, &e) : -1;
        CHECK(rc == 0, "%s", e.msg);
        if (rc == 0) {
            CHECK(cfg.nc == 5 && cfg.n_layers == a.cfg.n_layers, "nc %d layers %d", cfg.nc, cfg.n_layers);
            model_config_free(&cfg);
        }
        st_free(&st);
    }
    unlink(path);
    model_free(&a);
}

/* The metadata's nc overrides the definition's on load, as a dataset's nc
 * overrides it when training. */
static void round_trip_keeps_an_nc_override(void)
{
    Model a, b;
    Error e;
    if (model_create_from_yaml(&a, TINY_YAML, 5, &e) != 0) {
        CHECK(0, "%s", e.msg);
        return;
    }
    Rng rng;
    rng_seed(&rng, 2);
    model_init_weights(&a, &rng);
    char path[256];
    temp_path(path, sizeof path, "nc5");
    int rc = model_save_weights(&a, path, &e);
    CHECK(rc == 0, "%s", e.msg);
    rc = rc ? rc : model_create_from_weights(&b, path, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK(b.nc == 5 && b.table.detect.no == 10 && b.table.n_params == a.table.n_params, "nc %d", b.nc);
        CHECK(!strcmp(b.names[4], "4"), "names[4] %s", b.names[4]);
        CHECK(memcmp(a.params, b.params, a.table.n_params * sizeof(float)) == 0, "params differ");
        model_free(&b);
    }
    unlink(path);
    model_free(&a);
}

TEST_MAIN(TEST_ENTRY(round_trip_gives_identical_model), TEST_ENTRY(definition_is_json_with_nc_in_effect), TEST_ENTRY(round_trip_keeps_an_nc_override), TEST_ENTRY(load_errors_name_key_and_shapes),
          TEST_ENTRY(loads_pt2safetensors_output), TEST_ENTRY(tensor_check_alone_agrees_with_the_loader))
