/* Model weights as safetensors: one tensor per state_dict entry under its
 * ultralytics key, plus metadata describing the model (see model.h).
 *
 * Loading checks the whole file against the model before copying anything,
 * so a rejected file leaves the weights as they were. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"
#include "model/model.h"

/* ------------------------------------------------------------------------ */
/* Saving                                                                    */

static char *names_json(const Model *m)
{
    cJSON *list = cJSON_CreateStringArray((const char *const *)m->names, m->nc);
    if (!list) return NULL;
    char *text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    return text;
}

/* "[8.0, 16.0, 32.0]", as Python's json.dumps writes a list of floats. */
static void stride_json(const Model *m, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "[");
    for (int l = 0; l < m->cfg.nl && len < cap; l++) {
        double s = m->stride[l];
        if (s == floor(s) && fabs(s) < 1e15)
            len += (size_t)snprintf(out + len, cap - len, l ? ", %.1f" : "%.1f", s);
        else
            len += (size_t)snprintf(out + len, cap - len, l ? ", %.17g" : "%.17g", s);
    }
    if (len < cap) snprintf(out + len, cap - len, "]");
}

void model_weights_entries(const Model *m, const char *prefix, char (*names)[MODEL_WEIGHTS_NAME_MAX], StEntry *out)
{
    const ParamTable *t = &m->table;
    for (int i = 0; i < t->n_entries; i++) {
        const ParamEntry *e = &t->entries[i];
        StEntry *s = &out[i];
        snprintf(names[i], MODEL_WEIGHTS_NAME_MAX, "%s%s", prefix, e->key);
        s->name = names[i];
        s->ndim = e->ndim;
        for (int d = 0; d < e->ndim; d++) s->shape[d] = e->shape[d];
        switch (e->kind) {
        case ENTRY_PARAM:
            s->dtype = ST_F32;
            s->data = m->params + e->offset;
            break;
        case ENTRY_BUFFER:
            s->dtype = ST_F32;
            s->data = m->buffers + e->offset;
            break;
        case ENTRY_COUNTER:
            s->dtype = ST_I64;
            s->data = m->counters + e->offset;
            break;
        }
    }
}

int model_weights_meta(const Model *m, ModelWeightsMeta *wm, Error *err)
{
    memset(wm, 0, sizeof *wm);
    if (!m->cfg.yaml_text) return err_set(err, "the model has no definition text to store");
    wm->definition = model_config_definition_json(&m->cfg, err);
    if (!wm->definition) return -1;
    wm->names = names_json(m);
    if (!wm->names) {
        model_weights_meta_free(wm);
        return err_set(err, "out of memory");
    }
    snprintf(wm->nc, sizeof wm->nc, "%d", m->nc);
    stride_json(m, wm->stride, sizeof wm->stride);
    wm->meta[0] = (StMeta){"format", MODEL_WEIGHTS_FORMAT};
    wm->meta[1] = (StMeta){"nc", wm->nc};
    wm->meta[2] = (StMeta){"names", wm->names};
    wm->meta[3] = (StMeta){"model_yaml", wm->definition};
    wm->meta[4] = (StMeta){"stride", wm->stride};
    return 0;
}

void model_weights_meta_free(ModelWeightsMeta *wm)
{
    cJSON_free(wm->names);
    free(wm->definition);
    wm->names = wm->definition = NULL;
}

int model_save_weights(const Model *m, const char *path, Error *err)
{
    const ParamTable *t = &m->table;
    ModelWeightsMeta wm;
    if (model_weights_meta(m, &wm, err) != 0) return err_prefix(err, "%s", path);
    StEntry *entries = calloc((size_t)t->n_entries, sizeof *entries);
    char(*names)[MODEL_WEIGHTS_NAME_MAX] = calloc((size_t)t->n_entries, sizeof *names);
    int rc;
    if (!entries || !names) {
        rc = err_set(err, "%s: out of memory", path);
    } else {
        model_weights_entries(m, "", names, entries);
        rc = st_write(path, entries, t->n_entries, wm.meta, MODEL_WEIGHTS_META, err);
    }
    free(entries);
    free(names);
    model_weights_meta_free(&wm);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Checking                                                                  */

static void st_shape_str(const StTensor *t, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "(");
    for (int d = 0; d < t->ndim && len < cap; d++)
        len += (size_t)snprintf(out + len, cap - len, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (len < cap) snprintf(out + len, cap - len, t->ndim == 1 ? ",)" : ")");
}

static int is_float_dtype(StDtype d) { return d == ST_F32 || d == ST_F16 || d == ST_BF16 || d == ST_F64; }

/* Collects the problems of a file: the first is described, the rest counted. */
typedef struct {
    char first[768];
    int count;
} Problems;

static void problem(Problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(Problems *p, const char *fmt, ...)
{
    if (p->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->first, sizeof p->first, fmt, ap);
        va_end(ap);
    }
}

int model_weights_is_training_state(const char *tensor_name)
{
    static const char *const prefixes[] = {"raw.", "momentum.", "adam_v."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(tensor_name, prefixes[i], strlen(prefixes[i]))) return 1;
    return 0;
}

static void check_tensors(const ParamTable *t, const SafeTensors *st, Problems *p)
{
    char want[96], got[96];
    for (int i = 0; i < t->n_entries; i++) {
        const ParamEntry *e = &t->entries[i];
        param_entry_shape_str(e, want, sizeof want);
        const StTensor *s = st_find(st, e->key);
        if (!s) {
            problem(p, "missing tensor '%s' (expected shape %s)", e->key, want);
            continue;
        }
        int same = s->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = s->shape[d] == e->shape[d];
        if (!same) {
            st_shape_str(s, got, sizeof got);
            problem(p, "tensor '%s' has shape %s, the model needs %s", e->key, got, want);
            continue;
        }
        if (e->kind == ENTRY_COUNTER) {
            if (s->dtype != ST_I64 && s->dtype != ST_I32)
                problem(p, "tensor '%s' is %s, the model needs an integer (I64 or I32)", e->key,
                        st_dtype_name(s->dtype));
        } else if (!is_float_dtype(s->dtype)) {
            problem(p, "tensor '%s' is %s, the model needs floating point (F32, F16, BF16 or F64)", e->key,
                    st_dtype_name(s->dtype));
        }
    }
    for (int i = 0; i < st->count; i++) {
        const StTensor *s = &st->tensors[i];
        if (param_table_find(t, s->name) >= 0 || model_weights_is_training_state(s->name)) continue;
        st_shape_str(s, got, sizeof got);
        problem(p, "unexpected tensor '%s' of shape %s: the model has no such entry", s->name, got);
    }
}

int model_weights_check_tensors(const ParamTable *t, const SafeTensors *st, Error *err)
{
    Problems p = {{0}, 0};
    check_tensors(t, st, &p);
    if (p.count > 1) return err_set(err, "%s: %s (and %d more problems)", st->path, p.first, p.count - 1);
    if (p.count == 1) return err_set(err, "%s: %s", st->path, p.first);
    return 0;
}

/* Parses a decimal int that is the whole string. */
static int parse_int(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < -2147483647L || v > 2147483647L) return -1;
    *out = (int)v;
    return 0;
}

static int check_metadata(const Model *m, const SafeTensors *st, const char *path, Error *err)
{
    const char *format = st_meta(st, "format");
    if (format && strcmp(format, MODEL_WEIGHTS_FORMAT) != 0)
        return err_set(err, "%s: metadata format '%.64s' is not %s", path, format, MODEL_WEIGHTS_FORMAT);
    const char *nc_text = st_meta(st, "nc");
    int nc;
    if (nc_text) {
        if (parse_int(nc_text, &nc) != 0) return err_set(err, "%s: metadata nc '%.32s' is not an integer", path, nc_text);
        if (nc != m->nc) return err_set(err, "%s: weights for nc=%d, the model has nc=%d", path, nc, m->nc);
    }
    const char *stride_text = st_meta(st, "stride");
    if (stride_text) {
        cJSON *list = cJSON_Parse(stride_text);
        int ok = cJSON_IsArray(list) && cJSON_GetArraySize(list) == m->cfg.nl;
        for (int l = 0; ok && l < m->cfg.nl; l++) {
            const cJSON *v = cJSON_GetArrayItem(list, l);
            ok = cJSON_IsNumber(v) && fabs(cJSON_GetNumberValue(v) - m->stride[l]) < 1e-3;
        }
        cJSON_Delete(list);
        if (!ok) return err_set(err, "%s: metadata stride %.64s does not match the model's", path, stride_text);
    }
    return 0;
}

/* Names from the metadata (a JSON list of nc strings), or NULL when absent. */
static int read_names(const SafeTensors *st, const char *path, int nc, char ***out, Error *err)
{
    *out = NULL;
    const char *text = st_meta(st, "names");
    if (!text) return 0;
    cJSON *list = cJSON_Parse(text);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        return err_set(err, "%s: metadata names is not a JSON list", path);
    }
    int count = cJSON_GetArraySize(list);
    if (count != nc) {
        cJSON_Delete(list);
        return err_set(err, "%s: metadata names lists %d classes, nc is %d", path, count, nc);
    }
    char **names = calloc((size_t)(count ? count : 1), sizeof *names);
    int rc = names ? 0 : err_set(err, "%s: out of memory", path);
    for (int i = 0; i < count && rc == 0; i++) {
        const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(list, i));
        if (!s) {
            rc = err_set(err, "%s: metadata names[%d] is not a string", path, i);
            break;
        }
        names[i] = strdup(s);
        if (!names[i]) rc = err_set(err, "%s: out of memory", path);
    }
    cJSON_Delete(list);
    if (rc != 0) {
        for (int i = 0; names && i < count; i++) free(names[i]);
        free(names);
        return -1;
    }
    *out = names;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

static int load_from(Model *m, const SafeTensors *st, const char *path, Error *err)
{
    if (check_metadata(m, st, path, err) != 0) return -1;
    if (model_weights_check_tensors(&m->table, st, err) != 0) return -1;
    char **names;
    if (read_names(st, path, m->nc, &names, err) != 0) return -1;

    const ParamTable *t = &m->table;
    for (int i = 0; i < t->n_entries; i++) {
        const ParamEntry *e = &t->entries[i];
        const StTensor *s = st_find(st, e->key);
        if (e->kind == ENTRY_COUNTER) {
            int64_t v;
            if (s->dtype == ST_I64) {
                memcpy(&v, s->data, sizeof v);
            } else {
                int32_t v32;
                memcpy(&v32, s->data, sizeof v32);
                v = v32;
            }
            m->counters[e->offset] = v;
            continue;
        }
        float *dst = (e->kind == ENTRY_PARAM ? m->params : m->buffers) + e->offset;
        /* Cannot fail: dtype and element count were checked above. */
        if (st_tensor_to_f32(s, dst, e->numel, err) != 0) {
            for (int j = 0; names && j < m->nc; j++) free(names[j]);
            free(names);
            return err_prefix(err, "%s", path);
        }
    }
    if (names) {
        for (int i = 0; i < m->nc; i++) free(m->names[i]);
        free(m->names);
        m->names = names;
    }
    m->run_valid = 0;
    return 0;
}

int model_load_weights(Model *m, const char *path, Error *err)
{
    SafeTensors st;
    if (st_read(&st, path, err) != 0) return -1;
    int rc = load_from(m, &st, path, err);
    st_free(&st);
    return rc;
}

int model_create_from_weights(Model *m, const char *path, Error *err)
{
    memset(m, 0, sizeof *m);
    SafeTensors st;
    if (st_read(&st, path, err) != 0) return -1;
    int rc = 0, nc = 0;
    const char *yaml = st_meta(&st, "model_yaml");
    const char *nc_text = st_meta(&st, "nc");
    if (!yaml) {
        rc = err_set(err, "%s: no model_yaml metadata: the file does not say which model it holds", path);
    } else if (nc_text && parse_int(nc_text, &nc) != 0) {
        rc = err_set(err, "%s: metadata nc '%.32s' is not an integer", path, nc_text);
    }
    ModelConfig cfg;
    if (rc == 0 && model_config_parse_string(yaml, path, nc > 0 ? nc : 0, &cfg, err) != 0)
        rc = err_prefix(err, "%s: model_yaml", path);
    if (rc == 0 && model_create(m, &cfg, err) != 0) rc = -1;
    if (rc == 0 && load_from(m, &st, path, err) != 0) {
        model_free(m);
        rc = -1;
    }
    st_free(&st);
    return rc;
}
