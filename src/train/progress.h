/* The console of a training run, as YOLOv5 v7.0 prints it (spec §4.10):
 * the model table and summary at start-up, per epoch the header
 *       Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size
 * and per batch a progress line: '%11s' * 2 + '%11.4g' * 5 of
 * "epoch/epochs-1", memory, the running box/obj/cls means, the batch's target
 * rows and input width, then tqdm's ": pct%|bar| n/total" plus elapsed<ETA
 * and the rate. The memory column is this process's resident memory (there
 * is no GPU). On a terminal the line is rewritten in place (\r); otherwise
 * plain lines are printed, at most one every PROGRESS_PLAIN_SECONDS plus the
 * first and the last of each epoch. */
#ifndef YV5_TRAIN_PROGRESS_H
#define YV5_TRAIN_PROGRESS_H

#include <stdio.h>

#include "model/model.h"

#define PROGRESS_PLAIN_SECONDS 2.0

double progress_now(void); /* monotonic seconds */

/* parse_model's layer table and the "<Name> summary: L layers, P parameters,
 * G gradients, F GFLOPs" line (at 640, as Model() logs it). */
void progress_model_summary(const Model *m, FILE *out);

void progress_epoch_header(FILE *out);

typedef struct {
    FILE *out;
    int tty;
    int total;
    double t_start, t_last;
    int printed_any;
} Progress;

void progress_begin(Progress *p, FILE *out, int tty, int total);
/* After batch n (1-based count done) of total. mem_gb < 0: unknown. */
void progress_update(Progress *p, int n, int epoch, int epochs, const float mloss[3], int instances, int size);
/* Ends the epoch's line (newline on a terminal). */
void progress_end(Progress *p);

/* "01:23" / "1:02:03" as tqdm formats intervals. */
void progress_format_interval(double seconds, char *out, size_t cap);

/* Resident memory of this process in bytes (0 when unknown). */
double progress_rss_bytes(void);

#endif
