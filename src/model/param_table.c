/* state_dict layout of a resolved model (see param_table.h). Two passes over
 * the layers: the first counts entries and units so each array is allocated
 * once, the second fills them. */
#include "model/param_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ParamTable *t;
    int filling; /* 0 = counting pass, 1 = filling pass */
    int layer;
} Builder;

static int add_entry(Builder *b, const char *prefix, const char *name, EntryKind kind, int group, int ndim,
                     const int *shape)
{
    ParamTable *t = b->t;
    int index = t->n_entries++;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= (size_t)shape[d];
    size_t offset;
    if (kind == ENTRY_PARAM) {
        offset = t->n_params;
        t->n_params += numel;
        t->n_param_tensors++;
        t->group_tensors[group]++;
        t->group_numel[group] += numel;
    } else if (kind == ENTRY_BUFFER) {
        offset = t->n_buffers;
        t->n_buffers += numel;
        t->n_buffer_tensors++;
    } else {
        offset = t->n_counters;
        t->n_counters += numel;
        t->n_buffer_tensors++;
    }
    if (b->filling) {
        ParamEntry *e = &t->entries[index];
        snprintf(e->key, sizeof e->key, "%s.%s", prefix, name);
        e->ndim = ndim;
        for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
        e->numel = numel;
        e->kind = kind;
        e->group = kind == ENTRY_PARAM ? group : PARAM_GROUP_NONE;
        e->offset = offset;
        e->layer = b->layer;
    }
    return index;
}

static void add_conv_unit(Builder *b, const char *prefix, int c_in, int c_out, int k, int stride, int pad, int act)
{
    ParamTable *t = b->t;
    int u = t->n_units++;
    int wshape[4] = {c_out, c_in, k, k}, cshape[1] = {c_out};
    int first = add_entry(b, prefix, "conv.weight", ENTRY_PARAM, PARAM_GROUP_DECAY, 4, wshape);
    add_entry(b, prefix, "bn.weight", ENTRY_PARAM, PARAM_GROUP_BN_WEIGHT, 1, cshape);
    add_entry(b, prefix, "bn.bias", ENTRY_PARAM, PARAM_GROUP_BIAS, 1, cshape);
    add_entry(b, prefix, "bn.running_mean", ENTRY_BUFFER, PARAM_GROUP_NONE, 1, cshape);
    add_entry(b, prefix, "bn.running_var", ENTRY_BUFFER, PARAM_GROUP_NONE, 1, cshape);
    add_entry(b, prefix, "bn.num_batches_tracked", ENTRY_COUNTER, PARAM_GROUP_NONE, 0, NULL);
    t->n_params_fused += (size_t)c_out * (size_t)c_in * (size_t)(k * k) + (size_t)c_out;
    if (!b->filling) return;
    const ParamEntry *e = &t->entries[first];
    ConvUnit *cu = &t->units[u];
    cu->c_in = c_in;
    cu->c_out = c_out;
    cu->k = k;
    cu->stride = stride;
    cu->pad = pad;
    cu->act = act;
    cu->weight = e[0].offset;
    cu->gamma = e[1].offset;
    cu->beta = e[2].offset;
    cu->running_mean = e[3].offset;
    cu->running_var = e[4].offset;
    cu->num_batches_tracked = e[5].offset;
    cu->entry = first;
}

static void add_layer(Builder *b, const ModelConfig *cfg, int i)
{
    ParamTable *t = b->t;
    const ModelLayer *L = &cfg->layers[i];
    char prefix[24], sub[48];
    snprintf(prefix, sizeof prefix, "model.%d", i);
    b->layer = i;
    int unit_begin = t->n_units, entry_begin = t->n_entries;
    size_t params_begin = t->n_params;
    switch (L->kind) {
    case MODULE_CONV:
        add_conv_unit(b, prefix, L->c_in, L->c_out, L->conv.k, L->conv.stride, L->conv.pad, L->conv.act);
        break;
    case MODULE_C3: {
        int h = L->c3.hidden;
        snprintf(sub, sizeof sub, "%s.cv1", prefix);
        add_conv_unit(b, sub, L->c_in, h, 1, 1, 0, 1);
        snprintf(sub, sizeof sub, "%s.cv2", prefix);
        add_conv_unit(b, sub, L->c_in, h, 1, 1, 0, 1);
        snprintf(sub, sizeof sub, "%s.cv3", prefix);
        add_conv_unit(b, sub, 2 * h, L->c_out, 1, 1, 0, 1);
        for (int j = 0; j < L->c3.n; j++) {
            snprintf(sub, sizeof sub, "%s.m.%d.cv1", prefix, j);
            add_conv_unit(b, sub, h, h, 1, 1, 0, 1);
            snprintf(sub, sizeof sub, "%s.m.%d.cv2", prefix, j);
            add_conv_unit(b, sub, h, h, 3, 1, 1, 1);
        }
        break;
    }
    case MODULE_SPPF:
        snprintf(sub, sizeof sub, "%s.cv1", prefix);
        add_conv_unit(b, sub, L->c_in, L->sppf.hidden, 1, 1, 0, 1);
        snprintf(sub, sizeof sub, "%s.cv2", prefix);
        add_conv_unit(b, sub, 4 * L->sppf.hidden, L->c_out, 1, 1, 0, 1);
        break;
    case MODULE_UPSAMPLE:
    case MODULE_CONCAT: break;
    case MODULE_DETECT: {
        int nl = L->detect.nl, na = L->detect.na, no = L->detect.no;
        int ashape[3] = {nl, na, 2};
        int a = add_entry(b, prefix, "anchors", ENTRY_BUFFER, PARAM_GROUP_NONE, 3, ashape);
        if (b->filling) {
            t->detect.nl = nl;
            t->detect.na = na;
            t->detect.no = no;
            t->detect.anchors = t->entries[a].offset;
        }
        for (int j = 0; j < nl; j++) {
            int wshape[4] = {na * no, L->in_ch[j], 1, 1}, bshape[1] = {na * no};
            snprintf(sub, sizeof sub, "m.%d.weight", j);
            int w = add_entry(b, prefix, sub, ENTRY_PARAM, PARAM_GROUP_DECAY, 4, wshape);
            snprintf(sub, sizeof sub, "m.%d.bias", j);
            int bi = add_entry(b, prefix, sub, ENTRY_PARAM, PARAM_GROUP_BIAS, 1, bshape);
            t->n_params_fused += (size_t)na * no * ((size_t)L->in_ch[j] + 1);
            if (b->filling) {
                t->detect.head[j].c_in = L->in_ch[j];
                t->detect.head[j].weight = t->entries[w].offset;
                t->detect.head[j].bias = t->entries[bi].offset;
            }
        }
        break;
    }
    }
    if (b->filling) {
        LayerParams *lp = &t->layers[i];
        lp->unit_begin = unit_begin;
        lp->n_units = t->n_units - unit_begin;
        lp->entry_begin = entry_begin;
        lp->n_entries = t->n_entries - entry_begin;
        lp->n_params = t->n_params - params_begin;
    }
}

static void reset_counts(ParamTable *t)
{
    t->n_entries = t->n_units = 0;
    t->n_params = t->n_buffers = t->n_counters = t->n_params_fused = 0;
    t->n_param_tensors = t->n_buffer_tensors = 0;
    memset(t->group_tensors, 0, sizeof t->group_tensors);
    memset(t->group_numel, 0, sizeof t->group_numel);
}

int param_table_build(const ModelConfig *cfg, ParamTable *t, Error *err)
{
    memset(t, 0, sizeof *t);
    if (!cfg->n_layers || !cfg->layers) return err_set(err, "param table: the model config has no layers");
    Builder b = {.t = t};
    for (int i = 0; i < cfg->n_layers; i++) add_layer(&b, cfg, i);
    int n_entries = t->n_entries, n_units = t->n_units;
    t->entries = calloc((size_t)n_entries, sizeof *t->entries);
    t->units = calloc(n_units ? (size_t)n_units : 1, sizeof *t->units);
    t->layers = calloc((size_t)cfg->n_layers, sizeof *t->layers);
    if (!t->entries || !t->units || !t->layers) {
        param_table_free(t);
        return err_set(err, "param table: out of memory for %d entries", n_entries);
    }
    t->n_layers = cfg->n_layers;
    reset_counts(t);
    b.filling = 1;
    for (int i = 0; i < cfg->n_layers; i++) add_layer(&b, cfg, i);
    return 0;
}

void param_table_free(ParamTable *t)
{
    if (!t) return;
    free(t->entries);
    free(t->units);
    free(t->layers);
    memset(t, 0, sizeof *t);
}

int param_table_find(const ParamTable *t, const char *key)
{
    for (int i = 0; i < t->n_entries; i++)
        if (!strcmp(t->entries[i].key, key)) return i;
    return -1;
}

void param_entry_shape_str(const ParamEntry *e, char *out, size_t cap)
{
    char tmp[96];
    size_t len = 0;
    tmp[len++] = '(';
    for (int d = 0; d < e->ndim; d++)
        len += (size_t)snprintf(tmp + len, sizeof tmp - len, d ? ", %d" : "%d", e->shape[d]);
    snprintf(tmp + len, sizeof tmp - len, e->ndim == 1 ? ",)" : ")");
    snprintf(out, cap, "%s", tmp);
}
