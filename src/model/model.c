/* Model construction: weight blocks from the ParamTable, the op graph from the
 * resolved layers, class names, and arena sizing. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

/* ------------------------------------------------------------------------ */
/* Graph construction                                                        */

typedef struct {
    Graph *g;
    int cap_tensors, cap_ops;
    int failed; /* out of memory */
} GraphBuilder;

static int gb_tensor(GraphBuilder *b, int c)
{
    Graph *g = b->g;
    if (g->n_tensors == b->cap_tensors) {
        int cap = b->cap_tensors ? 2 * b->cap_tensors : 64;
        GraphTensor *t = realloc(g->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            b->failed = 1;
            return 0;
        }
        g->tensors = t;
        b->cap_tensors = cap;
    }
    GraphTensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->c = c;
    t->producer = -1;
    t->last_use = -1;
    return g->n_tensors++;
}

/* Appends op (its out tensor is created here with c channels); returns the out id. */
static int gb_op(GraphBuilder *b, GraphOp op, int c_out)
{
    Graph *g = b->g;
    if (g->n_ops == b->cap_ops) {
        int cap = b->cap_ops ? 2 * b->cap_ops : 64;
        GraphOp *o = realloc(g->ops, (size_t)cap * sizeof *o);
        if (!o) {
            b->failed = 1;
            return 0;
        }
        g->ops = o;
        b->cap_ops = cap;
    }
    op.out = gb_tensor(b, c_out);
    if (b->failed) return 0;
    g->tensors[op.out].producer = g->n_ops;
    for (int j = 0; j < op.n_in; j++) g->tensors[op.in[j]].last_use = g->n_ops;
    g->ops[g->n_ops++] = op;
    return op.out;
}

static int gb_conv(GraphBuilder *b, const ParamTable *t, int layer, int k, int in)
{
    int unit = t->layers[layer].unit_begin + k;
    GraphOp op = {.kind = OP_CONV, .layer = layer, .n_in = 1, .in = {in}, .unit = unit};
    return gb_op(b, op, t->units[unit].c_out);
}

static int gb_simple(GraphBuilder *b, GraphOpKind kind, int layer, int in, int c)
{
    GraphOp op = {.kind = kind, .layer = layer, .n_in = 1, .in = {in}};
    return gb_op(b, op, c);
}

static int gb_pair(GraphBuilder *b, GraphOpKind kind, int layer, int in0, int in1, int c)
{
    GraphOp op = {.kind = kind, .layer = layer, .n_in = 2, .in = {in0, in1}};
    return gb_op(b, op, c);
}

static void free_graph(Graph *g)
{
    free(g->tensors);
    free(g->ops);
    free(g->layer_out);
    if (g->plan) {
        free(g->plan->hw);
        free(g->plan->bufs);
        free(g->plan->order);
        free(g->plan);
    }
    memset(g, 0, sizeof *g);
}

static int build_graph(const ModelConfig *cfg, const ParamTable *t, Graph *g, Error *err)
{
    memset(g, 0, sizeof *g);
    GraphBuilder b = {.g = g};
    g->layer_out = malloc((size_t)cfg->n_layers * sizeof *g->layer_out);
    if (!g->layer_out) return err_set(err, "model: out of memory for the graph");
    int input = gb_tensor(&b, cfg->ch_in);
    for (int i = 0; i < cfg->n_layers && !b.failed; i++) {
        const ModelLayer *L = &cfg->layers[i];
        int src[MODEL_MAX_INPUTS];
        for (int j = 0; j < L->n_inputs; j++) src[j] = L->inputs[j] < 0 ? input : g->layer_out[L->inputs[j]];
        int out = -1;
        switch (L->kind) {
        case MODULE_CONV: out = gb_conv(&b, t, i, 0, src[0]); break;
        case MODULE_C3: {
            int h = L->c3.hidden;
            int cur = gb_conv(&b, t, i, C3_CV1, src[0]);
            for (int j = 0; j < L->c3.n; j++) {
                int u = gb_conv(&b, t, i, 3 + 2 * j, cur);
                int v = gb_conv(&b, t, i, 4 + 2 * j, u);
                /* Bottleneck(c_, c_, shortcut, e=1.0): the residual needs c1 == c2, always true here. */
                cur = L->c3.shortcut ? gb_pair(&b, OP_ADD, i, cur, v, h) : v;
            }
            int side = gb_conv(&b, t, i, C3_CV2, src[0]);
            int cat = gb_pair(&b, OP_CONCAT, i, cur, side, 2 * h);
            out = gb_conv(&b, t, i, C3_CV3, cat);
            break;
        }
        case MODULE_SPPF: {
            int h = L->sppf.hidden;
            GraphOp cat = {.kind = OP_CONCAT, .layer = i, .n_in = 4};
            cat.in[0] = gb_conv(&b, t, i, SPPF_CV1, src[0]);
            for (int j = 1; j < 4; j++) {
                GraphOp pool = {.kind = OP_MAXPOOL, .layer = i, .n_in = 1, .in = {cat.in[j - 1]},
                                .pool_k = L->sppf.k};
                cat.in[j] = gb_op(&b, pool, h);
            }
            int joined = gb_op(&b, cat, 4 * h);
            out = gb_conv(&b, t, i, SPPF_CV2, joined);
            break;
        }
        case MODULE_UPSAMPLE:
            if (L->upsample.scale != 2) {
                free_graph(g);
                return err_set(err, "model: layer %d: nn.Upsample scale %d is not supported (only 2)", i,
                               L->upsample.scale);
            }
            out = gb_simple(&b, OP_UPSAMPLE, i, src[0], L->c_out);
            break;
        case MODULE_CONCAT: {
            GraphOp op = {.kind = OP_CONCAT, .layer = i, .n_in = L->n_inputs};
            for (int j = 0; j < L->n_inputs; j++) op.in[j] = src[j];
            out = gb_op(&b, op, L->c_out);
            break;
        }
        case MODULE_DETECT:
            for (int l = 0; l < L->detect.nl; l++) {
                GraphOp op = {.kind = OP_HEAD, .layer = i, .n_in = 1, .in = {src[l]}, .level = l};
                g->head_out[l] = gb_op(&b, op, L->detect.na * L->detect.no);
            }
            break;
        }
        g->layer_out[i] = out;
    }
    if (!b.failed) {
        PlanScratch *p = g->plan = calloc(1, sizeof *g->plan);
        if (p) {
            p->cap = model_plan_capacity(g, cfg->nl);
            p->hw = malloc((size_t)g->n_tensors * 2 * sizeof *p->hw);
            p->bufs = malloc((size_t)p->cap * sizeof *p->bufs);
            p->order = malloc((size_t)p->cap * 2 * sizeof *p->order);
        }
        if (!p || !p->hw || !p->bufs || !p->order) b.failed = 1;
    }
    if (b.failed) {
        free_graph(g);
        return err_set(err, "model: out of memory for the graph");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

static void free_names(char **names, int count)
{
    if (!names) return;
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

int model_set_names(Model *m, const char *const *names, int count, Error *err)
{
    if (count != m->nc) return err_set(err, "model: %d class names given for nc=%d", count, m->nc);
    char **copy = calloc((size_t)(count ? count : 1), sizeof *copy);
    if (!copy) return err_set(err, "model: out of memory for class names");
    for (int i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        copy[i] = malloc(len + 1);
        if (!copy[i]) {
            free_names(copy, i);
            return err_set(err, "model: out of memory for class names");
        }
        memcpy(copy[i], names[i], len + 1);
    }
    free_names(m->names, m->nc);
    m->names = copy;
    return 0;
}

/* YOLOv5's default names: the class indices as strings. */
static int default_names(Model *m, Error *err)
{
    char **names = calloc((size_t)(m->nc ? m->nc : 1), sizeof *names);
    if (!names) return err_set(err, "model: out of memory for class names");
    for (int i = 0; i < m->nc; i++) {
        names[i] = malloc(12);
        if (!names[i]) {
            free_names(names, i);
            return err_set(err, "model: out of memory for class names");
        }
        snprintf(names[i], 12, "%d", i);
    }
    m->names = names;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Create / free                                                             */

int model_create(Model *m, ModelConfig *cfg, Error *err)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    if (m->cfg.n_layers < 1 || m->cfg.layers[m->cfg.n_layers - 1].kind != MODULE_DETECT) {
        model_free(m);
        return err_set(err, "model: the configuration does not end in a Detect layer");
    }
    if (param_table_build(&m->cfg, &m->table, err) != 0) {
        model_free(m);
        return err_prefix(err, "model");
    }
    const ParamTable *t = &m->table;
    /* calloc: untouched pages cost nothing, so a model built only to be
     * inspected (parameter counts) stays cheap even for yolov5x. */
    m->params = calloc(t->n_params ? t->n_params : 1, sizeof(float));
    m->grads = calloc(t->n_params ? t->n_params : 1, sizeof(float));
    m->buffers = calloc(t->n_buffers ? t->n_buffers : 1, sizeof(float));
    m->counters = calloc(t->n_counters ? t->n_counters : 1, sizeof(int64_t));
    if (!m->params || !m->grads || !m->buffers || !m->counters) {
        size_t n = t->n_params;
        model_free(m);
        return err_set(err, "model: out of memory for %zu parameters", n);
    }
    m->nc = m->cfg.nc;
    for (int l = 0; l < m->cfg.nl; l++) m->stride[l] = m->cfg.stride[l];
    if (default_names(m, err) != 0 || build_graph(&m->cfg, t, &m->graph, err) != 0) {
        model_free(m);
        return -1;
    }
    return 0;
}

int model_create_from_yaml(Model *m, const char *yaml_path, int nc_override, Error *err)
{
    ModelConfig cfg;
    memset(m, 0, sizeof *m);
    if (model_config_load(yaml_path, nc_override, &cfg, err) != 0) return -1;
    return model_create(m, &cfg, err);
}

void model_free(Model *m)
{
    if (!m) return;
    free_graph(&m->graph);
    arena_free(&m->arena);
    free_names(m->names, m->nc);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->counters);
    param_table_free(&m->table);
    model_config_free(&m->cfg);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------ */
/* Arena sizing                                                              */

size_t model_arena_bytes(const Model *m, int n, int h, int w, ModelMode mode, Error *err)
{
    size_t bytes = 0;
    if (model_plan_measure(m, n, h, w, mode, &bytes, err) != 0) return 0;
    return bytes;
}

int model_reserve(Model *m, int n, int h, int w, ModelMode mode, Error *err)
{
    size_t bytes = model_arena_bytes(m, n, h, w, mode, err);
    if (!bytes) return -1;
    if (bytes <= m->arena.cap) return 0;
    arena_free(&m->arena);
    m->run_valid = 0;
    if (arena_init(&m->arena, bytes) != 0)
        return err_set(err, "model: out of memory for %.1f MiB of activations (batch %d, %dx%d)",
                       (double)bytes / (1 << 20), n, h, w);
    return 0;
}
