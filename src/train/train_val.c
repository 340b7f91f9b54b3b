/* Validation inside training (train_val.h). */
#include "train/train_val.h"

#include "val/val.h"

int train_validate(void *ctx, const TrainValContext *vc, double results[VAL_RESULTS], Error *e)
{
    TrainVal *tv = ctx;
    ValOptions vo;
    val_options_default(&vo);
    vo.batch_size = vc->batch_size;
    vo.img_size = vc->imgsz;
    vo.stride = vc->gs;
    vo.workers = vc->workers;
    vo.cache_ram = vc->cache_ram;
    vo.training = 1;
    vo.verbose = vc->verbose;
    vo.out = vc->out;
    vo.warn = vc->out;
    ValResult r;
    if (vc->verbose) {
        /* the closing validation, per class: a one-shot runner with verbose output */
        if (val_run(&vo, vc->model, vc->loss, vc->split, &r, e) != 0) return -1;
    } else {
        if (!tv->validator && validator_open(&tv->validator, &vo, vc->split, e) != 0) return -1;
        if (validator_run(tv->validator, vc->model, vc->loss, &r, e) != 0) return -1;
    }
    double v[VAL_RESULT_VALUES];
    val_result_values(&r, v);
    for (int k = 0; k < VAL_RESULTS && k < VAL_RESULT_VALUES; k++) results[k] = v[k];
    val_result_free(&r);
    return 0;
}

void train_val_close(TrainVal *tv)
{
    if (tv->validator) validator_close(tv->validator);
    tv->validator = NULL;
}
