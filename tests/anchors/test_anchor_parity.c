/* AutoAnchor against YOLOv5 v7.0 itself: tests/fixtures/anchors/ holds the
 * inputs, every random draw and the results of a real check_anchors run
 * (with SciPy's kmeans), of its metric / fitness / print functions on chosen
 * anchors, and of SciPy's kmeans on two point sets
 * (scripts/gen_anchor_fixtures.py). Given the same draws, ours must give the
 * same numbers and the same log lines. */
#include <math.h>

#include "anchor_test_util.h"
#include "anchors/anchor_evolve.h"
#include "anchors/autoanchor.h"
#include "anchors/kmeans.h"
#include "test.h"

typedef struct {
    SafeTensors st;
    size_t n_images, n_labels, n_attempts;
    int *shapes, *counts;
    float *labels, *anchors_grid, *stride, *grid_after, *proposed;
    double *scale;
    float *wh_check, *wh0, *wh;
    size_t n_check, n_wh0, n_wh;
    int *kmeans_init;
    double *mut_mask, *mut_u, *mut_normal, *ga_k;
    size_t n_ga_k;
    DatasetSplit split;
} Main;

static Main g;
static int g_loaded;

static int load_main(void)
{
    if (g_loaded) return g_loaded > 0 ? 0 : -1;
    g_loaded = -1;
    Error e;
    if (st_read(&g.st, ANCHOR_FIXTURE, &e)) {
        printf("    %s\n", e.msg);
        return -1;
    }
    size_t c = 0;
    g.shapes = fx_tensor(&g.st, "shapes", ST_I32, &c);
    g.n_images = c / 2;
    g.counts = fx_tensor(&g.st, "label_count", ST_I32, NULL);
    g.labels = fx_tensor(&g.st, "labels", ST_F32, &c);
    g.n_labels = c / 5;
    g.anchors_grid = fx_tensor(&g.st, "anchors_grid", ST_F32, NULL);
    g.stride = fx_tensor(&g.st, "stride", ST_F32, NULL);
    g.grid_after = fx_tensor(&g.st, "anchors_grid_after", ST_F32, NULL);
    g.proposed = fx_tensor(&g.st, "proposed", ST_F32, NULL);
    g.scale = fx_tensor(&g.st, "scale", ST_F64, NULL);
    g.wh_check = fx_tensor(&g.st, "wh_check", ST_F32, &c);
    g.n_check = c / 2;
    g.wh0 = fx_tensor(&g.st, "wh0", ST_F32, &c);
    g.n_wh0 = c / 2;
    g.wh = fx_tensor(&g.st, "wh", ST_F32, &c);
    g.n_wh = c / 2;
    g.kmeans_init = fx_tensor(&g.st, "kmeans_init", ST_I32, NULL);
    g.mut_mask = fx_tensor(&g.st, "mut_mask", ST_F64, NULL);
    g.mut_u = fx_tensor(&g.st, "mut_u", ST_F64, &g.n_attempts);
    g.mut_normal = fx_tensor(&g.st, "mut_normal", ST_F64, NULL);
    g.ga_k = fx_tensor(&g.st, "ga_k", ST_F64, &c);
    g.n_ga_k = c / 18;
    if (!g.shapes || !g.counts || !g.labels || !g.anchors_grid || !g.stride || !g.grid_after || !g.proposed ||
        !g.scale || !g.wh_check || !g.wh0 || !g.wh || !g.kmeans_init || !g.mut_mask || !g.mut_u ||
        !g.mut_normal || !g.ga_k)
        return -1;
    if (test_split_make(&g.split, g.n_images, g.shapes, g.counts, g.labels)) return -1;
    g_loaded = 1;
    return 0;
}

__attribute__((destructor)) static void free_main(void)
{
    void *ptrs[] = {g.shapes, g.counts, g.labels, g.anchors_grid, g.stride, g.grid_after, g.proposed,
                    g.scale, g.wh_check, g.wh0, g.wh, g.kmeans_init, g.mut_mask, g.mut_u,
                    g.mut_normal, g.ga_k};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
    test_split_free(&g.split);
    st_free(&g.st);
}

/* (n, 2) interleaved -> BoxWH (caller frees). */
static BoxWH boxes_from(const float *xy, size_t n)
{
    BoxWH b;
    boxwh_alloc(&b, n);
    for (size_t i = 0; i < n; i++) {
        b.w[i] = xy[2 * i];
        b.h[i] = xy[2 * i + 1];
    }
    return b;
}

static size_t count_mismatch(const BoxWH *b, const float *xy, size_t n)
{
    if (b->n != n) return n + 1;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += b->w[i] != xy[2 * i] || b->h[i] != xy[2 * i + 1];
    return bad;
}

/* The reference's mutation factors, one per generation, from its recorded
 * draws (an attempt that changes nothing is skipped, as YOLOv5 redraws). */
static double *reference_mutations(size_t *generations)
{
    double *v = malloc(g.n_attempts * 18 * sizeof *v);
    size_t gens = 0;
    for (size_t a = 0; a < g.n_attempts; a++)
        if (anchor_mutation_from_draws(g.mut_mask + a * 18, g.mut_u[a], g.mut_normal + a * 18, 18, 0.9, 0.1,
                                       v + gens * 18))
            gens++;
    *generations = gens;
    return v;
}

static void label_sizes_match(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    BoxWH b;
    size_t small = 0;
    Error e;
    CHECK(anchor_label_sizes(&g.split, 640, g.scale, 0.0, &b, NULL, &e) == 0, "%s", e.msg);
    CHECK(count_mismatch(&b, g.wh_check, g.n_check) == 0, "jittered sizes (check_anchors' wh) differ");
    boxwh_free(&b);
    CHECK(anchor_label_sizes(&g.split, 640, NULL, 0.0, &b, &small, &e) == 0, "%s", e.msg);
    CHECK(count_mismatch(&b, g.wh0, g.n_wh0) == 0, "wh0 differs");
    boxwh_free(&b);
    CHECK(anchor_label_sizes(&g.split, 640, NULL, 2.0, &b, NULL, &e) == 0, "%s", e.msg);
    CHECK(count_mismatch(&b, g.wh, g.n_wh) == 0, "filtered wh differs (%zu vs %zu rows)", b.n, g.n_wh);
    boxwh_free(&b);
    /* The reference logged how many are under 3 px. */
    char want[160];
    snprintf(want, sizeof want, "AutoAnchor: WARNING ⚠️ Extremely small objects found: %zu of %zu labels", small,
             g.n_wh0);
    CHECK(has_text(st_meta(&g.st, "log_main"), want), "small-object count %zu not in the reference log", small);
}

static void metric_matches_reference(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    size_t c = 0;
    float *sets = fx_tensor(&g.st, "metric_anchors", ST_F32, &c);
    size_t n_sets = c / 18;
    BoxWH check = boxes_from(g.wh_check, g.n_check), wh = boxes_from(g.wh, g.n_wh),
          wh0 = boxes_from(g.wh0, g.n_wh0);
    for (int t = 4; t >= 3; t--) {
        char name[64];
        snprintf(name, sizeof name, "metric_bpr_t%d", t);
        float *bpr = fx_tensor(&g.st, name, ST_F32, NULL);
        snprintf(name, sizeof name, "metric_aat_t%d", t);
        float *aat = fx_tensor(&g.st, name, ST_F32, NULL);
        snprintf(name, sizeof name, "fitness_t%d", t);
        float *fit = fx_tensor(&g.st, name, ST_F32, NULL);
        CHECK(sets && bpr && aat && fit, "fixture tensors");
        if (!sets || !bpr || !aat || !fit) break;
        for (size_t s = 0; s < n_sets; s++) {
            const float *k = sets + s * 18;
            AnchorFit f = anchor_metric(&check, k, 9, t);
            CHECK(f.bpr == bpr[s], "t=%d set %zu: bpr %.9g want %.9g", t, s, f.bpr, bpr[s]);
            CHECK(f.aat == aat[s], "t=%d set %zu: aat %.9g want %.9g", t, s, f.aat, aat[s]);
            double kd[18];
            for (int i = 0; i < 18; i++) kd[i] = k[i];
            double fd = anchor_fitness(&wh, kd, 9, t);
            CHECK(fd == fit[s], "t=%d set %zu: fitness %.9g want %.9g", t, s, fd, fit[s]);
            LogCapture lc;
            log_open(&lc);
            anchor_print_results(lc.f, &wh0, k, 9, 640, t);
            log_close(&lc);
            snprintf(name, sizeof name, "print_t%d_%zu", t, s);
            const char *want = st_meta(&g.st, name);
            size_t len = lc.len && lc.text[lc.len - 1] == '\n' ? lc.len - 1 : lc.len;
            CHECK(want && strlen(want) == len && !memcmp(want, lc.text, len), "t=%d set %zu print:\n%s\nwant:\n%s",
                  t, s, lc.text, want ? want : "(missing)");
            log_free(&lc);
        }
        free(bpr);
        free(aat);
        free(fit);
    }
    free(sets);
    boxwh_free(&check);
    boxwh_free(&wh);
    boxwh_free(&wh0);
}

/* SciPy's kmeans on a point set: each restart from the recorded picks, and
 * the whole call. */
static void kmeans_case(const char *name, double tol)
{
    char key[64];
    size_t c = 0, n_runs = 0, k_count = 0;
    snprintf(key, sizeof key, "km_%s_obs", name);
    float *obs = fx_tensor(&g.st, key, ST_F32, &c);
    size_t n = c / 2;
    snprintf(key, sizeof key, "km_%s_init", name);
    int *init = fx_tensor(&g.st, key, ST_I32, &c);
    snprintf(key, sizeof key, "km_%s_count", name);
    int *counts = fx_tensor(&g.st, key, ST_I32, &n_runs);
    int k = n_runs ? (int)(c / n_runs) : 0;
    snprintf(key, sizeof key, "km_%s_books", name);
    float *books = fx_tensor(&g.st, key, ST_F32, NULL);
    snprintf(key, sizeof key, "km_%s_dist", name);
    float *dists = fx_tensor(&g.st, key, ST_F32, NULL);
    snprintf(key, sizeof key, "km_%s_best_book", name);
    float *best = fx_tensor(&g.st, key, ST_F32, &k_count);
    snprintf(key, sizeof key, "km_%s_best_dist", name);
    float *best_dist = fx_tensor(&g.st, key, ST_F32, NULL);
    CHECK(obs && init && counts && books && dists && best && best_dist, "kmeans fixture %s", name);
    if (obs && init && counts && books && dists && best && best_dist) {
        size_t exact = 0;
        for (size_t r = 0; r < n_runs; r++) {
            float guess[2 * 64], book[2 * 64];
            for (int j = 0; j < k; j++) {
                guess[2 * j] = obs[2 * init[r * k + j]];
                guess[2 * j + 1] = obs[2 * init[r * k + j] + 1];
            }
            int kept;
            float d = kmeans_run(obs, n, guess, k, 1e-5, book, &kept);
            CHECK(kept == counts[r], "%s run %zu: %d centres, scipy %d", name, r, kept, counts[r]);
            CHECK_CLOSE(d, dists[r], 0, tol);
            if (kept == counts[r]) {
                CHECK_ARRAYS_CLOSE(name, book, books + r * 2 * k, 2 * (size_t)kept, 0, tol);
                exact += d == dists[r] && !memcmp(book, books + r * 2 * k, 2 * (size_t)kept * sizeof *book);
            }
        }
        printf("    %s: %zu of %zu runs bit-identical to scipy\n", name, exact, n_runs);
        KmeansOptions ko = {k, (int)n_runs, 1e-5, init};
        float book[2 * 64], dist;
        int kept;
        Error e;
        CHECK(kmeans_2d(obs, n, &ko, NULL, book, &kept, &dist, &e) == 0, "%s", e.msg);
        CHECK((size_t)kept * 2 == k_count, "%s: %d centres, scipy %zu", name, kept, k_count / 2);
        CHECK_CLOSE(dist, *best_dist, 0, tol);
        if ((size_t)kept * 2 == k_count) CHECK_ARRAYS_CLOSE(name, book, best, k_count, 0, tol);
    }
    free(obs);
    free(init);
    free(counts);
    free(books);
    free(dists);
    free(best);
    free(best_dist);
}

static void kmeans_matches_scipy(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    kmeans_case("blobs", 1e-6);
    kmeans_case("dupes", 1e-6);
}

/* The whitening and kmeans inside kmean_anchors: the whitened points and the
 * resulting centres are SciPy's. */
static void kmean_anchors_start_matches(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    size_t c = 0, kc = 0;
    float *obs = fx_tensor(&g.st, "kmeans_obs", ST_F32, &c);
    float *book = fx_tensor(&g.st, "kmeans_book", ST_F32, &kc);
    CHECK(obs && book && c == 2 * g.n_wh, "fixture");
    if (obs && book && c == 2 * g.n_wh) {
        /* Our k-means start, seen through kmean_anchors with 0 generations:
         * the result is the k-means centres x sigma, sorted by area. */
        BoxWH wh0 = boxes_from(g.wh0, g.n_wh0), wh = boxes_from(g.wh, g.n_wh);
        KmeanAnchorsOptions o = kmean_anchors_defaults(9, 640, 4.0);
        o.generations = 0;
        o.kmeans_init = g.kmeans_init;
        float anchors[18];
        KmeanAnchorsInfo info;
        Error e;
        CHECK(kmean_anchors_boxes(&wh0, &wh, 0, &o, NULL, anchors, &info, &e) == 0, "%s", e.msg);
        CHECK(info.used_kmeans == 1 && info.kmeans_centres == 9, "kmeans used %d, %d centres", info.used_kmeans,
              info.kmeans_centres);
        /* ga_k[0] is the reference's starting anchors (kmeans x sigma, sorted). */
        float want[18];
        for (int i = 0; i < 18; i++) want[i] = (float)g.ga_k[i];
        CHECK_ARRAYS_CLOSE("kmeans start", anchors, want, 18, 0, 1e-6);
        size_t bitwise = 0;
        for (int i = 0; i < 18; i++) bitwise += anchors[i] == want[i];
        printf("    kmeans start: %zu of 18 values bit-identical\n", bitwise);
        boxwh_free(&wh0);
        boxwh_free(&wh);
    }
    free(obs);
    free(book);
}

static void mutation_formula(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    size_t gens;
    double *v = reference_mutations(&gens);
    CHECK(gens == g.n_ga_k - 1, "%zu generations from draws, reference evaluated %zu", gens, g.n_ga_k - 1);
    /* Follow the reference: each candidate is the current anchors x v clipped
     * at 2, and it is kept when its fitness is higher; our candidates must be
     * the reference's, bit for bit, all the way. */
    BoxWH wh = boxes_from(g.wh, g.n_wh);
    double k[18];
    memcpy(k, g.ga_k, sizeof k);
    double f = anchor_fitness(&wh, k, 9, 4.0);
    size_t bad = 0, accepted = 0;
    for (size_t gi = 0; gi < gens && gi + 1 < g.n_ga_k; gi++) {
        double cand[18];
        for (int i = 0; i < 18; i++) {
            double x = k[i] * v[gi * 18 + i];
            cand[i] = x < 2.0 ? 2.0 : x;
        }
        if (memcmp(cand, g.ga_k + (gi + 1) * 18, sizeof cand)) {
            if (bad++ < 3) printf("    generation %zu: candidate differs from the reference's\n", gi);
        }
        double fg = anchor_fitness(&wh, cand, 9, 4.0);
        if (fg > f) {
            f = fg;
            memcpy(k, cand, sizeof k);
            accepted++;
        }
    }
    CHECK(bad == 0, "%zu of %zu candidates differ", bad, gens);
    printf("    %zu generations, %zu improvements\n", gens, accepted);
    /* An attempt whose mask keeps nothing changes nothing: YOLOv5 draws again. */
    double mask[18], normal[18], out[18];
    for (int i = 0; i < 18; i++) {
        mask[i] = 0.95;
        normal[i] = 1.0;
    }
    CHECK(anchor_mutation_from_draws(mask, 0.5, normal, 18, 0.9, 0.1, out) == 0, "all-ones must be redrawn");
    mask[3] = 0.1;
    CHECK(anchor_mutation_from_draws(mask, 0.5, normal, 18, 0.9, 0.1, out) == 1, "one side mutated");
    CHECK_CLOSE(out[3], 1.05, 1e-15, 0);
    normal[3] = 1e3;
    anchor_mutation_from_draws(mask, 0.5, normal, 18, 0.9, 0.1, out);
    CHECK(out[3] == 3.0, "clipped to 3.0, got %g", out[3]);
    normal[3] = -1e3;
    anchor_mutation_from_draws(mask, 0.5, normal, 18, 0.9, 0.1, out);
    CHECK(out[3] == 0.3, "clipped to 0.3, got %g", out[3]);
    boxwh_free(&wh);
    free(v);
}

static void evolve_matches_reference(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    size_t gens;
    double *v = reference_mutations(&gens);
    BoxWH wh = boxes_from(g.wh, g.n_wh);
    double k[18];
    memcpy(k, g.ga_k, sizeof k);
    EvolveOptions o = evolve_defaults(4.0);
    o.generations = (int)gens;
    o.mutations = v;
    anchor_evolve(&wh, k, 9, &o, NULL);
    /* The reference returns them sorted by area, as float32. */
    float got[18];
    double sorted[18];
    memcpy(sorted, k, sizeof sorted);
    for (int i = 1; i < 9; i++)
        for (int j = i; j > 0 && sorted[2 * j - 2] * sorted[2 * j - 1] > sorted[2 * j] * sorted[2 * j + 1]; j--) {
            double tw = sorted[2 * j], th = sorted[2 * j + 1];
            sorted[2 * j] = sorted[2 * j - 2];
            sorted[2 * j + 1] = sorted[2 * j - 1];
            sorted[2 * j - 2] = tw;
            sorted[2 * j - 1] = th;
        }
    for (int i = 0; i < 18; i++) got[i] = (float)sorted[i];
    CHECK(memcmp(got, g.proposed, sizeof got) == 0, "evolved anchors differ from the reference's");
    CHECK_ARRAYS_CLOSE("evolved", got, g.proposed, 18, 0, 1e-6);
    boxwh_free(&wh);
    free(v);
}

/* The whole check_anchors with the reference's draws: same log lines, same
 * proposal, same anchors written. */
static void check_anchors_end_to_end(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    size_t gens;
    double *v = reference_mutations(&gens);
    float px[18];
    for (int l = 0; l < 3; l++)
        for (int j = 0; j < 6; j++) px[l * 6 + j] = g.anchors_grid[l * 6 + j] * g.stride[l];
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    o.generations = (int)gens;
    o.image_scale = g.scale;
    o.kmeans_init = g.kmeans_init;
    o.mutations = v;
    o.progress = 0;
    LogCapture lc;
    log_open(&lc);
    o.log = lc.f;
    AutoAnchorResult res;
    Error e;
    int rc = check_anchors(&g.split, px, 3, 3, g.stride, &o, NULL, &res, &e);
    log_close(&lc);
    CHECK(rc == 0, "%s", e.msg);
    CHECK(res.recomputed && res.changed && !res.reversed, "recomputed %d changed %d reversed %d", res.recomputed,
          res.changed, res.reversed);
    CHECK(memcmp(res.proposed_px, g.proposed, sizeof px) == 0, "proposal differs");
    CHECK(memcmp(res.anchors_grid, g.grid_after, sizeof px) == 0, "anchors written differ");
    CHECK_ARRAYS_CLOSE("grid after", res.anchors_grid, g.grid_after, 18, 0, 1e-6);
    const char *want = st_meta(&g.st, "log_main");
    size_t len = lc.len && lc.text[lc.len - 1] == '\n' ? lc.len - 1 : lc.len;
    CHECK(want && strlen(want) == len && !memcmp(want, lc.text, len), "log:\n%s\nwant:\n%s", lc.text,
          want ? want : "(missing)");
    log_free(&lc);
    free(v);
}

/* The vector scripts/gen_anchor_fixtures.py's tsum_input(n) sums. */
static void tsum_input(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)((uint64_t)i * 2654435761u) >> 8;
        x[i] = (h >> 3) % 5 == 0 ? 0.0f : (float)h * 0x1p-24f;
    }
}

/* torch.sum's float32 order, bit for bit, on vectors of many lengths. */
static void torch_sum_order(void)
{
    CHECK(load_main() == 0, "fixture");
    if (g_loaded < 0) return;
    size_t n_len = 0;
    int *len = fx_tensor(&g.st, "tsum_len", ST_I32, &n_len);
    float *want = fx_tensor(&g.st, "tsum_want", ST_F32, NULL);
    CHECK(len && want, "fixture");
    for (size_t i = 0; len && want && i < n_len; i++) {
        float *x = malloc((size_t)len[i] * sizeof *x);
        tsum_input(x, (size_t)len[i]);
        float got = torch_sum_f32(x, (size_t)len[i]);
        CHECK(got == want[i], "length %d: %.9g want %.9g", len[i], got, want[i]);
        free(x);
    }
    free(len);
    free(want);
}

TEST_MAIN(TEST_ENTRY(torch_sum_order), TEST_ENTRY(label_sizes_match), TEST_ENTRY(metric_matches_reference), TEST_ENTRY(kmeans_matches_scipy),
          TEST_ENTRY(kmean_anchors_start_matches), TEST_ENTRY(mutation_formula),
          TEST_ENTRY(evolve_matches_reference), TEST_ENTRY(check_anchors_end_to_end))
