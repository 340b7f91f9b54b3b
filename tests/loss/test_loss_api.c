/* The loss interface: input validation, configuration from hyperparameters,
 * buffer reuse, thread-count independence, and the no-target closed form. */
#include <omp.h>

#include "test.h"
#include "loss/bce.h"
#include "loss/loss_synth.h"

static int run(Loss *l, Synth *s, float *const *grad, LossResult *r, Error *e)
{
    return loss_compute(l, &s->in, grad, r, e);
}

static void gradient_is_optional_and_fully_written(void)
{
    Synth s;
    synth_make(&s, 21, 4, 2, 64, 96, 10);
    Loss l;
    Error e = {{0}};
    CHECK(loss_init(&l, &s.model, &s.cfg, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < s.numel[i]; k++) s.grad[i][k] = NAN;
    LossResult with, without;
    CHECK(run(&l, &s, s.grad, &with, &e) == 0, "%s", e.msg);
    CHECK(run(&l, &s, NULL, &without, &e) == 0, "%s", e.msg);
    CHECK(memcmp(&with, &without, sizeof with) == 0, "items differ without a gradient");
    size_t nan_count = 0;
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < s.numel[i]; k++) nan_count += isnan(s.grad[i][k]);
    CHECK(nan_count == 0, "%zu gradient elements left unwritten", nan_count);
    CHECK_CLOSE(with.total, (with.box + with.obj + with.cls) * 2, 0, 1e-15);
    loss_free(&l);
    synth_free(&s);
}

/* After the first call at the largest shape, calls reuse the buffers. */
static void steady_state_reuses_buffers(void)
{
    Synth big, small;
    synth_make(&big, 22, 3, 2, 96, 96, 20);
    synth_make(&small, 23, 3, 2, 64, 64, 8);
    Loss l;
    Error e = {{0}};
    LossResult r1, r2;
    CHECK(loss_init(&l, &big.model, &big.cfg, &e) == 0, "%s", e.msg);
    CHECK(run(&l, &big, big.grad, &r1, &e) == 0, "%s", e.msg);
    void *ptrs[6] = {l.tobj, l.row_grad, l.plane_sum, l.row_refs, l.cell_acc, l.targets[0].rows};
    size_t caps[6] = {l.tobj_cap, l.row_cap, l.plane_cap, l.refs_cap, l.acc_cap, (size_t)l.targets[0].cap};
    CHECK(run(&l, &small, small.grad, &r2, &e) == 0, "%s", e.msg);
    CHECK(run(&l, &big, big.grad, &r2, &e) == 0, "%s", e.msg);
    void *ptrs2[6] = {l.tobj, l.row_grad, l.plane_sum, l.row_refs, l.cell_acc, l.targets[0].rows};
    size_t caps2[6] = {l.tobj_cap, l.row_cap, l.plane_cap, l.refs_cap, l.acc_cap, (size_t)l.targets[0].cap};
    CHECK(memcmp(ptrs, ptrs2, sizeof ptrs) == 0 && memcmp(caps, caps2, sizeof caps) == 0, "buffers were reallocated");
    /* A shape change in between does not change the result. */
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "results differ after a smaller call");
    loss_free(&l);
    synth_free(&big);
    synth_free(&small);
}

/* Per-plane partial sums in a fixed order: 1 thread and 2 threads agree bit for bit. */
static void thread_count_does_not_change_results(void)
{
    Synth s;
    synth_make(&s, 24, 4, 8, 256, 256, 40); /* P3 has 8 x 3 x 32 x 32 cells: multi-threaded */
    Loss l;
    Error e = {{0}};
    CHECK(loss_init(&l, &s.model, &s.cfg, &e) == 0, "%s", e.msg);
    float *copy[3];
    LossResult r1, r2;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(run(&l, &s, s.grad, &r1, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 3; i++) {
        copy[i] = malloc(s.numel[i] * sizeof(float));
        memcpy(copy[i], s.grad[i], s.numel[i] * sizeof(float));
    }
    omp_set_num_threads(saved > 1 ? saved : 2);
    CHECK(run(&l, &s, s.grad, &r2, &e) == 0, "%s", e.msg);
    omp_set_num_threads(saved);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "items differ: %.17g vs %.17g", r1.total, r2.total);
    for (int i = 0; i < 3; i++) {
        CHECK(memcmp(copy[i], s.grad[i], s.numel[i] * sizeof(float)) == 0, "level %d gradient differs", i);
        free(copy[i]);
    }
    loss_free(&l);
    synth_free(&s);
}

/* With no targets only objectness remains: B * obj * sum_i balance_i * mean BCE(z4, 0). */
static void no_targets_closed_form(void)
{
    Synth s;
    synth_make(&s, 25, 3, 3, 64, 64, 0);
    Loss l;
    Error e = {{0}};
    LossResult r;
    CHECK(loss_init(&l, &s.model, &s.cfg, &e) == 0, "%s", e.msg);
    CHECK(run(&l, &s, s.grad, &r, &e) == 0, "%s", e.msg);
    const BceParams plain = {1.0, 0.0, 0.25};
    double want = 0;
    int nonzero_off_channel4 = 0;
    for (int i = 0; i < 3; i++) {
        size_t cells = s.numel[i] / 8;
        double sum = 0, d;
        for (size_t c = 0; c < cells; c++) {
            sum += bce_logits(s.pred[i][c * 8 + 4], 0.0, &plain, &d);
            CHECK_CLOSE(s.grad[i][c * 8 + 4], 3 * s.cfg.obj * s.cfg.balance[i] / cells * d, 1e-12, 1e-6);
            for (int k = 0; k < 8; k++) nonzero_off_channel4 += k != 4 && s.grad[i][c * 8 + k] != 0;
        }
        want += s.cfg.balance[i] * sum / cells;
    }
    CHECK(r.box == 0 && r.cls == 0, "box %g cls %g", r.box, r.cls);
    CHECK_CLOSE(r.obj, want * s.cfg.obj, 0, 1e-14);
    CHECK_CLOSE(r.total, 3 * want * s.cfg.obj, 0, 1e-14);
    CHECK(nonzero_off_channel4 == 0, "%d non-objectness gradients are non-zero", nonzero_off_channel4);
    CHECK(r.rows[0] == 0 && r.rows[1] == 0 && r.rows[2] == 0, "rows assigned without targets");
    loss_free(&l);
    synth_free(&s);
}

static void bad_targets_are_rejected(void)
{
    Synth s;
    synth_make(&s, 26, 3, 2, 64, 64, 4);
    Loss l;
    Error e = {{0}};
    LossResult r;
    CHECK(loss_init(&l, &s.model, &s.cfg, &e) == 0, "%s", e.msg);
    struct {
        int column;
        float value;
        const char *expect;
    } cases[] = {
        {0, 2.0f, "image index 2 outside [0, 2)"},
        {0, -1.0f, "image index -1 outside"},
        {1, 3.0f, "class 3 outside [0, 3)"},
        {2, NAN, "column 2 is nan"},
        {3, INFINITY, "column 3 is inf"},
        {4, -0.1f, "negative size"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        float saved = s.targets[6 * 2 + cases[k].column];
        s.targets[6 * 2 + cases[k].column] = cases[k].value;
        e.msg[0] = 0;
        CHECK(run(&l, &s, s.grad, &r, &e) == -1, "case %zu accepted", k);
        CHECK(strstr(e.msg, "targets row 2") && strstr(e.msg, cases[k].expect), "message: %s", e.msg);
        s.targets[6 * 2 + cases[k].column] = saved;
    }
    CHECK(run(&l, &s, s.grad, &r, &e) == 0, "%s", e.msg);
    LossInput bad = s.in;
    bad.ny[1] = 0;
    CHECK(loss_compute(&l, &bad, s.grad, &r, &e) == -1 && strstr(e.msg, "level 1 grid"), "%s", e.msg);
    loss_free(&l);
    synth_free(&s);
}

static void bad_model_or_config_is_rejected(void)
{
    Synth s;
    synth_make(&s, 27, 3, 2, 64, 64, 4);
    Loss l;
    Error e = {{0}};
    LossModel m = s.model;
    LossConfig c = s.cfg;
    c.autobalance = 1;
    m.strides = NULL;
    CHECK(loss_init(&l, &m, &c, &e) == -1 && strstr(e.msg, "stride 16"), "%s", e.msg);
    m.strides = s.strides;
    CHECK(loss_init(&l, &m, &c, &e) == 0 && l.stride16_level == 1, "%s", e.msg);
    loss_free(&l);
    c = s.cfg;
    c.anchor_t = 1.0;
    CHECK(loss_init(&l, &m, &c, &e) == -1 && strstr(e.msg, "anchor_t"), "%s", e.msg);
    c = s.cfg;
    c.box = -1;
    CHECK(loss_init(&l, &m, &c, &e) == -1 && strstr(e.msg, "box"), "%s", e.msg);
    c = s.cfg;
    s.anchors[4] = 0;
    CHECK(loss_init(&l, &m, &c, &e) == -1 && strstr(e.msg, "anchor value"), "%s", e.msg);
    m.nl = 0;
    CHECK(loss_init(&l, &m, &c, &e) == -1 && strstr(e.msg, "detection levels"), "%s", e.msg);
    synth_free(&s);
}

static void config_from_hyp_resolves_balance(void)
{
    Hyp h;
    hyp_default(&h);
    LossConfig c;
    Error e = {{0}};
    CHECK(loss_config_from_hyp(&c, &h, 3, &e) == 0, "%s", e.msg);
    CHECK(c.balance[0] == 4.0 && c.balance[1] == 1.0 && c.balance[2] == 0.4, "nl 3 balance");
    CHECK(c.box == 0.05 && c.obj == 1.0 && c.cls == 0.5 && c.anchor_t == 4.0 && c.gr == 1.0, "gains");
    CHECK(c.iou_loss == IOU_LOSS_CIOU && !c.sort_obj_iou && !c.autobalance, "options");
    CHECK(loss_config_from_hyp(&c, &h, 4, &e) == 0, "%s", e.msg);
    CHECK(c.balance[2] == 0.25 && c.balance[3] == 0.06, "nl 4 balance %g %g", c.balance[2], c.balance[3]);
    CHECK(loss_config_from_hyp(&c, &h, 2, &e) == 0 && c.balance[0] == 4.0 && c.balance[1] == 1.0, "nl 2");
    CHECK(loss_config_from_hyp(&c, &h, 6, &e) == -1 && strstr(e.msg, "balance"), "%s", e.msg);
    h.balance_count = 2;
    h.balance[0] = 3;
    h.balance[1] = 0.5;
    snprintf(h.source, sizeof h.source, "my.yaml");
    CHECK(loss_config_from_hyp(&c, &h, 3, &e) == -1, "short balance accepted");
    CHECK(strstr(e.msg, "my.yaml") && strstr(e.msg, "'balance'") && strstr(e.msg, "[3, 0.5]") &&
              strstr(e.msg, "3 detection levels"),
          "message: %s", e.msg);
    CHECK(loss_config_from_hyp(&c, &h, 2, &e) == 0 && c.balance[0] == 3 && c.balance[1] == 0.5, "%s", e.msg);
}

TEST_MAIN(TEST_ENTRY(gradient_is_optional_and_fully_written), TEST_ENTRY(steady_state_reuses_buffers),
          TEST_ENTRY(thread_count_does_not_change_results), TEST_ENTRY(no_targets_closed_form),
          TEST_ENTRY(bad_targets_are_rejected), TEST_ENTRY(bad_model_or_config_is_rejected),
          TEST_ENTRY(config_from_hyp_resolves_balance))
