/* Training checkpoints as safetensors (checkpoint.h). */
#include "train/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/pyfloat.h"

/* ---- saving ------------------------------------------------------------------ */

static void py_repr(double v, char *buf, size_t cap) { py_float_repr(v, buf, cap); }

int checkpoint_save(const char *path, const Model *raw, const Model *ema, const Optimizer *opt,
                    const CheckpointState *s, Error *e)
{
    const ParamTable *t = &raw->table;
    int n = t->n_entries;
    if (ema->table.n_entries != n || ema->table.n_params != t->n_params)
        return err_set(e, "%s: the EMA and training models differ in layout", path);
    int n_opt = 0;
    if (opt)
        for (int k = 0; k < n; k++) n_opt += opt->trainable[k];
    int groups = opt && opt->state1 ? 2 : 1;
    int total = 2 * n + (opt ? groups * n_opt : 0);
    ModelWeightsMeta wm;
    if (model_weights_meta(ema, &wm, e) != 0) return err_prefix(e, "%s", path);
    StEntry *entries = calloc((size_t)total, sizeof *entries);
    char(*names)[MODEL_WEIGHTS_NAME_MAX] = calloc((size_t)total, sizeof *names);
    char *steps_text = NULL;
    if (!entries || !names) {
        free(entries);
        free(names);
        model_weights_meta_free(&wm);
        return err_set(e, "%s: out of memory", path);
    }
    model_weights_entries(ema, "", names, entries);
    model_weights_entries(raw, "raw.", names + n, entries + n);
    int q = 2 * n;
    for (int g = 0; opt && g < groups; g++) {
        const float *state = g == 0 ? opt->state0 : opt->state1;
        for (int k = 0; k < n; k++) {
            if (!opt->trainable[k]) continue;
            const ParamEntry *en = &t->entries[k];
            snprintf(names[q], MODEL_WEIGHTS_NAME_MAX, "%s%s", g == 0 ? "momentum." : "adam_v.", en->key);
            entries[q].name = names[q];
            entries[q].dtype = ST_F32;
            entries[q].ndim = en->ndim;
            for (int d = 0; d < en->ndim; d++) entries[q].shape[d] = en->shape[d];
            entries[q].data = state + en->offset;
            q++;
        }
    }

    /* Metadata. */
    char epoch[16], epochs[16], updates[32], best[40], last_opt[32], stop[160], lr[160], rng[256];
    snprintf(epoch, sizeof epoch, "%d", s->epoch);
    snprintf(epochs, sizeof epochs, "%d", s->epochs);
    snprintf(updates, sizeof updates, "%" PRId64, s->updates);
    py_repr(s->best_fitness, best, sizeof best);
    snprintf(last_opt, sizeof last_opt, "%" PRId64, s->last_opt_step);
    char sb[40];
    py_repr(s->stopper.best_fitness, sb, sizeof sb);
    snprintf(stop, sizeof stop, "{\"best_fitness\": %s, \"best_epoch\": %d}", sb, s->stopper.best_epoch);
    char l0[40], l1[40], l2[40];
    py_repr(s->lr[0], l0, sizeof l0);
    py_repr(s->lr[1], l1, sizeof l1);
    py_repr(s->lr[2], l2, sizeof l2);
    snprintf(lr, sizeof lr, "[%s, %s, %s]", l0, l1, l2);
    snprintf(rng, sizeof rng,
             "{\"generator\": \"xoshiro256**\", \"seed\": %" PRIu64
             ", \"streams\": \"rng_seed_stream(seed, epoch, index) per sample and per batch\"}",
             s->seed);
    if (opt) {
        size_t cap = (size_t)n * 24 + 4, len = 0;
        steps_text = malloc(cap);
        if (steps_text) {
            len += (size_t)snprintf(steps_text, cap, "[");
            for (int k = 0; k < n; k++)
                len += (size_t)snprintf(steps_text + len, cap - len, k ? ", %" PRId64 : "%" PRId64, opt->steps[k]);
            snprintf(steps_text + len, cap - len, "]");
        }
    }
    StMeta meta[24];
    int nm = 0;
    for (int k = 0; k < MODEL_WEIGHTS_META; k++) meta[nm++] = wm.meta[k];
    meta[nm++] = (StMeta){"checkpoint", CHECKPOINT_FORMAT};
    meta[nm++] = (StMeta){"model_source", s->model_source ? s->model_source : ema->cfg.source};
    meta[nm++] = (StMeta){"epoch", epoch};
    meta[nm++] = (StMeta){"epochs", epochs};
    meta[nm++] = (StMeta){"updates", updates};
    meta[nm++] = (StMeta){"best_fitness", best};
    meta[nm++] = (StMeta){"early_stopping", stop};
    meta[nm++] = (StMeta){"last_opt_step", last_opt};
    if (opt) {
        meta[nm++] = (StMeta){"optimizer", optimizer_kind_name(opt->kind)};
        meta[nm++] = (StMeta){"optimizer_steps", steps_text ? steps_text : "[]"};
    }
    meta[nm++] = (StMeta){"lr", lr};
    meta[nm++] = (StMeta){"hyp", s->hyp_json ? s->hyp_json : "{}"};
    meta[nm++] = (StMeta){"options", s->options_json ? s->options_json : "{}"};
    meta[nm++] = (StMeta){"rng", rng};
    meta[nm++] = (StMeta){"dataset_fingerprint", s->dataset_fingerprint ? s->dataset_fingerprint : ""};
    meta[nm++] = (StMeta){"results_csv", s->results_csv ? s->results_csv : ""};
    int rc = (opt && !steps_text) ? err_set(e, "%s: out of memory", path) : st_write(path, entries, q, meta, nm, e);
    free(entries);
    free(names);
    model_weights_meta_free(&wm);
    free(steps_text);
    return rc;
}

/* ---- opening ----------------------------------------------------------------- */

static char *dup_meta(const SafeTensors *st, const char *key)
{
    const char *v = st_meta(st, key);
    return v ? strdup(v) : NULL;
}

static int meta_int64(const SafeTensors *st, const char *path, const char *key, int64_t lo, int64_t hi, int64_t *out,
                      Error *e)
{
    const char *v = st_meta(st, key);
    if (!v) return err_set(e, "%s: checkpoint metadata has no %s", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi)
        return err_set(e, "%s: checkpoint metadata %s '%.40s' is not an integer in %lld..%lld", path, key, v,
                       (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

static int meta_double(const SafeTensors *st, const char *path, const char *key, double *out, Error *e)
{
    const char *v = st_meta(st, key);
    if (!v) return err_set(e, "%s: checkpoint metadata has no %s", path, key);
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end) return err_set(e, "%s: checkpoint metadata %s '%.40s' is not a number", path, key, v);
    *out = x;
    return 0;
}

void checkpoint_close(Checkpoint *c)
{
    st_free(&c->st);
    free(c->model_yaml);
    free(c->model_source);
    free(c->names_json);
    free(c->hyp_json);
    free(c->options_json);
    free(c->fingerprint);
    free(c->results_csv);
    free(c->optimizer_steps);
    memset(c, 0, sizeof *c);
}

int checkpoint_open(Checkpoint *c, const char *path, Error *e)
{
    memset(c, 0, sizeof *c);
    if (st_read(&c->st, path, e) != 0) return -1;
    const SafeTensors *st = &c->st;
    const char *fmt = st_meta(st, "checkpoint");
    if (!fmt) {
        checkpoint_close(c);
        return err_set(e, "%s: a weights file, not a training checkpoint (no optimizer state): it cannot be resumed; "
                          "start a new run from it with --weights",
                       path);
    }
    if (strcmp(fmt, CHECKPOINT_FORMAT) != 0) {
        checkpoint_close(c);
        return err_set(e, "%s: checkpoint format '%.60s' is not %s", path, fmt, CHECKPOINT_FORMAT);
    }
    int64_t v;
    int rc = 0;
    CheckpointState *s = &c->state;
    if (rc == 0 && !(rc = meta_int64(st, path, "nc", 1, 1000000, &v, e))) c->nc = (int)v;
    if (rc == 0 && !(rc = meta_int64(st, path, "epoch", -1, 100000000, &v, e))) s->epoch = (int)v;
    if (rc == 0 && !(rc = meta_int64(st, path, "epochs", 1, 100000000, &v, e))) s->epochs = (int)v;
    if (rc == 0) rc = meta_int64(st, path, "updates", 0, INT64_MAX, &s->updates, e);
    if (rc == 0) rc = meta_double(st, path, "best_fitness", &s->best_fitness, e);
    if (rc == 0) rc = meta_int64(st, path, "last_opt_step", -1, INT64_MAX, &s->last_opt_step, e);
    if (rc == 0) {
        const char *name = st_meta(st, "optimizer");
        Error oe;
        if (!name || optimizer_kind_parse(name, &c->optimizer, &oe) != 0)
            rc = err_set(e, "%s: checkpoint metadata optimizer '%.40s' is not SGD, Adam or AdamW", path,
                         name ? name : "(missing)");
    }
    if (rc == 0) {
        cJSON *j = cJSON_Parse(st_meta(st, "early_stopping") ? st_meta(st, "early_stopping") : "");
        const cJSON *bf = cJSON_GetObjectItemCaseSensitive(j, "best_fitness");
        const cJSON *be = cJSON_GetObjectItemCaseSensitive(j, "best_epoch");
        if (!cJSON_IsNumber(bf) || !cJSON_IsNumber(be))
            rc = err_set(e, "%s: checkpoint metadata early_stopping is missing or malformed", path);
        else {
            s->stopper.best_fitness = bf->valuedouble;
            s->stopper.best_epoch = (int)be->valuedouble;
        }
        cJSON_Delete(j);
    }
    if (rc == 0) {
        cJSON *j = cJSON_Parse(st_meta(st, "lr") ? st_meta(st, "lr") : "");
        if (cJSON_GetArraySize(j) == 3)
            for (int g = 0; g < 3; g++) s->lr[g] = cJSON_GetNumberValue(cJSON_GetArrayItem(j, g));
        cJSON_Delete(j);
        cJSON *r = cJSON_Parse(st_meta(st, "rng") ? st_meta(st, "rng") : "");
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(r, "seed");
        if (!cJSON_IsNumber(seed) || seed->valuedouble < 0)
            rc = err_set(e, "%s: checkpoint metadata rng has no seed", path);
        else s->seed = (uint64_t)seed->valuedouble;
        cJSON_Delete(r);
    }
    if (rc == 0) {
        const char *steps = st_meta(st, "optimizer_steps");
        cJSON *j = cJSON_Parse(steps ? steps : "");
        int n = cJSON_GetArraySize(j);
        if (!cJSON_IsArray(j)) {
            rc = err_set(e, "%s: checkpoint metadata optimizer_steps is missing or not a list", path);
        } else {
            c->optimizer_steps = calloc((size_t)(n ? n : 1), sizeof *c->optimizer_steps);
            if (!c->optimizer_steps) rc = err_set(e, "%s: out of memory", path);
            for (int k = 0; rc == 0 && k < n; k++) {
                const cJSON *it = cJSON_GetArrayItem(j, k);
                if (!cJSON_IsNumber(it) || it->valuedouble < 0)
                    rc = err_set(e, "%s: checkpoint metadata optimizer_steps[%d] is not a count", path, k);
                else c->optimizer_steps[k] = (int64_t)it->valuedouble;
            }
            c->n_optimizer_steps = n;
        }
        cJSON_Delete(j);
    }
    if (rc == 0) {
        c->model_yaml = dup_meta(st, "model_yaml");
        c->model_source = dup_meta(st, "model_source");
        c->names_json = dup_meta(st, "names");
        c->hyp_json = dup_meta(st, "hyp");
        c->options_json = dup_meta(st, "options");
        c->fingerprint = dup_meta(st, "dataset_fingerprint");
        c->results_csv = dup_meta(st, "results_csv");
        const char *missing = !c->model_yaml ? "model_yaml" : !c->hyp_json ? "hyp" : !c->options_json ? "options" : NULL;
        if (missing) rc = err_set(e, "%s: checkpoint metadata has no %s", path, missing);
        s->model_source = c->model_source;
        s->hyp_json = c->hyp_json;
        s->options_json = c->options_json;
        s->dataset_fingerprint = c->fingerprint;
        s->results_csv = c->results_csv;
    }
    if (rc != 0) checkpoint_close(c);
    return rc;
}

/* ---- restoring ---------------------------------------------------------------- */

int checkpoint_create_model(const Checkpoint *c, Model *m, Error *e)
{
    memset(m, 0, sizeof *m);
    const char *path = c->st.path;
    ModelConfig cfg;
    if (model_config_parse_string(c->model_yaml, c->model_source ? c->model_source : path, c->nc, &cfg, e) != 0)
        return err_prefix(e, "%s: model_yaml", path);
    if (model_create(m, &cfg, e) != 0) return -1;
    if (c->names_json) {
        cJSON *list = cJSON_Parse(c->names_json);
        int n = cJSON_GetArraySize(list);
        int rc = 0;
        if (!cJSON_IsArray(list) || n != m->nc) {
            rc = err_set(e, "%s: metadata names is not a list of nc=%d strings", path, m->nc);
        } else {
            const char **names = calloc((size_t)n, sizeof *names);
            if (!names) rc = err_set(e, "%s: out of memory", path);
            for (int i = 0; rc == 0 && i < n; i++) {
                names[i] = cJSON_GetStringValue(cJSON_GetArrayItem(list, i));
                if (!names[i]) rc = err_set(e, "%s: metadata names[%d] is not a string", path, i);
            }
            if (rc == 0) rc = model_set_names(m, names, n, e);
            free(names);
        }
        cJSON_Delete(list);
        if (rc != 0) {
            model_free(m);
            return -1;
        }
    }
    return 0;
}

static int same_shape(const StTensor *s, const ParamEntry *en)
{
    if (s->ndim != en->ndim) return 0;
    for (int d = 0; d < en->ndim; d++)
        if (s->shape[d] != en->shape[d]) return 0;
    return 1;
}

static int load_entry(const StTensor *s, const ParamEntry *en, Model *m, Error *e)
{
    if (en->kind == ENTRY_COUNTER) {
        if (s->dtype != ST_I64) return err_set(e, "tensor '%s' is %s, expected I64", s->name, st_dtype_name(s->dtype));
        memcpy(&m->counters[en->offset], s->data, sizeof(int64_t));
        return 0;
    }
    float *dst = (en->kind == ENTRY_PARAM ? m->params : m->buffers) + en->offset;
    return st_tensor_to_f32(s, dst, en->numel, e);
}

int checkpoint_load_model(const Checkpoint *c, const char *prefix, Model *m, Error *e)
{
    const ParamTable *t = &m->table;
    char name[128];
    for (int i = 0; i < t->n_entries; i++) {
        const ParamEntry *en = &t->entries[i];
        snprintf(name, sizeof name, "%s%s", prefix, en->key);
        const StTensor *s = st_find(&c->st, name);
        if (!s) return err_set(e, "%s: checkpoint has no tensor '%s'", c->st.path, name);
        if (!same_shape(s, en)) return err_set(e, "%s: tensor '%s' does not have the model's shape", c->st.path, name);
        if (en->kind != ENTRY_COUNTER && s->dtype != ST_F32)
            return err_set(e, "%s: tensor '%s' is %s, a checkpoint stores F32", c->st.path, name, st_dtype_name(s->dtype));
        if (load_entry(s, en, m, e) != 0) return err_prefix(e, "%s", c->st.path);
    }
    m->run_valid = 0;
    return 0;
}

int checkpoint_load_optimizer(const Checkpoint *c, Optimizer *opt, const ParamTable *t, Error *e)
{
    const char *path = c->st.path;
    if (opt->kind != c->optimizer)
        return err_set(e, "%s: the checkpoint holds %s state, the run uses %s", path, optimizer_kind_name(c->optimizer),
                       optimizer_kind_name(opt->kind));
    if (c->n_optimizer_steps != t->n_entries)
        return err_set(e, "%s: optimizer_steps lists %d entries, the model has %d", path, c->n_optimizer_steps,
                       t->n_entries);
    char name[128];
    for (int k = 0; k < t->n_entries; k++) {
        const ParamEntry *en = &t->entries[k];
        int want = opt->trainable[k];
        for (int g = 0; g < 2; g++) {
            float *state = g == 0 ? opt->state0 : opt->state1;
            snprintf(name, sizeof name, "%s%s", g == 0 ? "momentum." : "adam_v.", en->key);
            const StTensor *s = st_find(&c->st, name);
            if (!state || !want) {
                if (s) return err_set(e, "%s: unexpected optimizer tensor '%s' (frozen or not kept by %s)", path, name,
                                      optimizer_kind_name(opt->kind));
                continue;
            }
            if (!s) return err_set(e, "%s: checkpoint has no optimizer tensor '%s'", path, name);
            if (!same_shape(s, en) || s->dtype != ST_F32)
                return err_set(e, "%s: optimizer tensor '%s' is not F32 of the parameter's shape", path, name);
            if (st_tensor_to_f32(s, state + en->offset, en->numel, e) != 0) return err_prefix(e, "%s", path);
        }
        opt->steps[k] = want ? c->optimizer_steps[k] : 0;
    }
    return 0;
}

/* ---- fine-tuning ---------------------------------------------------------------- */

int weights_transfer(Model *m, const char *path, int exclude_anchors, int *copied, Error *e)
{
    SafeTensors st;
    *copied = 0;
    if (st_read(&st, path, e) != 0) return -1;
    const ParamTable *t = &m->table;
    int rc = 0, n = 0;
    for (int i = 0; i < t->n_entries && rc == 0; i++) {
        const ParamEntry *en = &t->entries[i];
        if (exclude_anchors && strstr(en->key, "anchor")) continue;
        const StTensor *s = st_find(&st, en->key);
        if (!s || !same_shape(s, en)) continue;
        if (en->kind == ENTRY_COUNTER) {
            if (s->dtype == ST_I64) memcpy(&m->counters[en->offset], s->data, sizeof(int64_t));
            else if (s->dtype == ST_I32) {
                int32_t v32;
                memcpy(&v32, s->data, sizeof v32);
                m->counters[en->offset] = v32;
            } else continue;
        } else {
            if (s->dtype != ST_F32 && s->dtype != ST_F16 && s->dtype != ST_BF16 && s->dtype != ST_F64) continue;
            float *dst = (en->kind == ENTRY_PARAM ? m->params : m->buffers) + en->offset;
            if (st_tensor_to_f32(s, dst, en->numel, e) != 0) rc = err_prefix(e, "%s", path);
        }
        n++;
    }
    st_free(&st);
    *copied = n;
    m->run_valid = 0;
    return rc;
}
