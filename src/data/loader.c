/* The batch loader (see loader.h): epoch order, per-sample work on pthreads
 * with a bounded window of batch slots, collation.
 *
 * Work unit: one sample (position t of the epoch order, batch t / bs). A
 * worker takes the next position under the mutex when its batch lies in the
 * window [window_lo, window_lo + n_slots), builds the sample into its slot
 * without holding the lock, and counts it done. loader_next moves the window
 * (releasing the batch the caller held), waits on done_cv until its batch's
 * slot is complete and collates the targets. Batch b always uses slot
 * b mod n_slots; the window guarantees that slot's previous batch was
 * already handed out and released. */
#include "data/loader.h"

#include <omp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment/collate.h"
#include "augment/rect_shapes.h"
#include "augment/sample.h"
#include "core/rng.h"
#include "data/image.h"
#include "data/loader_cache.h"

/* The result of one sample in a slot, before collation. */
typedef struct {
    float *rows; /* n rows (class, cx, cy, w, h) */
    int n, cap;
    int failed;
    Error err;
} SampleOut;

typedef struct {
    int batch;     /* batch held in this slot, -1 for none */
    int remaining; /* samples not yet built */
    Batch view;    /* what loader_next hands out */
    float *images; /* batch_size x 3 x max_hw */
    int *indices;
    int (*orig_hw)[2];
    float (*ratio_pad)[4];
    SampleOut *samples;
    float *targets;
    size_t targets_cap; /* rows */
} Slot;

typedef struct {
    Loader *loader;
    pthread_t thread;
    AugWork work;
    AugSample sample;
    ImageU8 decoded; /* the image being fetched (no RAM cache) */
} Worker;

struct Loader {
    const DatasetSplit *split;
    LoaderOptions opt;
    Hyp hyp;
    AugConfig cfg;
    int n, bs, nb;   /* images in the split, batch size (per rank), batches per epoch */
    int rank, world; /* this loader's shard of the epoch order (world 1: all of it) */
    int count;       /* positions per epoch for this rank: ceil(n / world) */
    int *batch_hw;   /* nb x (h, w) */
    int *rect_order; /* sorted positions (rect), else NULL */
    int *order;      /* dataset index at each of this rank's positions of the current epoch */
    int *global_order; /* world > 1: the whole epoch's order, padded to count x world */
    int epoch;
    ImageCache cache;
    int cache_on;
    Slot *slots;
    int n_slots;
    Worker *workers;
    int n_workers, threads_started;
    Worker self; /* builds the batches when workers == 0 */

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers: a task became available, or shutdown */
    pthread_cond_t done_cv; /* consumer: a slot completed, or the workers went idle */
    int sync_ready;
    int shutdown;
    int active;    /* an epoch is in progress: tasks may be handed out */
    int started;   /* loader_start_epoch was called */
    int next_task; /* next position to hand out */
    int window_lo; /* lowest batch still in use by the caller */
    int in_flight; /* samples being built now */
    int cursor;    /* next batch loader_next returns */
};

static inline int batch_count(const Loader *l, int b)
{
    int left = l->count - b * l->bs;
    return left < l->bs ? left : l->bs;
}

/* ---- epoch order ------------------------------------------------------------ */

void loader_permutation(uint64_t seed, int epoch, int n, int *order)
{
    for (int i = 0; i < n; i++) order[i] = i;
    Rng r;
    /* Sample streams use b = dataset index < n; the order takes b = UINT64_MAX. */
    rng_seed_stream(&r, seed, (uint64_t)epoch, UINT64_MAX);
    rng_shuffle(&r, order, n);
}

/* ---- one sample ------------------------------------------------------------- */

static int fetch_image(void *ctx, int index, AugSource *src, Error *e)
{
    Worker *w = ctx;
    const Loader *l = w->loader;
    const DatasetImage *im = &l->split->images[index];
    memset(src, 0, sizeof *src);
    if (l->cache_on) {
        src->image = &l->cache.images[index];
        src->resized = 1;
        src->h0 = im->height, src->w0 = im->width;
    } else {
        if (image_load(im->path, &w->decoded, NULL, e)) return -1;
        src->image = &w->decoded;
    }
    src->labels = im->label_count ? l->split->labels.rows + im->label_start * LABEL_FIELDS : NULL;
    src->n_labels = (int)im->label_count;
    return 0;
}

static void release_image(void *ctx, int index, AugSource *src)
{
    (void)index, (void)src;
    Worker *w = ctx;
    if (!w->loader->cache_on) image_free(&w->decoded);
}

static int grow_rows(float **rows, int *cap, int need, Error *e)
{
    if (need <= *cap) return 0;
    int c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    float *p = realloc(*rows, sizeof(float) * LABEL_FIELDS * (size_t)c);
    if (!p) return err_set(e, "out of memory for %d label rows", need);
    *rows = p, *cap = c;
    return 0;
}

/* Builds position pos (slot entry i) of epoch `epoch` with the order `order`. */
static void build_sample(Loader *l, Worker *w, int epoch, const int *order, int pos, Slot *s, int i)
{
    const int index = order[pos], b = pos / l->bs;
    const int bh = l->batch_hw[2 * b], bw = l->batch_hw[2 * b + 1];
    SampleOut *so = &s->samples[i];
    so->failed = 0;
    so->n = 0;
    s->indices[i] = index;
    s->orig_hw[i][0] = l->split->images[index].height;
    s->orig_hw[i][1] = l->split->images[index].width;
    memset(s->ratio_pad[i], 0, sizeof s->ratio_pad[i]);

    Rng rng;
    rng_seed_stream(&rng, l->opt.seed, (uint64_t)epoch, (uint64_t)index);
    AugDataset ds = {fetch_image, release_image, w, l->n};
    AugSample *out = &w->sample;
    Error *e = &so->err;
    int rc = aug_get_item(&l->cfg, &ds, index, &l->batch_hw[2 * b], &rng, &w->work, out, e);
    if (!rc && (out->img.width != bw || out->img.height != bh))
        rc = err_set(e, "sample is %dx%d, the batch is %dx%d", out->img.width, out->img.height, bw, bh);
    if (!rc) rc = grow_rows(&so->rows, &so->cap, out->labels.n, e);
    if (rc) {
        so->failed = 1;
        return;
    }
    aug_to_chw_float(&out->img, s->images + (size_t)i * 3 * (size_t)bh * (size_t)bw);
    if (out->labels.n > 0) memcpy(so->rows, out->labels.v, sizeof(float) * LABEL_FIELDS * (size_t)out->labels.n);
    so->n = out->labels.n;
    if (!out->mosaic && out->h0 > 0 && out->w0 > 0) {
        s->ratio_pad[i][0] = (float)((double)out->h / out->h0);
        s->ratio_pad[i][1] = (float)((double)out->w / out->w0);
        s->ratio_pad[i][2] = (float)out->pad_w;
        s->ratio_pad[i][3] = (float)out->pad_h;
    }
}

/* Concatenates the samples' labels into the slot's targets and fills its view. */
static int collate(Loader *l, Slot *s, int b, Error *e)
{
    const int count = batch_count(l, b);
    for (int i = 0; i < count; i++)
        if (s->samples[i].failed)
            return err_set(e, "%s batch %d, image %d of the batch: %s", split_name(l->split->kind), b, i,
                           s->samples[i].err.msg);
    size_t total = 0;
    for (int i = 0; i < count; i++) total += (size_t)s->samples[i].n;
    if (total > s->targets_cap) {
        size_t cap = s->targets_cap ? s->targets_cap : 64;
        while (cap < total) cap *= 2;
        float *p = realloc(s->targets, sizeof(float) * 6 * cap);
        if (!p) return err_set(e, "%s batch %d: out of memory for %zu targets", split_name(l->split->kind), b, total);
        s->targets = p, s->targets_cap = cap;
    }
    float *t = s->targets;
    for (int i = 0; i < count; i++) {
        const SampleOut *so = &s->samples[i];
        AugBoxes rows = {so->rows, so->n, so->cap};
        aug_targets(&rows, i, t);
        t += (size_t)6 * so->n;
    }
    Batch *v = &s->view;
    v->n = count;
    v->h = l->batch_hw[2 * b];
    v->w = l->batch_hw[2 * b + 1];
    v->images = s->images;
    v->n_targets = (int)total;
    v->targets = s->targets;
    v->indices = s->indices;
    v->orig_hw = s->orig_hw;
    v->ratio_pad = s->ratio_pad;
    v->batch_index = b;
    return 0;
}

/* ---- worker threads --------------------------------------------------------- */

static int task_available(const Loader *l)
{
    return l->active && l->next_task < l->count && l->next_task / l->bs < l->window_lo + l->n_slots;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    Loader *l = w->loader;
    /* Parallelism comes from the workers; OpenMP inside a sample would
     * start a thread team per worker and oversubscribe the cores. */
    omp_set_num_threads(1);
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->shutdown && !task_available(l)) pthread_cond_wait(&l->work_cv, &l->mu);
        if (l->shutdown) break;
        const int t = l->next_task++, b = t / l->bs, i = t % l->bs;
        Slot *s = &l->slots[b % l->n_slots];
        if (i == 0) {
            s->batch = b;
            s->remaining = batch_count(l, b);
        }
        const int epoch = l->epoch;
        const int *order = l->order;
        l->in_flight++;
        pthread_mutex_unlock(&l->mu);

        build_sample(l, w, epoch, order, t, s, i);

        pthread_mutex_lock(&l->mu);
        l->in_flight--;
        if (--s->remaining == 0 || l->in_flight == 0) pthread_cond_broadcast(&l->done_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- open / close ----------------------------------------------------------- */

static void worker_free(Worker *w)
{
    aug_work_free(&w->work);
    aug_sample_free(&w->sample);
    image_free(&w->decoded);
}

static void slot_free(Slot *s, int bs)
{
    free(s->images);
    free(s->indices);
    free(s->orig_hw);
    free(s->ratio_pad);
    if (s->samples)
        for (int i = 0; i < bs; i++) free(s->samples[i].rows);
    free(s->samples);
    free(s->targets);
}

void loader_close(Loader *l)
{
    if (!l) return;
    if (l->threads_started) {
        pthread_mutex_lock(&l->mu);
        l->shutdown = 1;
        pthread_cond_broadcast(&l->work_cv);
        pthread_mutex_unlock(&l->mu);
        for (int k = 0; k < l->threads_started; k++) pthread_join(l->workers[k].thread, NULL);
    }
    if (l->workers)
        for (int k = 0; k < l->n_workers; k++) worker_free(&l->workers[k]);
    free(l->workers);
    worker_free(&l->self);
    if (l->slots)
        for (int k = 0; k < l->n_slots; k++) slot_free(&l->slots[k], l->bs);
    free(l->slots);
    if (l->sync_ready) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->work_cv);
        pthread_cond_destroy(&l->done_cv);
    }
    image_cache_free(&l->cache);
    free(l->batch_hw);
    free(l->rect_order);
    free(l->order);
    free(l->global_order);
    free(l);
}

/* One line to opt.log (if any), prefixed with the split name. */
static void loader_log(const Loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void loader_log(const Loader *l, const char *fmt, ...)
{
    if (!l->opt.log) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(l->opt.log, "%s: ", split_name(l->split->kind));
    vfprintf(l->opt.log, fmt, ap);
    fputc('\n', l->opt.log);
    fflush(l->opt.log);
    va_end(ap);
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* --cache ram: check the memory, then fill (spec §5.13). */
static int setup_cache(Loader *l, Error *e)
{
    const double gb = (double)(1u << 30);
    uint64_t need = image_cache_estimate(l->split, l->opt.img_size), avail = 0, total = 0;
    Error me = {{0}};
    if (mem_available_bytes(NULL, &avail, &total, &me)) {
        loader_log(l, "WARNING: %.1fGB RAM required, available memory unknown (%s), not caching images",
                   need / gb, me.msg);
        return 0;
    }
    if (!image_cache_fits(need, avail)) {
        loader_log(l, "WARNING: %.1fGB RAM required, %.1f/%.1fGB available, not caching images", need / gb,
                   avail / gb, total / gb);
        return 0;
    }
    loader_log(l, "Caching images (%.1fGB ram)...", need / gb);
    double t0 = seconds_now();
    if (image_cache_fill(&l->cache, l->split, l->opt.img_size, l->opt.augment, e)) return -1;
    l->cache_on = 1;
    loader_log(l, "cached %zu images (%.1fGB ram) in %.2f s", l->cache.n_images, l->cache.bytes / gb,
               seconds_now() - t0);
    return 0;
}

static void aug_hyp_from(const Hyp *h, AugHyp *a)
{
    a->hsv_h = h->hsv_h, a->hsv_s = h->hsv_s, a->hsv_v = h->hsv_v;
    a->degrees = h->degrees, a->translate = h->translate, a->scale = h->scale, a->shear = h->shear;
    a->perspective = h->perspective;
    a->flipud = h->flipud, a->fliplr = h->fliplr;
    a->mosaic = h->mosaic, a->mixup = h->mixup;
}

static int check_options(const DatasetSplit *split, const LoaderOptions *o, Error *e)
{
    if (!split || !split->images || split->n_images < 1) return err_set(e, "loader: the split has no image");
    if (split->n_images > (size_t)(1 << 30)) return err_set(e, "loader: too many images (%zu)", split->n_images);
    if (o->batch_size < 1) return err_set(e, "loader: batch_size %d must be at least 1", o->batch_size);
    if (o->stride < 1) return err_set(e, "loader: stride %d must be at least 1", o->stride);
    if (o->img_size < o->stride || o->img_size % o->stride)
        return err_set(e, "loader: img_size %d must be a positive multiple of the stride %d", o->img_size, o->stride);
    if (o->img_size > 16384) return err_set(e, "loader: img_size %d is too large", o->img_size);
    if (o->workers < 0 || o->workers > 1024) return err_set(e, "loader: workers %d out of range 0..1024", o->workers);
    if (!(o->pad >= 0 && o->pad <= 64)) return err_set(e, "loader: pad %g out of range 0..64", (double)o->pad);
    if (o->world > 1 && (o->rank < 0 || o->rank >= o->world))
        return err_set(e, "loader: rank %d out of range 0..%d", o->rank, o->world - 1);
    if (o->augment && !o->hyp) return err_set(e, "loader: augmentation needs hyperparameters (hyp is NULL)");
    return 0;
}

static int alloc_slot(Slot *s, int bs, size_t max_hw, Error *e)
{
    s->batch = -1;
    s->images = malloc(sizeof(float) * 3 * max_hw * (size_t)bs);
    s->indices = calloc((size_t)bs, sizeof *s->indices);
    s->orig_hw = calloc((size_t)bs, sizeof *s->orig_hw);
    s->ratio_pad = calloc((size_t)bs, sizeof *s->ratio_pad);
    s->samples = calloc((size_t)bs, sizeof *s->samples);
    if (!s->images || !s->indices || !s->orig_hw || !s->ratio_pad || !s->samples)
        return err_set(e, "loader: out of memory for a batch of %d images of %zu pixels", bs, max_hw);
    return 0;
}

int loader_open(Loader **out, const DatasetSplit *split, const LoaderOptions *opt, Error *e)
{
    *out = NULL;
    if (check_options(split, opt, e)) return -1;
    Loader *l = calloc(1, sizeof *l);
    if (!l) return err_set(e, "loader: out of memory");
    l->split = split;
    l->opt = *opt;
    if (opt->hyp) l->hyp = *opt->hyp;
    else hyp_default(&l->hyp);
    l->opt.hyp = &l->hyp;
    l->n = (int)split->n_images;
    l->bs = opt->batch_size;
    l->world = opt->world > 1 ? opt->world : 1;
    l->rank = l->world > 1 ? opt->rank : 0;
    l->count = (l->n + l->world - 1) / l->world;
    /* ceil(ceil(n / world) / bs) = ceil(n / (world * bs)): every rank's batch
     * b holds a slice of the global batch b. */
    l->nb = aug_rect_batch_count(l->count, l->bs);
    l->self.loader = l;
    if (opt->rect && opt->shuffle) {
        loader_log(l, "WARNING: --rect is incompatible with shuffling, setting shuffle off");
        l->opt.shuffle = 0;
    }
    l->cfg.img_size = opt->img_size;
    l->cfg.augment = opt->augment;
    l->cfg.rect = opt->rect;
    aug_hyp_from(&l->hyp, &l->cfg.hyp);

    l->batch_hw = malloc(sizeof(int) * 2 * (size_t)l->nb);
    l->order = malloc(sizeof(int) * (size_t)l->n);
    if (l->world > 1) l->global_order = malloc(sizeof(int) * (size_t)l->count * (size_t)l->world);
    if (!l->batch_hw || !l->order || (l->world > 1 && !l->global_order)) goto oom;
    if (opt->rect) {
        int *w = malloc(sizeof(int) * (size_t)l->n), *h = malloc(sizeof(int) * (size_t)l->n);
        l->rect_order = malloc(sizeof(int) * (size_t)l->n);
        int rc = !w || !h || !l->rect_order;
        for (int i = 0; !rc && i < l->n; i++) w[i] = split->images[i].width, h[i] = split->images[i].height;
        if (rc) err_set(e, "loader: out of memory");
        else if (aug_rect_batch_count(l->n, l->bs * l->world) != l->nb)
            rc = err_set(e, "loader: %d rect batches for %d ranks, expected %d", aug_rect_batch_count(l->n, l->bs * l->world),
                         l->world, l->nb);
        /* shapes of the global batches (world x bs images each) */
        else rc = aug_rect_batch_shapes(w, h, l->n, l->bs * l->world, opt->img_size, opt->stride, opt->pad, l->rect_order,
                                        l->batch_hw, e);
        free(w);
        free(h);
        if (rc) goto fail;
    } else {
        for (int b = 0; b < l->nb; b++) l->batch_hw[2 * b] = l->batch_hw[2 * b + 1] = opt->img_size;
    }
    size_t max_hw = 0;
    for (int b = 0; b < l->nb; b++) {
        size_t hw = (size_t)l->batch_hw[2 * b] * (size_t)l->batch_hw[2 * b + 1];
        if (hw > max_hw) max_hw = hw;
    }

    if (opt->cache_ram && setup_cache(l, e)) goto fail;

    l->n_workers = opt->workers;
    l->n_slots = opt->workers > 0 ? 1 + LOADER_PREFETCH : 1;
    l->slots = calloc((size_t)l->n_slots, sizeof *l->slots);
    if (!l->slots) goto oom;
    for (int k = 0; k < l->n_slots; k++)
        if (alloc_slot(&l->slots[k], l->bs, max_hw, e)) goto fail;

    if (l->n_workers > 0) {
        if (pthread_mutex_init(&l->mu, NULL)) goto sync_fail;
        if (pthread_cond_init(&l->work_cv, NULL)) {
            pthread_mutex_destroy(&l->mu);
            goto sync_fail;
        }
        if (pthread_cond_init(&l->done_cv, NULL)) {
            pthread_cond_destroy(&l->work_cv);
            pthread_mutex_destroy(&l->mu);
            goto sync_fail;
        }
        l->sync_ready = 1;
        l->workers = calloc((size_t)l->n_workers, sizeof *l->workers);
        if (!l->workers) goto oom;
        for (int k = 0; k < l->n_workers; k++) {
            l->workers[k].loader = l;
            if (pthread_create(&l->workers[k].thread, NULL, worker_main, &l->workers[k])) {
                err_set(e, "loader: cannot start worker thread %d of %d", k + 1, l->n_workers);
                goto fail;
            }
            l->threads_started = k + 1;
        }
    }
    *out = l;
    return 0;
sync_fail:
    err_set(e, "loader: cannot create the thread synchronisation objects");
    goto fail;
oom:
    err_set(e, "loader: out of memory");
fail:
    loader_close(l);
    return -1;
}

/* ---- epochs and batches ----------------------------------------------------- */

int loader_batches(const Loader *l) { return l->nb; }

int loader_cache_active(const Loader *l) { return l->cache_on; }

int loader_batch_shape(const Loader *l, int b, int *h, int *w)
{
    if (b < 0 || b >= l->nb) return -1;
    *h = l->batch_hw[2 * b];
    *w = l->batch_hw[2 * b + 1];
    return 0;
}

static void set_order(Loader *l, int epoch)
{
    int *all = l->world > 1 ? l->global_order : l->order;
    if (l->rect_order) memcpy(all, l->rect_order, sizeof(int) * (size_t)l->n);
    else if (l->opt.shuffle) loader_permutation(l->opt.seed, epoch, l->n, all);
    else
        for (int i = 0; i < l->n; i++) all[i] = i;
    if (l->world == 1) return;
    /* As PyTorch's DistributedSampler: the order padded to count x world by
     * repeating its start, rank r taking positions r, r + world, ... */
    const int padded = l->count * l->world;
    for (int i = l->n; i < padded; i++) all[i] = all[(i - l->n) % l->n];
    for (int p = 0; p < l->count; p++) l->order[p] = all[l->rank + p * l->world];
}

int loader_start_epoch(Loader *l, int epoch, Error *e)
{
    if (epoch < 0) return err_set(e, "loader: epoch %d must not be negative", epoch);
    if (l->n_workers == 0) {
        l->epoch = epoch;
        set_order(l, epoch);
        l->cursor = 0;
        l->started = 1;
        return 0;
    }
    pthread_mutex_lock(&l->mu);
    /* Stop handing out work and let the samples in progress finish: they
     * write into slots and read the order that is about to change. */
    l->active = 0;
    while (l->in_flight > 0) pthread_cond_wait(&l->done_cv, &l->mu);
    l->epoch = epoch;
    set_order(l, epoch);
    for (int k = 0; k < l->n_slots; k++) l->slots[k].batch = -1;
    l->next_task = 0;
    l->window_lo = 0;
    l->cursor = 0;
    l->active = 1;
    l->started = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int loader_next(Loader *l, const Batch **batch, Error *e)
{
    *batch = NULL;
    if (!l->started) return err_set(e, "loader: call loader_start_epoch before loader_next");
    if (l->n_workers == 0) {
        if (l->cursor >= l->nb) return 0;
        const int b = l->cursor++;
        Slot *s = &l->slots[0];
        s->batch = b;
        for (int i = 0; i < batch_count(l, b); i++)
            build_sample(l, &l->self, l->epoch, l->order, b * l->bs + i, s, i);
        if (collate(l, s, b, e)) return -1;
        *batch = &s->view;
        return 1;
    }
    pthread_mutex_lock(&l->mu);
    if (l->cursor >= l->nb) {
        l->window_lo = l->nb; /* the last batch is released too */
        pthread_mutex_unlock(&l->mu);
        return 0;
    }
    const int b = l->cursor;
    l->window_lo = b; /* releases the batch the caller held */
    pthread_cond_broadcast(&l->work_cv);
    Slot *s = &l->slots[b % l->n_slots];
    while (!(s->batch == b && s->remaining == 0)) pthread_cond_wait(&l->done_cv, &l->mu);
    l->cursor = b + 1;
    pthread_mutex_unlock(&l->mu);
    /* The slot is complete and no worker touches it until the window moves on. */
    if (collate(l, s, b, e)) return -1;
    *batch = &s->view;
    return 1;
}
