/* detect.py's per-image inference and outputs (detect.h). */
#include "detect/detect.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment/collate.h"
#include "augment/letterbox.h"
#include "data/fsutil.h"
#include "detect/detect_annotate.h"
#include "eval/box_map.h"
#include "eval/save_results.h"
#include "val/path_stem.h"

void detect_options_default(DetectOptions *o)
{
    memset(o, 0, sizeof *o);
    o->img_h = o->img_w = 640;
    o->stride = 32;
    o->nms = nms_options_detect();
    o->save_img = 1;
    o->line_thickness = 3;
}

void detect_result_free(DetectResult *r)
{
    free(r->det);
    free(r->det_subpixel);
    memset(r, 0, sizeof *r);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int detect_image(Model *m, const ImageU8 *img, const DetectOptions *o, DetectResult *r, Error *e)
{
    memset(r, 0, sizeof *r);
    r->h0 = img->height;
    r->w0 = img->width;
    double t0 = now_ms();
    AugLetterboxOpts lo = {1, 0, 1, o->stride};
    AugLetterbox g;
    ImageU8 lb = {0};
    if (aug_letterbox(img, o->img_h, o->img_w, &lo, &lb, &g, e) != 0) return -1;
    r->in_h = lb.height;
    r->in_w = lb.width;
    float *input = malloc((size_t)lb.width * (size_t)lb.height * 3 * sizeof *input);
    r->det = malloc((size_t)o->nms.max_det * NMS_ROW * sizeof *r->det);
    r->det_subpixel = malloc((size_t)o->nms.max_det * NMS_ROW * sizeof *r->det_subpixel);
    if (!input || !r->det || !r->det_subpixel) {
        free(input);
        aug_image_free(&lb);
        detect_result_free(r);
        return err_set(e, "detect: out of memory");
    }
    aug_to_chw_float(&lb, input);
    aug_image_free(&lb);
    double t1 = now_ms();
    int rc = model_forward(m, input, 1, r->in_h, r->in_w, MODEL_EVAL, e);
    double t2 = now_ms();
    free(input);
    if (rc == 0) {
        int n = nms_image(m->out.decoded, (int)m->out.n_boxes, m->out.no, &o->nms, r->det, e);
        if (n < 0) rc = -1;
        else r->n = n;
    }
    double t3 = now_ms();
    if (rc != 0) {
        detect_result_free(r);
        return -1;
    }
    /* scale_boxes without ratio_pad, then .round() */
    boxes_scale(r->det, (size_t)r->n, NMS_ROW, boxes_mapping_fit(r->in_h, r->in_w, r->h0, r->w0), r->h0, r->w0);
    memcpy(r->det_subpixel, r->det, (size_t)r->n * NMS_ROW * sizeof *r->det);
    boxes_round(r->det, (size_t)r->n, NMS_ROW);
    r->pre_ms = t1 - t0;
    r->inference_ms = t2 - t1;
    r->nms_ms = t3 - t2;
    return 0;
}

void detect_counts_text(const float *det, int n, const char *const *names, int nc, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = 0;
    int prev = -1;
    for (;;) {
        int c = -1; /* the next class above prev */
        for (int k = 0; k < n; k++) {
            int ck = (int)det[(size_t)k * NMS_ROW + 5];
            if (ck > prev && (c < 0 || ck < c)) c = ck;
        }
        if (c < 0) break;
        int count = 0;
        for (int k = 0; k < n; k++) count += (int)det[(size_t)k * NMS_ROW + 5] == c;
        char index[16];
        const char *name = names && c < nc && names[c] ? names[c] : (snprintf(index, sizeof index, "%d", c), index);
        if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "%d %s%s, ", count, name, count > 1 ? "s" : "");
        prev = c;
    }
}

static int save_txt(const DetectOptions *o, const char *path, const DetectResult *r, Error *e)
{
    char stem[1024], file[4200];
    path_stem(path, stem, sizeof stem);
    if ((size_t)snprintf(file, sizeof file, "%s/labels/%s.txt", o->save_dir, stem) >= sizeof file)
        return err_set(e, "%s/labels/%s.txt: path too long", o->save_dir, stem);
    FILE *f = fopen(file, "a");
    if (!f) return err_set(e, "%s: cannot open for writing", file);
    save_txt_rows(f, r->det, r->n, r->h0, r->w0, o->save_conf, 1);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return err_set(e, "%s: write failed", file);
    return 0;
}

int detect_run(Model *m, const StrList *images, const DetectOptions *o, DetectSummary *summary, Error *e)
{
    memset(summary, 0, sizeof *summary);
    if ((o->save_txt || o->save_img) && !o->save_dir) return err_set(e, "detect: outputs need a save directory");
    if (o->save_txt) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/labels", o->save_dir);
        if (fs_mkdirs(dir, e) != 0) return -1;
    }
    if (model_reserve(m, 1, o->img_h, o->img_w, MODEL_EVAL, e) != 0) return err_prefix(e, "detect");
    const int n_images = (int)images->count;
    double pre = 0.0, inf = 0.0, nms = 0.0;
    int done = 0;
    AnnotateOptions ao = {o->line_thickness, o->hide_labels, o->hide_conf, (const char *const *)m->names, m->nc};
    for (int k = 0; k < n_images; k++) {
        const char *path = images->items[k];
        Error ie;
        ImageU8 img = {0};
        DetectResult r;
        if (image_load(path, &img, NULL, &ie) != 0) {
            if (o->err) fprintf(o->err, "image %d/%d %s: skipped: %s\n", k + 1, n_images, path, ie.msg);
            summary->failed++;
            continue;
        }
        if (detect_image(m, &img, o, &r, &ie) != 0) {
            if (o->err) fprintf(o->err, "image %d/%d %s: skipped: %s\n", k + 1, n_images, path, ie.msg);
            summary->failed++;
            image_free(&img);
            continue;
        }
        done++;
        pre += r.pre_ms;
        inf += r.inference_ms;
        nms += r.nms_ms;
        summary->detections += r.n;
        int rc = 0;
        if (o->save_txt && r.n > 0) {
            rc = save_txt(o, path, &r, e);
            if (rc == 0) summary->labels_written++;
        }
        if (rc == 0 && o->save_img) {
            detect_annotate(&img, r.det, r.n, &ao);
            char *out = detect_output_image_path(o->save_dir, path);
            rc = out ? detect_write_image(&img, out, e) : err_set(e, "detect: out of memory");
            free(out);
        }
        if (o->out) {
            fprintf(o->out, "image %d/%d %s: %dx%d ", k + 1, n_images, path, r.in_h, r.in_w);
            char counts[2048];
            detect_counts_text(r.det, r.n, (const char *const *)m->names, m->nc, counts, sizeof counts);
            fprintf(o->out, "%s%s%.1fms\n", counts, r.n ? "" : "(no detections), ", r.inference_ms);
            fflush(o->out);
        }
        detect_result_free(&r);
        image_free(&img);
        if (rc != 0) return -1; /* the output directory is unusable: stop */
    }
    summary->images = done;
    if (o->out && done > 0)
        fprintf(o->out, "Speed: %.1fms pre-process, %.1fms inference, %.1fms NMS per image at shape (1, 3, %d, %d)\n",
                pre / done, inf / done, nms / done, o->img_h, o->img_w);
    return 0;
}
