/* The validation runner: YOLOv5 v7.0's val.py `run` (spec §6) on a Model and
 * a scanned DatasetSplit. Used by `yolov5c val` and, each epoch, by the
 * trainer on its EMA model.
 *
 * Per batch of the rect loader (batch shapes padded by 0.5 stride, images
 * sorted by aspect ratio, exactly as val.py's dataloader):
 *   eval forward -> (optional) loss items of the raw outputs, summed;
 *   NMS (multi-label, agnostic with single_cls) -> boxes mapped to the
 *   original image through the loader's ratio_pad -> process_batch matching
 *   -> statistics (+ confusion matrix, --save-txt rows, COCO JSON rows).
 * At the end: ap_per_class, mp, mr, mAP50, mAP50-95, per-class maps, fitness,
 * the val losses divided by the number of batches, speeds per image.
 *
 * Calling it from the training loop (train.py: val.run(model=ema, dataloader
 * = val loader (batch 2*bs, rect, pad 0.5), conf 0.001, iou 0.6, max_det 300,
 * single_cls, plots=False, compute_loss)):
 *
 *     ValOptions vo;
 *     val_options_default(&vo);            // conf 0.001, IoU 0.6, max_det 300
 *     vo.batch_size = 2 * batch_size;  vo.img_size = imgsz;  vo.stride = gs;
 *     vo.workers = workers;  vo.cache_ram = cache == ram;
 *     vo.single_cls = single_cls;  vo.training = 1;  vo.verbose = final_epoch;
 *     vo.out = stdout;                     // the table; NULL: silent
 *     Validator *v;                        // once, before the first epoch
 *     validator_open(&v, &vo, &val_split, &e);
 *     ... each epoch:
 *     ValResult r;
 *     validator_run(v, &ema_model, &trainer_loss, &r, &e);   // loss NULL: zeros
 *     double results[VAL_RESULT_VALUES];  val_result_values(&r, results);
 *     // results = P, R, mAP50, mAP50-95, val box, obj, cls; r.metrics.fitness,
 *     // r.metrics.maps[c] (per-class mAP50-95, for --image-weights)
 *     val_result_free(&r);
 *     ... after training:
 *     validator_close(v);
 *
 * The Validator keeps its loader (and RAM cache) between runs; the model is
 * only read (its arena grows to the largest val batch once). The model must
 * have the split's classes (nc) unless single_cls. val_run is the one-shot
 * form (opens a validator, runs, closes). */
#ifndef YV5_VAL_H
#define YV5_VAL_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "data/dataset.h"
#include "eval/confusion.h"
#include "eval/val_stats.h"
#include "loss/loss.h"
#include "model/model.h"

/* P, R, mAP50, mAP50-95, val box, obj, cls loss (train.py's `results`). */
#define VAL_RESULT_VALUES 7
/* val.py plots the first three batches (labels and predictions). */
#define VAL_PLOT_BATCHES 3

typedef struct {
    int batch_size;     /* images per batch (val.py 32; train.py 2 * batch size) */
    int img_size;       /* long side of the letterboxed images (multiple of stride) */
    int stride;         /* max model stride (32) */
    double conf_thres;  /* 0.001 */
    double iou_thres;   /* 0.6 */
    int max_det;        /* 300 */
    int single_cls;     /* every class is 0; NMS agnostic */
    int workers;        /* loader threads (0: on the calling thread) */
    int cache_ram;      /* decode the val images once into memory */
    int verbose;        /* per-class rows also when training or nc >= 50 */
    int training;       /* called by the trainer: no speed line, per-class rows only with verbose */
    const char *task;   /* "val" / "test", for the no-labels warning */

    /* Outputs (all optional). */
    FILE *out;          /* the table and the speed line; NULL: nothing printed */
    FILE *warn;         /* warnings (no labels, loader notes); NULL: none */
    const char *save_dir; /* directory for the files below; NULL: no files */
    int save_txt;       /* save_dir/labels/<stem>.txt, "cls cx cy w h" per detection */
    int save_conf;      /*   ... with the confidence appended */
    const char *json_path; /* COCO results JSON written here; NULL: none */
    const int64_t *class_map; /* class -> COCO category id for the JSON (NULL: the class) */
    int n_class_map;
    int plots;          /* save_dir/val_batch{0,1,2}_{labels,pred}.jpg */
    int confusion_csv;  /* save_dir/confusion_matrix.csv */
} ValOptions;

/* val.py's defaults: batch 32, 640, stride 32, conf 0.001, IoU 0.6, max_det
 * 300, workers 2, task "val", everything else off. */
void val_options_default(ValOptions *o);

typedef struct {
    ValMetrics metrics;     /* mp, mr, map50, map, fitness, nt, maps, per-class AP */
    double box, obj, cls;   /* val losses: sum of the batches' loss items / batches */
    int64_t seen;           /* images validated */
    int batches;
    /* Wall times per image: waiting for the loader's batch (decode, letterbox
     * and conversion not hidden by its worker threads; val.py times only the
     * conversion), the forward, NMS. */
    double pre_ms, inference_ms, nms_ms;
    ConfusionMatrix confusion;           /* conf 0.25, IoU 0.45 */
    int64_t json_rows;      /* detections written to the JSON */
} ValResult;

void val_result_free(ValResult *r);
/* out[VAL_RESULT_VALUES] = P, R, mAP50, mAP50-95, box, obj, cls. */
void val_result_values(const ValResult *r, double *out);

typedef struct Validator Validator;

/* Opens the rect loader for the split (the split must outlive the
 * validator; opt is copied). Fails on invalid options or a loader error. */
int validator_open(Validator **out, const ValOptions *opt, const DatasetSplit *split, Error *e);
/* One validation of model (eval forward; only its arena and the loss's work
 * buffers change). loss: NULL for no val losses (zeros), or a Loss set up for
 * this model (the trainer's: YOLOv5 computes the val losses with the training
 * ComputeLoss). The table uses the model's class names. The string and FILE
 * pointers of the options given to validator_open must still be valid. On
 * failure *r is left empty. */
int validator_run(Validator *v, Model *model, Loss *loss, ValResult *r, Error *e);
void validator_close(Validator *v);

/* validator_open + validator_run + validator_close. */
int val_run(const ValOptions *opt, Model *model, Loss *loss, const DatasetSplit *split, ValResult *r, Error *e);

#endif
