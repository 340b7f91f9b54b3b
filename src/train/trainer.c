/* The training loop's state and one batch / one epoch of it (trainer.h). */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/clip_grad.h"
#include "optim/freeze.h"
#include "train/fp16_round.h"
#include "train/multiscale.h"

/* Separates the multi-scale stream from the loader's (seed, epoch, sample). */
#define MULTISCALE_STREAM 0x6d756c7469736361ULL /* "multisca" */

void trainer_free(Trainer *t)
{
    model_free(&t->model);
    model_free(&t->ema_model);
    free(t->trainable);
    free(t->entry_norms);
    optimizer_free(&t->opt);
    loss_free(&t->loss);
    free(t->ms_images);
    dist_bn_sync_free(&t->bn_sync);
    memset(t, 0, sizeof *t);
}

/* A second model with m's layout, holding a copy of its weights. */
static int ema_model_create(const Model *m, Model *ema, Error *e)
{
    ModelConfig cfg;
    memset(ema, 0, sizeof *ema);
    if (!m->cfg.yaml_text) return err_set(e, "EMA: the model has no definition text");
    if (model_config_parse_string(m->cfg.yaml_text, m->cfg.source, m->nc, &cfg, e) != 0) return err_prefix(e, "EMA");
    if (model_create(ema, &cfg, e) != 0) return err_prefix(e, "EMA");
    if (ema->table.n_params != m->table.n_params || ema->table.n_buffers != m->table.n_buffers ||
        ema->table.n_counters != m->table.n_counters) {
        model_free(ema);
        return err_set(e, "EMA: rebuilt model differs in layout");
    }
    if (model_set_names(ema, (const char *const *)m->names, m->nc, e) != 0) {
        model_free(ema);
        return -1;
    }
    ema->precision = m->precision;
    memcpy(ema->params, m->params, m->table.n_params * sizeof(float));
    memcpy(ema->buffers, m->buffers, m->table.n_buffers * sizeof(float));
    memcpy(ema->counters, m->counters, m->table.n_counters * sizeof(int64_t));
    return 0;
}

static int ceil_div_int(int a, int b) { return (a + b - 1) / b; }

int trainer_create(Trainer *t, const TrainerConfig *cfg, const Hyp *hyp, Model *model, const Checkpoint *resume,
                   FILE *log, Error *e)
{
    memset(t, 0, sizeof *t);
    t->model = *model;
    memset(model, 0, sizeof *model);
    t->cfg = *cfg;
    if (cfg->n_freeze < 1 || cfg->n_freeze > (int)(sizeof t->freeze / sizeof t->freeze[0])) {
        trainer_free(t);
        return err_set(e, "trainer: 1 to 64 --freeze values expected, got %d", cfg->n_freeze);
    }
    memcpy(t->freeze, cfg->freeze, (size_t)cfg->n_freeze * sizeof(int));
    t->cfg.freeze = t->freeze;
    t->hyp = *hyp;
    Model *m = &t->model;
    const ParamTable *tab = &m->table;
    int rc = 0;

    /* Freeze (step 6). */
    t->trainable = calloc((size_t)tab->n_entries, 1);
    t->entry_norms = calloc((size_t)tab->n_entries, sizeof(float));
    if (!t->trainable || !t->entry_norms) rc = err_set(e, "trainer: out of memory");
    if (rc == 0) {
        int frozen = freeze_mask(tab, t->freeze, cfg->n_freeze, t->trainable, e);
        if (frozen < 0) rc = -1;
        else t->n_frozen = frozen;
        for (int k = 0; rc == 0 && log && k < tab->n_entries; k++)
            if (tab->entries[k].kind == ENTRY_PARAM && !t->trainable[k]) fprintf(log, "freezing %s\n", tab->entries[k].key);
    }

    /* Grid size and image size (step 7): check_img_size(imgsz, gs, floor=2*gs). */
    if (rc == 0) {
        float smax = 0;
        for (int l = 0; l < m->cfg.nl; l++)
            if (m->stride[l] > smax) smax = m->stride[l];
        t->gs = (int)smax > 32 ? (int)smax : 32;
        int size = ceil_div_int(cfg->imgsz, t->gs) * t->gs;
        t->imgsz = size > 2 * t->gs ? size : 2 * t->gs;
        if (t->imgsz != cfg->imgsz && log)
            fprintf(log, "WARNING: --img-size %d must be multiple of max stride %d, updating to %d\n", cfg->imgsz, t->gs,
                    t->imgsz);
        if (cfg->batch_size < 1 || cfg->epochs < 1 || cfg->nb < 1)
            rc = err_set(e, "trainer: batch size, epochs and batches per epoch must be >= 1");
    }

    /* Optimizer (step 8): accumulate and weight-decay scaling, smart_optimizer. */
    if (rc == 0) {
        t->accumulate = nominal_accumulate(cfg->batch_size);
        t->hyp.weight_decay = scaled_weight_decay(hyp->weight_decay, cfg->batch_size);
        OptimizerConfig oc = {cfg->optimizer, t->hyp.lr0, t->hyp.momentum, t->hyp.weight_decay};
        rc = optimizer_init(&t->opt, &oc, tab, t->trainable, e);
        if (rc == 0 && log) {
            char line[256];
            optimizer_summary(&t->opt, tab, line, sizeof line);
            fprintf(log, "optimizer: %s\n", line);
        }
    }
    if (rc == 0)
        rc = lr_schedule_init(&t->sched, cfg->cos_lr ? LR_COSINE : LR_LINEAR, &t->hyp, cfg->epochs, cfg->nb,
                              cfg->batch_size, e);

    m->precision = cfg->bf16 ? GEMM_BF16 : GEMM_FP32;
    /* EMA (step 9): a copy of the model as it is now. */
    if (rc == 0) rc = ema_model_create(m, &t->ema_model, e);
    if (rc == 0) model_ema_init(&t->ema, 0);

    early_stopping_init(&t->stopper, cfg->patience);
    t->best_fitness = 0.0;
    t->last_opt_step = -1;
    t->start_epoch = 0;

    /* Resume (step 10). */
    if (rc == 0 && resume) {
        const CheckpointState *s = &resume->state;
        if (checkpoint_load_model(resume, "raw.", m, e) || checkpoint_load_model(resume, "", &t->ema_model, e) ||
            checkpoint_load_optimizer(resume, &t->opt, tab, e)) {
            rc = -1;
        } else {
            model_ema_init(&t->ema, s->updates);
            t->best_fitness = s->best_fitness;
            t->stopper.best_fitness = s->stopper.best_fitness;
            t->stopper.best_epoch = s->stopper.best_epoch;
            t->last_opt_step = s->last_opt_step;
            t->start_epoch = s->epoch + 1;
        }
    }

    /* AutoAnchor, then the fp16 rounding of the training model (step 12, fresh runs only). */
    if (rc == 0 && !resume && cfg->autoanchor) rc = cfg->autoanchor(cfg->autoanchor_ctx, m, t->imgsz, e);
    if (rc == 0 && cfg->round_fp16 && !resume) {
        round_array_to_f16(m->params, tab->n_params);
        round_array_to_f16(m->buffers, tab->n_buffers);
    }

    /* Gains rescaled, loss built on the final anchors (steps 13-14). */
    if (rc == 0) {
        hyp_rescale(&t->hyp, m->cfg.nl, m->nc, t->imgsz);
        LossConfig lc;
        LossModel lm = {m->cfg.nl, m->cfg.na, m->nc, m->buffers + tab->detect.anchors, m->stride};
        if (loss_config_from_hyp(&lc, &t->hyp, m->cfg.nl, e) != 0 || loss_init(&t->loss, &lm, &lc, e) != 0) rc = -1;
    }

    /* Data-parallel BatchNorm. */
    if (rc == 0 && cfg->sync_bn && cfg->dist && cfg->dist->world > 1) {
        dist_bn_sync_init(&t->bn_sync, cfg->dist);
        m->bn_sync = &t->bn_sync.hook;
    }

    /* Memory for the largest batch this run can see (this rank's share). */
    const int local_bs = cfg->rank_batch_size > 0 ? cfg->rank_batch_size : cfg->batch_size;
    if (rc == 0) {
        int size = cfg->multi_scale ? multiscale_max_size(t->imgsz, t->gs) : t->imgsz;
        if (cfg->multi_scale) {
            t->ms_cap = (size_t)local_bs * (size_t)m->cfg.ch_in * (size_t)size * (size_t)size;
            t->ms_images = malloc(t->ms_cap * sizeof(float));
            if (!t->ms_images) rc = err_set(e, "trainer: out of memory for the multi-scale batch (%dx%d)", size, size);
        }
        if (rc == 0) rc = model_reserve(m, local_bs, size, size, MODEL_TRAIN, e);
    }
    if (rc != 0) trainer_free(t);
    return rc;
}

void trainer_schedule_at(const Trainer *t, int epoch, int64_t ni, SchedulePoint *sp)
{
    lr_schedule_at(&t->sched, epoch, ni, sp);
}

void trainer_epoch_begin(Trainer *t, int epoch)
{
    t->epoch = epoch;
    model_zero_grad(&t->model); /* optimizer.zero_grad(): leftovers of the last epoch are dropped */
    t->mloss[0] = t->mloss[1] = t->mloss[2] = 0.0f;
    t->batches_done = 0;
}

int trainer_batch_compute(Trainer *t, int i, const Batch *b, TrainBatchInfo *info, Error *e)
{
    Model *m = &t->model;
    const int epoch = t->epoch;
    const int64_t ni = (int64_t)i + t->cfg.nb * (int64_t)epoch;
    memset(info, 0, sizeof *info);
    info->ni = ni;

    SchedulePoint sp;
    lr_schedule_at(&t->sched, epoch, ni, &sp);
    optimizer_set_schedule(&t->opt, sp.lr, sp.momentum);
    info->accumulate = sp.accumulate;

    const float *images = b->images;
    int h = b->h, w = b->w;
    if (t->cfg.multi_scale) {
        Rng r;
        rng_seed_stream(&r, t->cfg.seed ^ MULTISCALE_STREAM, (uint64_t)epoch, (uint64_t)i);
        int sz = multiscale_draw_size(t->imgsz, t->gs, &r), nh, nw;
        if (multiscale_shape(h, w, sz, t->gs, &nh, &nw)) {
            size_t need = (size_t)b->n * (size_t)m->cfg.ch_in * (size_t)nh * (size_t)nw;
            if (need > t->ms_cap) {
                float *p = realloc(t->ms_images, need * sizeof(float));
                if (!p) return err_set(e, "epoch %d batch %d: out of memory for the multi-scale batch", epoch, i);
                t->ms_images = p;
                t->ms_cap = need;
            }
            resize_bilinear_planes(b->images, b->n * m->cfg.ch_in, h, w, t->ms_images, nh, nw);
            images = t->ms_images;
            h = nh;
            w = nw;
        }
    }
    info->h = h;
    info->w = w;
    info->instances = b->n_targets;

    if (model_forward(m, images, b->n, h, w, MODEL_TRAIN, e) != 0)
        return err_prefix(e, "epoch %d batch %d: forward", epoch, i);
    LossInput in;
    memset(&in, 0, sizeof in);
    in.batch = b->n;
    in.targets = b->targets;
    in.nt = b->n_targets;
    for (int l = 0; l < m->out.nl; l++) {
        in.ny[l] = m->out.h[l];
        in.nx[l] = m->out.w[l];
        in.pred[l] = m->out.pred[l];
    }
    LossResult lr;
    if (loss_compute(&t->loss, &in, m->out.dpred, &lr, e) != 0) return err_prefix(e, "epoch %d batch %d: loss", epoch, i);
    info->box = lr.box;
    info->obj = lr.obj;
    info->cls = lr.cls;
    if (!isfinite(lr.total))
        return err_set(e, "non-finite loss at epoch %d batch %d (box %g, obj %g, cls %g): training stopped", epoch, i,
                       lr.box, lr.obj, lr.cls);
    if (model_backward(m, NULL, NULL, e) != 0) return err_prefix(e, "epoch %d batch %d: backward", epoch, i);
    return 0;
}

int trainer_batch_finish(Trainer *t, int i, const double items_in[3], TrainBatchInfo *info, Error *e)
{
    Model *m = &t->model;
    const int epoch = t->epoch;
    const int64_t ni = info->ni;
    if (optimizer_step_due(ni, t->last_opt_step, info->accumulate)) {
        /* the gradient of the sum of the ranks' losses (YOLOv5 DDP: loss x
         * WORLD_SIZE, then DDP's average) */
        if (t->cfg.dist && dist_sum_f32(t->cfg.dist, m->grads, m->table.n_params, e) != 0)
            return err_prefix(e, "epoch %d batch %d: gradient sum over ranks", epoch, i);
        ClipResult cr;
        if (clip_grad_norm(&m->table, t->trainable, m->grads, CLIP_GRAD_MAX_NORM, t->entry_norms, &cr, e) != 0)
            return err_prefix(e, "non-finite gradient at epoch %d batch %d: training stopped", epoch, i);
        optimizer_step(&t->opt, m->params, m->grads);
        model_zero_grad(m);
        model_ema_update(&t->ema, t->ema_model.params, m->params, m->table.n_params, t->ema_model.buffers, m->buffers,
                         m->table.n_buffers);
        t->last_opt_step = ni;
        info->stepped = 1;
        info->grad_norm = cr.total_norm;
    }

    /* mloss = (mloss * i + loss_items) / (i + 1), float32 tensors in torch */
    const float items[3] = {(float)items_in[0], (float)items_in[1], (float)items_in[2]};
    for (int k = 0; k < 3; k++) t->mloss[k] = (t->mloss[k] * (float)i + items[k]) / (float)(i + 1);
    for (int j = 0; j < 3; j++) t->lr_last[j] = t->opt.group[optim_torch_group(j)].lr;
    t->batches_done = i + 1;
    return 0;
}

int trainer_batch(Trainer *t, int i, const Batch *b, TrainBatchInfo *info, Error *e)
{
    if (trainer_batch_compute(t, i, b, info, e) != 0) return -1;
    const double items[3] = {info->box, info->obj, info->cls};
    return trainer_batch_finish(t, i, items, info, e);
}

int trainer_final_epoch(const Trainer *t)
{
    return t->epoch + 1 == t->cfg.epochs || t->stopper.possible_stop;
}

void trainer_epoch_finish(Trainer *t, const double results[VAL_RESULTS], TrainEpochInfo *info)
{
    double fi = fitness_from_metrics(results);
    info->stop = early_stopping_update(&t->stopper, t->epoch, fi);
    if (fi > t->best_fitness) t->best_fitness = fi;
    info->fitness = fi;
    info->improved = t->best_fitness == fi;
    for (int k = 0; k < 3; k++) info->row[k] = (double)t->mloss[k];
    for (int k = 0; k < VAL_RESULTS; k++) info->row[3 + k] = results[k];
    for (int j = 0; j < 3; j++) info->row[10 + j] = t->lr_last[j];
}

void trainer_checkpoint_state(const Trainer *t, CheckpointState *s)
{
    memset(s, 0, sizeof *s);
    s->epoch = t->epoch;
    s->epochs = t->cfg.epochs;
    s->updates = t->ema.updates;
    s->best_fitness = t->best_fitness;
    s->stopper = t->stopper;
    s->last_opt_step = t->last_opt_step;
    /* what scheduler.step() at the end of this epoch left in the groups */
    double lr = lr_schedule_epoch_end_lr(&t->sched, t->epoch);
    for (int j = 0; j < 3; j++) s->lr[j] = lr;
    s->seed = t->cfg.seed;
}
