/* AP / mAP: NumPy-semantics primitives, hand cases (perfect detector, no
 * predictions, no labels, ties) and parity with YOLOv5 v7.0's ap_per_class and
 * val.py's means on random stats (tests/fixtures/eval/ap.safetensors). */
#include "test.h"

#include "eval/ap.h"
#include "eval/np_compat.h"
#include "eval/val_stats.h"
#include "eval_fixture.h"

static double np_interp1(double x, const double *xp, const double *fp, size_t n, double left, double right)
{
    double y;
    np_interp(&x, 1, xp, fp, n, left, right, &y);
    return y;
}

static void interp_follows_numpy(void)
{
    const double xp[5] = {0, 1, 1, 1, 2};
    const double fp[5] = {0, 10, 20, 30, 40};
    CHECK(np_interp1(-1, xp, fp, 5, -7, 99) == -7, "left");
    CHECK(np_interp1(3, xp, fp, 5, -7, 99) == 99, "right");
    CHECK(np_interp1(1, xp, fp, 5, -7, 99) == 30, "duplicates: the last one");
    CHECK(np_interp1(0.5, xp, fp, 5, -7, 99) == 5, "between");
    CHECK(np_interp1(1.5, xp, fp, 5, -7, 99) == 35, "after duplicates");
    CHECK(np_interp1(2, xp, fp, 5, -7, 99) == 40, "last point");
    const double one[1] = {0.5}, v[1] = {3};
    CHECK(np_interp1(0.5, one, v, 1, 1, 2) == 3 && np_interp1(0.4, one, v, 1, 1, 2) == 1, "single point");
    /* an unsorted xp (recall above 1 when TPs outnumber labels) is searched
     * as NumPy searches it: around the previous index first */
    const double bad_xp[6] = {0, 0.5, 1, 1.25, 1, 1};
    const double bad_fp[6] = {1, 0.8, 0.6, 0.4, 0.2, 0};
    const double xs[2] = {0.2, 1.0};
    double ys[2];
    np_interp(xs, 2, bad_xp, bad_fp, 6, 1, 0, ys);
    CHECK(ys[1] == 0.6, "guessed search: %g", ys[1]);
    double x[5];
    np_linspace(0, 1, 5, x);
    CHECK(x[0] == 0 && x[1] == 0.25 && x[4] == 1, "linspace");
    double a[300];
    for (int i = 0; i < 300; i++) a[i] = 0.1 * (i + 1);
    double s = np_sum(a, 300, 1);
    CHECK_CLOSE(s, 4515.0, 1e-9, 0);
    CHECK(np_mean(a, 0, 1) != np_mean(a, 0, 1), "mean of nothing is NaN");
}

static void smoothing_is_a_box_filter_with_edge_padding(void)
{
    double y[1000], out[1000];
    for (int i = 0; i < 1000; i++) y[i] = i < 500 ? 0.0 : 1.0;
    CHECK(ap_smooth(y, 1000, 0.1, out) == 0, "ok");
    CHECK(out[0] == 0 && fabs(out[999] - 1) < 1e-15, "ends keep the edge values");
    CHECK_CLOSE(out[500], 51.0 / 101.0, 1e-15, 0);
    CHECK(out[449] == 0 && out[550] != 1.0 && out[551] == out[551], "101 wide");
}

static void perfect_detector_scores_0_995(void)
{
    /* One class, every prediction correct at every threshold: AP is 0.995,
     * not 1 (the 101-point integral ends on the envelope's final 0). */
    uint8_t tp[3 * MATCH_NIOU];
    memset(tp, 1, sizeof tp);
    const float conf[3] = {0.9f, 0.8f, 0.7f};
    const int pcls[3] = {0, 0, 0}, tcls[3] = {0, 0, 0};
    ApResult r;
    Error e;
    CHECK(ap_per_class(tp, conf, pcls, 3, tcls, 3, &r, &e) == 0, "ok");
    CHECK(r.n_classes == 1 && r.classes[0] == 0 && r.n_labels[0] == 3, "one class");
    CHECK_CLOSE(r.ap[0], 0.995, 1e-12, 0);
    CHECK_CLOSE(r.ap[9], 0.995, 1e-12, 0);
    CHECK(r.p[0] == 1 && r.r[0] == 1, "P %g R %g", r.p[0], r.r[0]);
    CHECK(r.tp[0] == 3 && r.fp[0] == 0, "tp %g fp %g", r.tp[0], r.fp[0]);
    ap_result_free(&r);
}

static void classes_without_predictions_or_labels(void)
{
    /* class 0: 2 labels, 1 correct prediction; class 1: 1 label, no
     * predictions; class 2: predictions but no labels (ignored). */
    uint8_t tp[3 * MATCH_NIOU] = {0};
    memset(tp, 1, MATCH_NIOU);
    const float conf[3] = {0.9f, 0.8f, 0.7f};
    const int pcls[3] = {0, 2, 2}, tcls[3] = {1, 0, 0};
    ApResult r;
    Error e;
    CHECK(ap_per_class(tp, conf, pcls, 3, tcls, 3, &r, &e) == 0, "ok");
    CHECK(r.n_classes == 2 && r.classes[0] == 0 && r.classes[1] == 1, "label classes only, ascending");
    CHECK(r.n_labels[0] == 2 && r.n_labels[1] == 1, "counts");
    CHECK(r.ap[MATCH_NIOU] == 0 && r.p[1] == 0 && r.r[1] == 0, "no predictions: zeros");
    CHECK_CLOSE(r.ap[0], 0.75, 1e-12, 0); /* recall 0.5 at precision 1, then linear to (1, 0) */
    ap_result_free(&r);
    /* no labels at all */
    CHECK(ap_per_class(tp, conf, pcls, 3, tcls, 0, &r, &e) == 0 && r.n_classes == 0, "no labels");
    ap_result_free(&r);
    /* no predictions at all */
    CHECK(ap_per_class(tp, conf, pcls, 0, tcls, 3, &r, &e) == 0 && r.n_classes == 2 && r.ap[0] == 0, "no preds");
    ap_result_free(&r);
}

static void confidence_ties_keep_numpy_order(void)
{
    /* Two tied predictions of one class, one correct: with NumPy's order
     * (stable for small arrays) the correct one, listed first, comes first. */
    uint8_t tp[2 * MATCH_NIOU] = {0};
    memset(tp, 1, MATCH_NIOU);
    const float conf[2] = {0.5f, 0.5f};
    const int pcls[2] = {0, 0}, tcls[1] = {0};
    ApResult r;
    Error e;
    CHECK(ap_per_class(tp, conf, pcls, 2, tcls, 1, &r, &e) == 0, "ok");
    CHECK_CLOSE(r.ap[0], 0.995, 1e-12, 0);
    ap_result_free(&r);
    uint8_t tp2[2 * MATCH_NIOU] = {0};
    memset(tp2 + MATCH_NIOU, 1, MATCH_NIOU);
    CHECK(ap_per_class(tp2, conf, pcls, 2, tcls, 1, &r, &e) == 0, "ok");
    CHECK(r.ap[0] < 0.6, "correct one second: AP %g", r.ap[0]);
    ap_result_free(&r);
}

static void val_metrics_rules(void)
{
    ValStats s;
    val_stats_init(&s);
    Error e;
    const float det[2 * 6] = {0, 0, 1, 1, 0.9f, 1, 0, 0, 1, 1, 0.8f, 0};
    const int lab[2] = {1, 1};
    /* nothing correct: metrics skipped, zeros, maps all 0 */
    CHECK(val_stats_add_image(&s, det, 2, NULL, lab, 2, &e) == 0, "add");
    CHECK(val_stats_add_image(&s, NULL, 0, NULL, NULL, 0, &e) == 0, "empty image still seen");
    ValMetrics m;
    CHECK(val_metrics_compute(&s, 3, &m, &e) == 0, "compute");
    CHECK(!m.computed && m.map == 0 && m.maps[1] == 0 && m.nt[1] == 2 && m.nt_total == 2 && s.seen == 2, "skipped");
    val_metrics_free(&m);
    uint8_t correct[2 * MATCH_NIOU] = {0};
    memset(correct, 1, MATCH_NIOU);
    CHECK(val_stats_add_image(&s, det, 2, correct, lab, 0, &e) == 0, "add");
    CHECK(val_metrics_compute(&s, 3, &m, &e) == 0 && m.computed, "computed");
    CHECK(m.maps[0] == m.map && m.maps[2] == m.map && m.maps[1] == m.map, "one class: maps = map");
    CHECK_CLOSE(m.fitness, 0.1 * m.map50 + 0.9 * m.map, 1e-15, 0);
    val_metrics_free(&m);
    CHECK(val_metrics_compute(&s, 1, &m, &e) == -1 && strstr(e.msg, "class"), "%s", e.msg);
    val_stats_free(&s);
}

static void parity_with_reference(void)
{
    SafeTensors st;
    if (fx_open(&st, "ap.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    int cases = atoi(st_meta(&st, "cases") ? st_meta(&st, "cases") : "0");
    CHECK(cases >= 10, "cases %d", cases);
    double worst = 0, worst_means = 0;
    for (int k = 0; k < cases; k++) {
        char name[48];
#define GET(var, fn, key)                               \
    snprintf(name, sizeof name, key "_%d", k);          \
    var = fn(&st, name, &n_##var);
        size_t n_tp = 0, n_conf = 0, n_pcls = 0, n_tcls = 0, n_p = 0, n_r = 0, n_f1 = 0, n_ap = 0, n_cls = 0, n_tpc = 0,
               n_fpc = 0, n_best = 0, n_means = 0, n_maps = 0;
        uint8_t *tp;
        float *conf;
        int32_t *pcls, *tcls, *cls, *best;
        double *p, *r, *f1, *ap, *tpc, *fpc, *means, *maps;
        GET(tp, fx_u8, "tp") GET(conf, fx_f32, "conf") GET(pcls, fx_i32, "pcls") GET(tcls, fx_i32, "tcls")
        GET(p, fx_f64, "out_p") GET(r, fx_f64, "out_r") GET(f1, fx_f64, "out_f1") GET(ap, fx_f64, "out_ap")
        GET(cls, fx_i32, "out_classes") GET(tpc, fx_f64, "out_tp") GET(fpc, fx_f64, "out_fp")
        GET(best, fx_i32, "out_best") GET(means, fx_f64, "out_means") GET(maps, fx_f64, "out_maps")
#undef GET
        snprintf(name, sizeof name, "nc_%d", k);
        int nc = atoi(st_meta(&st, name) ? st_meta(&st, name) : "0");
        int loaded = tp && conf && pcls && tcls && p && r && f1 && ap && cls && tpc && fpc && best && means && maps;
        CHECK(loaded && n_tp == n_conf * MATCH_NIOU, "case %d loaded", k);
        if (loaded) {
            ApResult res;
            Error e;
            CHECK(ap_per_class(tp, conf, (const int *)pcls, n_conf, (const int *)tcls, n_tcls, &res, &e) == 0, "run");
            CHECK((size_t)res.n_classes == n_cls && n_ap == n_cls * MATCH_NIOU, "case %d: %d classes, want %zu", k,
                  res.n_classes, n_cls);
            if ((size_t)res.n_classes == n_cls) {
                int same_classes = 1;
                for (size_t i = 0; i < n_cls; i++) same_classes &= res.classes[i] == cls[i];
                CHECK(same_classes, "class list");
                CHECK(res.best_index == best[0], "case %d: best F1 index %d, reference %d", k, res.best_index, best[0]);
                double d = 0, t;
                if ((t = fx_max_abs_diff(res.p, p, n_cls)) > d) d = t;
                if ((t = fx_max_abs_diff(res.r, r, n_cls)) > d) d = t;
                if ((t = fx_max_abs_diff(res.f1, f1, n_cls)) > d) d = t;
                if ((t = fx_max_abs_diff(res.ap, ap, n_ap)) > d) d = t;
                if ((t = fx_max_abs_diff(res.tp, tpc, n_cls)) > d) d = t;
                if ((t = fx_max_abs_diff(res.fp, fpc, n_cls)) > d) d = t;
                CHECK(d <= 1e-12, "case %d: max |diff| %.3g", k, d);
                if (d > worst) worst = d;
            }
            ap_result_free(&res);

            /* val.py's final numbers from the same stats */
            ValStats s;
            val_stats_init(&s);
            float *det = calloc(n_conf ? n_conf * 6 : 6, sizeof *det);
            for (size_t i = 0; i < n_conf; i++) {
                det[i * 6 + 4] = conf[i];
                det[i * 6 + 5] = (float)pcls[i];
            }
            CHECK(val_stats_add_image(&s, det, (int)n_conf, tp, (const int *)tcls, (int)n_tcls, &e) == 0, "stats");
            ValMetrics m;
            /* predictions of a class beyond the labelled ones need room */
            int nc_all = nc + 1;
            CHECK(val_metrics_compute(&s, nc_all, &m, &e) == 0, "metrics: %s", e.msg);
            double got[5] = {m.mp, m.mr, m.map50, m.map, m.fitness};
            double d = fx_max_abs_diff(got, means, 5);
            CHECK(d <= 1e-12, "case %d: means differ by %.3g", k, d);
            for (int i = 0; i < 4; i++)
                CHECK(llround(got[i] * 1000) == llround(means[i] * 1000), "case %d: 3rd decimal of metric %d", k, i);
            CHECK(fx_max_abs_diff(m.maps, maps, (size_t)nc) <= 1e-12, "case %d: maps", k);
            if (d > worst_means) worst_means = d;
            val_metrics_free(&m);
            val_stats_free(&s);
            free(det);
        }
        free(tp), free(conf), free(pcls), free(tcls), free(p), free(r), free(f1), free(ap);
        free(cls), free(tpc), free(fpc), free(best), free(means), free(maps);
    }
    printf("    ap_per_class max |diff| %.3g, val means max |diff| %.3g over %d cases\n", worst, worst_means, cases);
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(interp_follows_numpy), TEST_ENTRY(smoothing_is_a_box_filter_with_edge_padding),
          TEST_ENTRY(perfect_detector_scores_0_995), TEST_ENTRY(classes_without_predictions_or_labels),
          TEST_ENTRY(confidence_ties_keep_numpy_order), TEST_ENTRY(val_metrics_rules),
          TEST_ENTRY(parity_with_reference))
