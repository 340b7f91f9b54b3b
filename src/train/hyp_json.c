/* Hyp <-> JSON (hyp_json.h). */
#include "train/hyp_json.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "optim/pyfloat.h"

typedef enum { HJ_NUMBER, HJ_INT, HJ_IOU_LOSS, HJ_BALANCE } HjKind;

typedef struct {
    const char *name;
    HjKind kind;
    size_t offset;
    int yolov5; /* a key of YOLOv5's own hyp files */
} HjKey;

#define HJ_NUM(f) {#f, HJ_NUMBER, offsetof(Hyp, f), 1}

/* hyp-file order (as hyp/hyp.c lists them), then our additions. */
static const HjKey KEYS[] = {
    HJ_NUM(lr0), HJ_NUM(lrf), HJ_NUM(momentum), HJ_NUM(weight_decay), HJ_NUM(warmup_epochs),
    HJ_NUM(warmup_momentum), HJ_NUM(warmup_bias_lr), HJ_NUM(box), HJ_NUM(cls), HJ_NUM(cls_pw),
    HJ_NUM(obj), HJ_NUM(obj_pw), HJ_NUM(iou_t), HJ_NUM(anchor_t),
    {"anchors", HJ_INT, offsetof(Hyp, anchors), 0},
    HJ_NUM(fl_gamma), HJ_NUM(hsv_h), HJ_NUM(hsv_s), HJ_NUM(hsv_v), HJ_NUM(degrees), HJ_NUM(translate),
    HJ_NUM(scale), HJ_NUM(shear), HJ_NUM(perspective), HJ_NUM(flipud), HJ_NUM(fliplr), HJ_NUM(mosaic),
    HJ_NUM(mixup), HJ_NUM(copy_paste),
    {"label_smoothing", HJ_NUMBER, offsetof(Hyp, label_smoothing), 0},
    {"iou_loss", HJ_IOU_LOSS, offsetof(Hyp, iou_loss), 0},
    {"balance", HJ_BALANCE, offsetof(Hyp, balance), 0},
};
#define KEY_COUNT ((int)(sizeof KEYS / sizeof KEYS[0]))

static double *num_field(Hyp *h, const HjKey *k) { return (double *)((char *)h + k->offset); }
static const double *num_field_c(const Hyp *h, const HjKey *k) { return (const double *)((const char *)h + k->offset); }

static int add_number(cJSON *obj, const char *name, double v)
{
    char buf[40];
    py_float_repr(v, buf, sizeof buf);
    return cJSON_AddRawToObject(obj, name, buf) ? 0 : -1;
}

char *hyp_to_json(const Hyp *h)
{
    cJSON *obj = cJSON_CreateObject();
    int rc = obj ? 0 : -1;
    for (int i = 0; i < KEY_COUNT && rc == 0; i++) {
        const HjKey *k = &KEYS[i];
        switch (k->kind) {
        case HJ_NUMBER: rc = add_number(obj, k->name, *num_field_c(h, k)); break;
        case HJ_INT: rc = cJSON_AddNumberToObject(obj, k->name, h->anchors) ? 0 : -1; break;
        case HJ_IOU_LOSS: rc = cJSON_AddStringToObject(obj, k->name, iou_loss_name(h->iou_loss)) ? 0 : -1; break;
        case HJ_BALANCE:
            if (h->balance_count > 0) {
                char list[HYP_MAX_LEVELS * 40 + 4];
                size_t len = (size_t)snprintf(list, sizeof list, "[");
                for (int l = 0; l < h->balance_count; l++) {
                    char num[40];
                    py_float_repr(h->balance[l], num, sizeof num);
                    len += (size_t)snprintf(list + len, sizeof list - len, l ? ", %s" : "%s", num);
                }
                snprintf(list + len, sizeof list - len, "]");
                rc = cJSON_AddRawToObject(obj, k->name, list) ? 0 : -1;
            }
            break;
        }
    }
    char *text = rc == 0 ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    return text;
}

static const HjKey *find_key(const char *name)
{
    for (int i = 0; i < KEY_COUNT; i++)
        if (!strcmp(KEYS[i].name, name)) return &KEYS[i];
    return NULL;
}

int hyp_from_json(Hyp *h, const char *text, const char *source, Error *e)
{
    hyp_default(h);
    snprintf(h->source, sizeof h->source, "%s", source);
    cJSON *obj = cJSON_Parse(text);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return err_set(e, "%s: hyperparameters are not a JSON object", source);
    }
    int rc = 0;
    for (const cJSON *it = obj->child; it && rc == 0; it = it->next) {
        const HjKey *k = find_key(it->string);
        if (!k) {
            rc = err_set(e, "%s: unknown hyperparameter '%s'", source, it->string);
            break;
        }
        switch (k->kind) {
        case HJ_NUMBER:
            if (!cJSON_IsNumber(it)) rc = err_set(e, "%s: hyperparameter %s is not a number", source, k->name);
            else *num_field(h, k) = it->valuedouble;
            break;
        case HJ_INT:
            if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int)it->valuedouble)
                rc = err_set(e, "%s: hyperparameter %s is not an integer", source, k->name);
            else h->anchors = (int)it->valuedouble;
            break;
        case HJ_IOU_LOSS: {
            const char *s = cJSON_GetStringValue(it);
            int found = 0;
            for (int v = IOU_LOSS_CIOU; s && v <= IOU_LOSS_IOU; v++)
                if (!strcmp(s, iou_loss_name((IouLoss)v))) {
                    h->iou_loss = (IouLoss)v;
                    found = 1;
                }
            if (!found) rc = err_set(e, "%s: hyperparameter iou_loss '%s' is not ciou, diou, giou or iou", source, s ? s : "?");
            break;
        }
        case HJ_BALANCE: {
            int n = cJSON_GetArraySize(it);
            if (!cJSON_IsArray(it) || n < 1 || n > HYP_MAX_LEVELS) {
                rc = err_set(e, "%s: hyperparameter balance must be a list of 1 to %d numbers", source, HYP_MAX_LEVELS);
                break;
            }
            for (int l = 0; l < n && rc == 0; l++) {
                const cJSON *v = cJSON_GetArrayItem(it, l);
                if (!cJSON_IsNumber(v)) rc = err_set(e, "%s: hyperparameter balance[%d] is not a number", source, l);
                else h->balance[l] = v->valuedouble;
            }
            h->balance_count = n;
            break;
        }
        }
    }
    cJSON_Delete(obj);
    if (rc == 0) rc = hyp_validate(h, e);
    return rc;
}

void hyp_print_line(const Hyp *h, FILE *out, int color)
{
    Hyp d;
    hyp_default(&d);
    fprintf(out, color ? "\033[34m\033[1mhyperparameters: \033[0m" : "hyperparameters: ");
    int first = 1;
    for (int i = 0; i < KEY_COUNT; i++) {
        const HjKey *k = &KEYS[i];
        char buf[HYP_MAX_LEVELS * 40 + 4];
        switch (k->kind) {
        case HJ_NUMBER:
            if (!k->yolov5 && *num_field_c(h, k) == *num_field_c(&d, k)) continue;
            py_float_repr(*num_field_c(h, k), buf, sizeof buf);
            break;
        case HJ_INT:
            if (h->anchors == 0) continue;
            snprintf(buf, sizeof buf, "%d", h->anchors);
            break;
        case HJ_IOU_LOSS:
            if (h->iou_loss == d.iou_loss) continue;
            snprintf(buf, sizeof buf, "%s", iou_loss_name(h->iou_loss));
            break;
        case HJ_BALANCE: {
            if (h->balance_count == 0) continue;
            size_t len = (size_t)snprintf(buf, sizeof buf, "[");
            for (int l = 0; l < h->balance_count; l++) {
                char num[40];
                py_float_repr(h->balance[l], num, sizeof num);
                len += (size_t)snprintf(buf + len, sizeof buf - len, l ? ", %s" : "%s", num);
            }
            snprintf(buf + len, sizeof buf - len, "]");
            break;
        }
        }
        fprintf(out, "%s%s=%s", first ? "" : ", ", k->name, buf);
        first = 0;
    }
    fputc('\n', out);
}
