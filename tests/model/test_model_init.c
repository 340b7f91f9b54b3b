/* Model building and initialisation: parameter counts of the standard models
 * through the built model, initial weight statistics (spec §2.7-2.8), and
 * determinism of the initialisation for a seed. */
#include <stdint.h>

#include "model/model.h"
#include "test.h"

static int build(Model *m, const char *yaml, int nc)
{
    Error e;
    int rc = model_create_from_yaml(m, yaml, nc, &e);
    CHECK(rc == 0, "%s: %s", yaml, e.msg);
    return rc;
}

static void parameter_counts_at_nc80(void)
{
    static const struct {
        const char *yaml;
        size_t params;
    } cases[] = {
        {"models/yolov5n.yaml", 1872157}, {"models/yolov5s.yaml", 7235389}, {"models/yolov5m.yaml", 21190557},
        {"models/yolov5l.yaml", 46563709}, {"models/yolov5x.yaml", 86749405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Model m;
        if (build(&m, cases[i].yaml, 80) != 0) continue;
        CHECK(m.table.n_params == cases[i].params, "%s: %zu parameters, want %zu", cases[i].yaml, m.table.n_params,
              cases[i].params);
        /* The flat block is exactly the trainable state_dict entries. */
        size_t sum = 0;
        for (int j = 0; j < m.table.n_entries; j++)
            if (m.table.entries[j].kind == ENTRY_PARAM) sum += m.table.entries[j].numel;
        CHECK(sum == cases[i].params, "%s: entries sum to %zu", cases[i].yaml, sum);
        CHECK(m.nc == 80 && m.table.detect.no == 85, "%s: nc %d no %d", cases[i].yaml, m.nc, m.table.detect.no);
        model_free(&m);
    }
}

/* Max |x| and the mean and mean square of a block. */
static void stats(const float *x, size_t n, double *maxabs, double *mean, double *meansq)
{
    double mx = 0, s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (fabs(v) > mx) mx = fabs(v);
        s += v;
        s2 += v * v;
    }
    *maxabs = mx;
    *mean = s / (double)n;
    *meansq = s2 / (double)n;
}

static void initial_weights_follow_pytorch_and_yolov5(void)
{
    Model m;
    if (build(&m, "models/yolov5n.yaml", 80) != 0) return;
    Rng rng;
    rng_seed(&rng, 1234);
    model_init_weights(&m, &rng);
    const ParamTable *t = &m.table;

    /* Conv weights: U(-b, b), b = 1/sqrt(fan_in): inside the bound, mean ~0,
     * mean square ~b^2/3 (checked on tensors big enough for the statistics). */
    int big = 0;
    for (int i = 0; i < t->n_units; i++) {
        const ConvUnit *u = &t->units[i];
        size_t fan_in = (size_t)u->c_in * u->k * u->k, n = (size_t)u->c_out * fan_in;
        double b = 1.0 / sqrt((double)fan_in), mx, mean, msq;
        stats(m.params + u->weight, n, &mx, &mean, &msq);
        CHECK(mx <= b && mx > 0.9 * b, "unit %d: max |w| %.6g, bound %.6g", i, mx, b);
        if (n >= 20000) {
            big++;
            double sd_mean = b / sqrt(3.0 * (double)n);
            CHECK(fabs(mean) < 5 * sd_mean, "unit %d: mean %.3g", i, mean);
            CHECK(fabs(msq / (b * b / 3.0) - 1.0) < 0.05, "unit %d: mean square %.6g, want %.6g", i, msq,
                  b * b / 3.0);
        }
        for (int c = 0; c < u->c_out; c++) {
            CHECK(m.params[u->gamma + c] == 1.0f && m.params[u->beta + c] == 0.0f, "unit %d ch %d: gamma %g beta %g",
                  i, c, m.params[u->gamma + c], m.params[u->beta + c]);
            /* The stride probe's side effect. */
            CHECK(m.buffers[u->running_mean + c] == 0.0f && m.buffers[u->running_var + c] == 0.9f,
                  "unit %d ch %d: running mean %g var %.9g", i, c, m.buffers[u->running_mean + c],
                  m.buffers[u->running_var + c]);
        }
        CHECK(m.counters[u->num_batches_tracked] == 1, "unit %d: num_batches_tracked %lld", i,
              (long long)m.counters[u->num_batches_tracked]);
    }
    CHECK(big >= 10, "only %d large conv weights", big);

    /* Detect: weights and bias U(-1/sqrt(c_in), +), priors added to the bias:
     * objectness ln(8/(640/s)^2), classes ln(0.6/(nc - 0.99999)). */
    const DetectParams *d = &t->detect;
    static const double obj_prior[3] = {-6.684611727667927, -5.298317366548036, -3.912023005428146};
    const double cls_prior = -4.880273602815283;
    CHECK(d->nl == 3 && d->na == 3 && d->no == 85, "detect %d %d %d", d->nl, d->na, d->no);
    for (int l = 0; l < d->nl && l < 3; l++) {
        const DetectHead *h = &d->head[l];
        double b = 1.0 / sqrt((double)h->c_in), mx, mean, msq;
        stats(m.params + h->weight, (size_t)d->na * d->no * h->c_in, &mx, &mean, &msq);
        CHECK(mx <= b && mx > 0.9 * b, "level %d: max |w| %.6g, bound %.6g", l, mx, b);
        const float *bias = m.params + h->bias;
        double obj_sum = 0, cls_sum = 0;
        int cls_n = 0;
        for (int a = 0; a < d->na; a++) {
            for (int k = 0; k < d->no; k++) {
                double prior = k < 4 ? 0.0 : k == 4 ? obj_prior[l] : cls_prior;
                double rnd = bias[a * d->no + k] - prior;
                CHECK(fabs(rnd) <= b + 1e-6, "level %d anchor %d column %d: bias %.9g - prior %.9g = %.6g, bound %.6g",
                      l, a, k, bias[a * d->no + k], prior, rnd, b);
                if (k == 4) obj_sum += rnd;
                if (k >= 5) {
                    cls_sum += rnd;
                    cls_n++;
                }
            }
        }
        /* The priors are really there: the random part averages to ~0. */
        CHECK(fabs(obj_sum / d->na) < b, "level %d: objectness random part mean %.4g", l, obj_sum / d->na);
        CHECK(fabs(cls_sum / cls_n) < 4 * b / sqrt(3.0 * cls_n), "level %d: class random part mean %.4g", l,
              cls_sum / cls_n);
    }

    /* Anchors in grid units (YAML anchors / stride), spec §2.7. */
    static const float want[18] = {1.25f,  1.625f,  2.0f,   3.75f,  4.125f, 2.875f,  1.875f,   3.8125f, 3.875f,
                                   2.8125f, 3.6875f, 7.4375f, 3.625f, 2.8125f, 4.875f, 6.1875f, 11.65625f, 10.1875f};
    CHECK_ARRAYS_CLOSE("anchors", m.buffers + d->anchors, want, 18, 0, 0);
    CHECK(m.stride[0] == 8.0f && m.stride[1] == 16.0f && m.stride[2] == 32.0f, "strides %g %g %g", m.stride[0],
          m.stride[1], m.stride[2]);

    double gmax = 0;
    for (size_t i = 0; i < t->n_params; i++)
        if (fabs(m.grads[i]) > gmax) gmax = fabs(m.grads[i]);
    CHECK(gmax == 0, "gradients not zero after init: %g", gmax);
    model_free(&m);
}

static void init_is_deterministic_for_a_seed(void)
{
    Model a, b, c;
    if (build(&a, "tests/fixtures/model_parity/tiny.yaml", 0) != 0) return;
    if (build(&b, "tests/fixtures/model_parity/tiny.yaml", 0) != 0) {
        model_free(&a);
        return;
    }
    if (build(&c, "tests/fixtures/model_parity/tiny.yaml", 0) != 0) {
        model_free(&a);
        model_free(&b);
        return;
    }
    Rng r1, r2, r3;
    rng_seed(&r1, 7);
    rng_seed(&r2, 7);
    rng_seed(&r3, 8);
    model_init_weights(&a, &r1);
    model_init_weights(&b, &r2);
    model_init_weights(&c, &r3);
    size_t n = a.table.n_params;
    CHECK(memcmp(a.params, b.params, n * sizeof(float)) == 0, "same seed, different parameters");
    CHECK(memcmp(a.buffers, b.buffers, a.table.n_buffers * sizeof(float)) == 0, "same seed, different buffers");
    CHECK(memcmp(a.params, c.params, n * sizeof(float)) != 0, "different seeds, same parameters");
    /* The generator state after init is the same too (the stream continues identically). */
    CHECK(rng_u64(&r1) == rng_u64(&r2), "rng streams diverged");
    model_free(&a);
    model_free(&b);
    model_free(&c);
}

static void default_names_and_nc_override(void)
{
    Model m;
    if (build(&m, "models/yolov5s.yaml", 3) != 0) return;
    CHECK(m.nc == 3 && m.table.detect.no == 8, "nc %d no %d", m.nc, m.table.detect.no);
    CHECK(m.names && !strcmp(m.names[0], "0") && !strcmp(m.names[2], "2"), "default names");
    const char *names[] = {"cat", "dog", "bird"};
    Error e;
    CHECK(model_set_names(&m, names, 3, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(m.names[1], "dog"), "names[1] = %s", m.names[1]);
    CHECK(model_set_names(&m, names, 2, &e) != 0 && strstr(e.msg, "nc=3"), "count mismatch: %s", e.msg);
    model_free(&m);
}

TEST_MAIN(TEST_ENTRY(parameter_counts_at_nc80), TEST_ENTRY(initial_weights_follow_pytorch_and_yolov5),
          TEST_ENTRY(init_is_deterministic_for_a_seed), TEST_ENTRY(default_names_and_nc_override))
