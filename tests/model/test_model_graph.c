/* The graph as a whole, independently of PyTorch: finite-difference spot
 * checks of the train-mode gradients (loss = sum_l sum(pred_l * r_l)),
 * gradient accumulation, batch independence in eval mode, arena reuse across
 * (rect) sizes, and size errors. */
#include <stdint.h>

#include "model/model.h"
#include "test.h"

#define TINY_YAML "tests/fixtures/model_parity/tiny.yaml"

typedef struct {
    Model m;
    int n, h, w;
    float *x;
    float *r[MODEL_MAX_LEVELS]; /* fixed upstream gradients */
} Setup;

static int setup(Setup *s, int n, int h, int w, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    Error e;
    int rc = model_create_from_yaml(&s->m, TINY_YAML, 0, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return -1;
    Rng rng;
    rng_seed(&rng, seed);
    model_init_weights(&s->m, &rng);
    /* Non-trivial BN affine parameters. */
    for (int i = 0; i < s->m.table.n_units; i++) {
        const ConvUnit *u = &s->m.table.units[i];
        for (int c = 0; c < u->c_out; c++) {
            s->m.params[u->gamma + c] = (float)rng_uniform_range(&rng, 0.5, 1.5);
            s->m.params[u->beta + c] = (float)rng_uniform_range(&rng, -0.3, 0.3);
        }
    }
    s->n = n;
    s->h = h;
    s->w = w;
    size_t count = (size_t)n * 3 * h * w;
    s->x = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) s->x[i] = (float)rng_uniform(&rng);
    /* Output sizes come from a first forward. */
    rc = model_forward(&s->m, s->x, n, h, w, MODEL_TRAIN, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return -1;
    for (int l = 0; l < s->m.out.nl; l++) {
        s->r[l] = malloc(s->m.out.numel[l] * sizeof(float));
        for (size_t i = 0; i < s->m.out.numel[l]; i++) s->r[l][i] = (float)rng_normal(&rng);
    }
    return 0;
}

static void teardown(Setup *s)
{
    for (int l = 0; l < MODEL_MAX_LEVELS; l++) free(s->r[l]);
    free(s->x);
    model_free(&s->m);
}

/* Train-mode loss sum_l sum(pred_l * r_l), accumulated in double. */
static double loss(Setup *s)
{
    Error e;
    if (model_forward(&s->m, s->x, s->n, s->h, s->w, MODEL_TRAIN, &e) != 0) {
        CHECK(0, "%s", e.msg);
        return NAN;
    }
    double total = 0;
    for (int l = 0; l < s->m.out.nl; l++)
        for (size_t i = 0; i < s->m.out.numel[l]; i++) total += (double)s->m.out.pred[l][i] * s->r[l][i];
    return total;
}

/* Analytic gradients of the loss into m.grads and dinput. */
static int analytic(Setup *s, float *dinput)
{
    Error e;
    model_zero_grad(&s->m);
    if (model_forward(&s->m, s->x, s->n, s->h, s->w, MODEL_TRAIN, &e) != 0) return -1;
    int rc = model_backward(&s->m, (const float *const *)s->r, dinput, &e);
    CHECK(rc == 0, "%s", e.msg);
    return rc;
}

/* Central difference at *v with step h. */
static double central(Setup *s, float *v, float h)
{
    float keep = *v;
    *v = keep + h;
    double up = loss(s);
    *v = keep - h;
    double down = loss(s);
    *v = keep;
    return (up - down) / (2.0 * (double)h);
}

static size_t argmax_abs(const float *g, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (fabs(g[i]) > fabs(g[best])) best = i;
    return best;
}

/* Central differences with step 3e-4. The loss is only piecewise smooth
 * (max-pool arg-max switches, and training-mode BN over the few values of
 * small maps is strongly curved), so the image is 128x128 (P5 maps of 4x4) and
 * the step small; float32 rounding of the ~16k loss terms then adds noise of
 * order 1e-3/(2h) ~ 1 to gradients of 1e2..1e3. The agreement asked for is
 * 3% of the tensor's largest gradient (observed 0.6% with the AVX kernels,
 * 1.2% with the generic ones): a sanity check of the wiring, since a missing
 * fan-out term changes a gradient by O(1); test_model_parity is the precise
 * check. */
static void finite_differences_match_backward(void)
{
    Setup s;
    if (setup(&s, 2, 128, 128, 21) != 0) {
        teardown(&s);
        return;
    }
    Model *m = &s.m;
    size_t in_count = (size_t)s.n * 3 * s.h * s.w;
    float *dinput = calloc(in_count, sizeof(float));
    if (analytic(&s, dinput) != 0) {
        free(dinput);
        teardown(&s);
        return;
    }
    float *grads = malloc(m->table.n_params * sizeof(float));
    memcpy(grads, m->grads, m->table.n_params * sizeof(float));

    static const char *const keys[] = {
        "model.0.conv.weight",      "model.0.bn.weight",         "model.2.m.0.cv2.conv.weight", "model.2.cv2.bn.bias",
        "model.4.m.1.cv1.bn.bias",  "model.6.m.2.cv2.conv.weight", "model.8.cv3.conv.weight",   "model.9.cv1.conv.weight",
        "model.9.cv2.bn.weight",    "model.10.conv.weight",      "model.13.cv3.conv.weight",    "model.17.cv1.bn.weight",
        "model.18.conv.weight",     "model.20.cv2.conv.weight",  "model.23.m.0.cv1.bn.bias",    "model.24.m.0.weight",
        "model.24.m.1.bias",        "model.24.m.2.weight",
    };
    double worst = 0;
    Rng pick;
    rng_seed(&pick, 3);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int e = param_table_find(&m->table, keys[k]);
        CHECK(e >= 0, "no key %s", keys[k]);
        if (e < 0) continue;
        const ParamEntry *p = &m->table.entries[e];
        const float *g = grads + p->offset;
        size_t top = argmax_abs(g, p->numel);
        size_t idx[2] = {top, (size_t)rng_int(&pick, 0, (int64_t)p->numel - 1)};
        for (int j = 0; j < 2; j++) {
            double fd = central(&s, m->params + p->offset + idx[j], 3e-4f);
            double an = g[idx[j]], ref = fabs(g[top]);
            double rel = fabs(fd - an) / (ref > 1e-3 ? ref : 1e-3);
            if (rel > worst) worst = rel;
            CHECK(rel < 0.03, "%s[%zu]: backward %.6g, finite difference %.6g (%.3g of the tensor's max %.4g)",
                  keys[k], idx[j], an, fd, rel, ref);
        }
    }
    /* Input pixels: the largest gradient and a random one. */
    size_t top = argmax_abs(dinput, in_count);
    size_t idx[2] = {top, (size_t)rng_int(&pick, 0, (int64_t)in_count - 1)};
    for (int j = 0; j < 2; j++) {
        double fd = central(&s, s.x + idx[j], 3e-4f);
        double rel = fabs(fd - dinput[idx[j]]) / fabs(dinput[top]);
        if (rel > worst) worst = rel;
        CHECK(rel < 0.03, "input[%zu]: backward %.6g, finite difference %.6g", idx[j], dinput[idx[j]], fd);
    }
    printf("    worst |fd - backward| / max|grad of tensor|: %.3g\n", worst);
    free(grads);
    free(dinput);
    teardown(&s);
}

static void backward_accumulates_across_steps(void)
{
    Setup s;
    if (setup(&s, 1, 64, 96, 5) != 0) {
        teardown(&s);
        return;
    }
    Model *m = &s.m;
    const size_t n = m->table.n_params;
    Error e;
    if (analytic(&s, NULL) != 0) {
        teardown(&s);
        return;
    }
    float *once = malloc(n * sizeof(float));
    memcpy(once, m->grads, n * sizeof(float));
    /* A second backward of the same forward is refused: its memory was reused. */
    CHECK(model_backward(m, NULL, NULL, &e) != 0 && strstr(e.msg, "one backward per forward"), "message: %s",
          e.msg);
    /* A second step on the same batch, through m->out.dpred this time: the
     * train-mode outputs do not depend on the running stats it updated. */
    CHECK(model_forward(m, s.x, 1, 64, 96, MODEL_TRAIN, &e) == 0, "%s", e.msg);
    for (int l = 0; l < m->out.nl; l++) memcpy(m->out.dpred[l], s.r[l], m->out.numel[l] * sizeof(float));
    CHECK(model_backward(m, NULL, NULL, &e) == 0, "%s", e.msg);
    /* Not bit-exact: gemm adds its k-blocks into the existing sums one by one. */
    double scale = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(once[i]) > scale) scale = fabs(once[i]);
        double d = fabs((double)m->grads[i] - 2.0 * once[i]);
        if (d > err) err = d;
    }
    CHECK(err <= 1e-5 * scale, "gradients did not accumulate to twice: max error %.3g of %.3g", err, scale);
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += once[i] != 0.0f;
    CHECK(nonzero > n * 9 / 10, "only %zu of %zu gradients are non-zero", nonzero, n);
    /* Backward after an eval forward is refused. */
    CHECK(model_forward(m, s.x, 1, 64, 96, MODEL_EVAL, &e) == 0, "%s", e.msg);
    CHECK(model_backward(m, NULL, NULL, &e) != 0 && strstr(e.msg, "train"), "message: %s", e.msg);
    free(once);
    teardown(&s);
}

/* Eval outputs of one image do not depend on the rest of the batch. */
static void eval_is_per_image(void)
{
    Setup s;
    if (setup(&s, 3, 64, 96, 9) != 0) {
        teardown(&s);
        return;
    }
    Model *m = &s.m;
    Error e;
    CHECK(model_forward(m, s.x, 3, 64, 96, MODEL_EVAL, &e) == 0, "%s", e.msg);
    size_t per_image = m->out.n_boxes * m->out.no;
    float *batch = malloc(3 * per_image * sizeof(float));
    memcpy(batch, m->out.decoded, 3 * per_image * sizeof(float));
    for (int b = 0; b < 3; b++) {
        CHECK(model_forward(m, s.x + (size_t)b * 3 * 64 * 96, 1, 64, 96, MODEL_EVAL, &e) == 0, "%s", e.msg);
        CHECK(memcmp(m->out.decoded, batch + b * per_image, per_image * sizeof(float)) == 0,
              "image %d differs alone and in a batch", b);
    }
    /* The decode formula on one element, from the raw output. */
    int l = 1, a = 2, y = 1, x = 3, no = m->out.no;
    const float *p = m->out.pred[l] + (((size_t)a * m->out.h[l] + y) * m->out.w[l] + x) * no;
    size_t row = (size_t)3 * 8 * 12 + (size_t)(a * m->out.h[l] + y) * m->out.w[l] + x;
    const float *q = m->out.decoded + row * no;
    double sx = 1 / (1 + exp(-p[0])), sw = 1 / (1 + exp(-p[2])), so = 1 / (1 + exp(-p[4]));
    const float *anchor = m->buffers + m->table.detect.anchors + (l * 3 + a) * 2;
    CHECK_CLOSE(q[0], (2 * sx - 0.5 + x) * 16, 1e-4, 1e-6);
    CHECK_CLOSE(q[2], 4 * sw * sw * anchor[0] * 16, 1e-4, 1e-6);
    CHECK_CLOSE(q[4], so, 1e-7, 1e-6);
    free(batch);
    teardown(&s);
}

static void reserved_arena_serves_smaller_and_rect_sizes(void)
{
    Model m;
    Error e;
    if (model_create_from_yaml(&m, TINY_YAML, 0, &e) != 0) {
        CHECK(0, "%s", e.msg);
        return;
    }
    Rng rng;
    rng_seed(&rng, 1);
    model_init_weights(&m, &rng);
    CHECK(model_reserve(&m, 2, 128, 128, MODEL_TRAIN, &e) == 0, "%s", e.msg);
    unsigned char *base = m.arena.base;
    size_t cap = m.arena.cap;
    size_t bytes = model_arena_bytes(&m, 2, 128, 128, MODEL_TRAIN, &e);
    CHECK(bytes > 0 && bytes <= cap, "reserve %zu, need %zu", cap, bytes);
    float *x = calloc((size_t)2 * 3 * 128 * 128, sizeof(float));
    for (size_t i = 0; i < (size_t)2 * 3 * 128 * 128; i++) x[i] = (float)rng_uniform(&rng);
    static const int sizes[][3] = {{2, 128, 128}, {2, 64, 128}, {1, 128, 96}, {2, 32, 32}, {1, 96, 64}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int n = sizes[i][0], h = sizes[i][1], w = sizes[i][2];
        for (int mode = 0; mode < 2; mode++) {
            ModelMode mm = mode ? MODEL_EVAL : MODEL_TRAIN;
            int rc = model_forward(&m, x, n, h, w, mm, &e);
            CHECK(rc == 0, "%dx%dx%d: %s", n, h, w, e.msg);
            if (rc == 0 && mm == MODEL_TRAIN) CHECK(model_backward(&m, NULL, NULL, &e) == 0, "%s", e.msg);
            CHECK(m.arena.base == base && m.arena.cap == cap, "%dx%dx%d reallocated the arena", n, h, w);
            CHECK(m.out.h[0] == h / 8 && m.out.w[0] == w / 8 && m.out.h[2] == h / 32 && m.out.w[2] == w / 32,
                  "%dx%d: level sizes %dx%d, %dx%d", h, w, m.out.h[0], m.out.w[0], m.out.h[2], m.out.w[2]);
        }
    }
    /* Eval keeps nothing for a backward and reuses dead maps: it needs less. */
    size_t eval_bytes = model_arena_bytes(&m, 2, 128, 128, MODEL_EVAL, &e);
    CHECK(eval_bytes > 0 && eval_bytes < bytes, "eval arena %zu, train %zu", eval_bytes, bytes);
    /* Sizes the network cannot take. */
    CHECK(model_forward(&m, x, 1, 64, 80, MODEL_EVAL, &e) != 0 && strstr(e.msg, "multiples of 32"),
          "message: %s", e.msg);
    CHECK(model_forward(&m, x, 0, 64, 64, MODEL_EVAL, &e) != 0, "batch 0 accepted");
    CHECK(model_backward(&m, NULL, NULL, &e) != 0, "backward after a failed forward");
    /* A bigger step than reserved grows the arena. */
    float *big = calloc((size_t)3 * 3 * 128 * 160, sizeof(float));
    CHECK(model_forward(&m, big, 3, 128, 160, MODEL_TRAIN, &e) == 0, "%s", e.msg);
    CHECK(m.arena.cap > cap, "arena did not grow");
    free(big);
    free(x);
    model_free(&m);
}

/* A model off the standard path: one Detect level with two anchors, a conv
 * with act=False (identity activation), a 2-bottleneck C3 and SPPF right
 * before Detect. Every parameter gradient is checked against central
 * differences (the model is small enough to do them all). */
static const char *const MICRO_YAML =
    "nc: 2\ndepth_multiple: 1.0\nwidth_multiple: 1.0\nanchors:\n  - [10,13, 16,30]\n"
    "backbone:\n"
    "  [[-1, 1, Conv, [8, 3, 2]],\n"
    "   [-1, 1, Conv, [8, 3, 2, None, 1, 1, False]],\n"
    "   [-1, 2, C3, [8]],\n"
    "   [-1, 1, SPPF, [8, 5]],\n"
    "  ]\n"
    "head:\n"
    "  [[[3], 1, Detect, [nc, anchors]],\n"
    "  ]\n";

static void identity_activation_single_level_model(void)
{
    Setup s;
    memset(&s, 0, sizeof s);
    ModelConfig cfg;
    Error e;
    if (model_config_parse_string(MICRO_YAML, "micro", 0, &cfg, &e) != 0 || model_create(&s.m, &cfg, &e) != 0) {
        CHECK(0, "%s", e.msg);
        return;
    }
    Model *m = &s.m;
    CHECK(m->cfg.nl == 1 && m->cfg.na == 2 && m->stride[0] == 4.0f && m->table.units[1].act == 0, "micro model");
    Rng rng;
    rng_seed(&rng, 77);
    model_init_weights(m, &rng);
    s.n = 2;
    s.h = s.w = 32;
    s.x = malloc((size_t)2 * 3 * 32 * 32 * sizeof(float));
    for (int i = 0; i < 2 * 3 * 32 * 32; i++) s.x[i] = (float)rng_uniform(&rng);
    CHECK(model_forward(m, s.x, 2, 32, 32, MODEL_TRAIN, &e) == 0, "%s", e.msg);
    /* act=False: layer 1 is BN output itself, which goes below SiLU's minimum -0.2785. */
    const GraphTensor *l1 = &m->graph.tensors[m->graph.layer_out[1]];
    float lowest = 0;
    for (size_t i = 0; i < (size_t)2 * l1->c * l1->h * l1->w; i++)
        if (l1->data[i] < lowest) lowest = l1->data[i];
    CHECK(lowest < -0.5f, "layer 1 minimum %g: activation applied?", lowest);
    s.r[0] = malloc(m->out.numel[0] * sizeof(float));
    for (size_t i = 0; i < m->out.numel[0]; i++) s.r[0][i] = (float)rng_normal(&rng);

    float *dinput = calloc((size_t)2 * 3 * 32 * 32, sizeof(float));
    if (analytic(&s, dinput) == 0) {
        float *grads = malloc(m->table.n_params * sizeof(float));
        memcpy(grads, m->grads, m->table.n_params * sizeof(float));
        /* Differences are compared against the tensor's largest gradient, but
         * at least 1% of the model's: some gradients are exactly zero (the BN
         * bias of the act=False conv only shifts the inputs of train-mode BNs,
         * which subtract it again), and there only float noise is left. */
        double worst = 0, floor = 0.01 * fabs(grads[argmax_abs(grads, m->table.n_params)]);
        for (int k = 0; k < m->table.n_entries; k++) {
            const ParamEntry *p = &m->table.entries[k];
            if (p->kind != ENTRY_PARAM) continue;
            size_t top = argmax_abs(grads + p->offset, p->numel);
            double ref = fabs(grads[p->offset + top]);
            if (ref < floor) ref = floor;
            size_t step = p->numel > 8 ? p->numel / 8 : 1; /* a spread of elements per tensor */
            for (size_t i = 0; i < p->numel; i += step) {
                double fd = central(&s, m->params + p->offset + i, 1e-3f);
                double rel = fabs(fd - grads[p->offset + i]) / ref;
                if (rel > worst) worst = rel;
                CHECK(rel < 0.03, "%s[%zu]: backward %.6g, finite difference %.6g", p->key, i, grads[p->offset + i],
                      fd);
            }
        }
        printf("    worst |fd - backward| / max|grad of tensor|: %.3g\n", worst);
        free(grads);
    }
    free(dinput);
    teardown(&s);
}

/* The planner never gives two buffers that are live at the same step
 * overlapping memory, and the arena size covers every buffer. */
static void plan_never_overlaps_live_buffers(void)
{
    Model m;
    Error e;
    if (model_create_from_yaml(&m, "models/yolov5s.yaml", 80, &e) != 0) {
        CHECK(0, "%s", e.msg);
        return;
    }
    static const int runs[][4] = {{MODEL_TRAIN, 4, 320, 256}, {MODEL_EVAL, 8, 256, 640}, {MODEL_TRAIN, 1, 64, 64}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        size_t total = model_arena_bytes(&m, runs[r][1], runs[r][2], runs[r][3], (ModelMode)runs[r][0], &e);
        CHECK(total > 0, "%s", e.msg);
        const PlanScratch *p = m.graph.plan;
        size_t sum = 0, clashes = 0;
        int nonempty = 0;
        for (int i = 0; i < p->count; i++) {
            const PlanBuffer *a = &p->bufs[i];
            sum += a->bytes;
            nonempty += a->bytes > 0;
            CHECK(a->offset % 64 == 0 && a->offset + a->bytes <= total && a->start <= a->end,
                  "buffer %d: offset %zu bytes %zu steps %d..%d, total %zu", i, a->offset, a->bytes, a->start, a->end,
                  total);
            for (int j = i + 1; j < p->count; j++) {
                const PlanBuffer *b = &p->bufs[j];
                if (!a->bytes || !b->bytes || a->end < b->start || b->end < a->start) continue;
                if (a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes) clashes++;
            }
        }
        CHECK(clashes == 0, "run %zu: %zu pairs of live buffers overlap", r, clashes);
        CHECK(nonempty > m.graph.n_tensors, "run %zu: only %d buffers", r, nonempty);
        /* Reuse happens: the arena is well below the sum of all buffers. */
        CHECK(total < sum * 3 / 4, "run %zu: arena %zu of %zu bytes in all", r, total, sum);
    }
    model_free(&m);
}

TEST_MAIN(TEST_ENTRY(plan_never_overlaps_live_buffers), TEST_ENTRY(finite_differences_match_backward),
          TEST_ENTRY(identity_activation_single_level_model), TEST_ENTRY(backward_accumulates_across_steps),
          TEST_ENTRY(eval_is_per_image), TEST_ENTRY(reserved_arena_serves_smaller_and_rect_sizes))
