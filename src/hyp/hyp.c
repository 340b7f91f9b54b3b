/* Hyperparameter YAML loading, validation and YOLOv5's gain rescaling. */
#include "hyp/hyp.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const char *iou_loss_name(IouLoss kind)
{
    switch (kind) {
    case IOU_LOSS_CIOU: return "ciou";
    case IOU_LOSS_DIOU: return "diou";
    case IOU_LOSS_GIOU: return "giou";
    case IOU_LOSS_IOU: return "iou";
    }
    return "?";
}

typedef enum {
    KEY_NUMBER,   /* double field with a range */
    KEY_INT,      /* int field (anchors) with a range */
    KEY_IOU_LOSS, /* enum by name */
    KEY_BALANCE,  /* list of numbers */
} KeyKind;

/* Allowed range of a number: lo (open or closed) to hi (open or closed);
 * hi = INFINITY means unbounded above. */
typedef struct {
    const char *name;
    KeyKind kind;
    size_t offset;
    double lo, hi;
    int lo_open, hi_open;
} KeySpec;

#define NUM(field, lo, lo_open, hi, hi_open) \
    {#field, KEY_NUMBER, offsetof(Hyp, field), lo, hi, lo_open, hi_open}
#define GAIN(field) NUM(field, 0, 0, INFINITY, 1)
#define PROB(field) NUM(field, 0, 0, 1, 0)

/* File order of YOLOv5's hyp files, then our keys. */
static const KeySpec KEYS[] = {
    GAIN(lr0),
    GAIN(lrf),
    NUM(momentum, 0, 0, 1, 1),
    GAIN(weight_decay),
    GAIN(warmup_epochs),
    NUM(warmup_momentum, 0, 0, 1, 1),
    GAIN(warmup_bias_lr),
    GAIN(box),
    GAIN(cls),
    GAIN(cls_pw),
    GAIN(obj),
    GAIN(obj_pw),
    PROB(iou_t),
    NUM(anchor_t, 1, 1, INFINITY, 1),
    {"anchors", KEY_INT, offsetof(Hyp, anchors), 0, 100, 0, 0},
    GAIN(fl_gamma),
    PROB(hsv_h),
    PROB(hsv_s),
    PROB(hsv_v),
    NUM(degrees, 0, 0, 180, 0),
    PROB(translate),
    NUM(scale, 0, 0, 1, 1),
    NUM(shear, 0, 0, 90, 1),
    PROB(perspective),
    PROB(flipud),
    PROB(fliplr),
    PROB(mosaic),
    PROB(mixup),
    PROB(copy_paste),
    PROB(label_smoothing),
    {"iou_loss", KEY_IOU_LOSS, offsetof(Hyp, iou_loss), 0, 0, 0, 0},
    {"balance", KEY_BALANCE, offsetof(Hyp, balance), 0, INFINITY, 0, 1},
};
#define KEY_COUNT ((int)(sizeof KEYS / sizeof KEYS[0]))

void hyp_default(Hyp *h)
{
    memset(h, 0, sizeof *h);
    h->lr0 = 0.01;
    h->lrf = 0.01;
    h->momentum = 0.937;
    h->weight_decay = 0.0005;
    h->warmup_epochs = 3.0;
    h->warmup_momentum = 0.8;
    h->warmup_bias_lr = 0.1;
    h->box = 0.05;
    h->cls = 0.5;
    h->cls_pw = 1.0;
    h->obj = 1.0;
    h->obj_pw = 1.0;
    h->iou_t = 0.20;
    h->anchor_t = 4.0;
    h->fl_gamma = 0.0;
    h->label_smoothing = 0.0;
    h->iou_loss = IOU_LOSS_CIOU;
    h->balance_count = 0;
    h->anchors = 0;
    h->hsv_h = 0.015;
    h->hsv_s = 0.7;
    h->hsv_v = 0.4;
    h->degrees = 0.0;
    h->translate = 0.1;
    h->scale = 0.5;
    h->shear = 0.0;
    h->perspective = 0.0;
    h->flipud = 0.0;
    h->fliplr = 0.5;
    h->mosaic = 1.0;
    h->mixup = 0.0;
    h->copy_paste = 0.0;
    snprintf(h->source, sizeof h->source, "defaults");
}

static const KeySpec *find_key(const char *name)
{
    for (int i = 0; i < KEY_COUNT; i++)
        if (strcmp(KEYS[i].name, name) == 0) return &KEYS[i];
    return NULL;
}

/* Levenshtein distance (keys are short: a fixed row buffer suffices). */
static int edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la >= MAXLEN || lb >= MAXLEN) return la > lb ? la : lb;
    int prev[MAXLEN + 1], cur[MAXLEN + 1];
    for (int j = 0; j <= lb; j++) prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

static const char *nearest_key(const char *name)
{
    const char *best = KEYS[0].name;
    int best_d = edit_distance(name, best);
    for (int i = 1; i < KEY_COUNT; i++) {
        int d = edit_distance(name, KEYS[i].name);
        if (d < best_d) best_d = d, best = KEYS[i].name;
    }
    return best;
}

static int in_range(const KeySpec *k, double v)
{
    if (!isfinite(v)) return 0;
    if (k->lo_open ? !(v > k->lo) : !(v >= k->lo)) return 0;
    if (isinf(k->hi)) return 1;
    return k->hi_open ? v < k->hi : v <= k->hi;
}

/* "must be >= 0", "must be in [0, 1]", "must be > 1", ... */
static void range_text(const KeySpec *k, char *buf, size_t size)
{
    if (isinf(k->hi))
        snprintf(buf, size, "must be %s %g", k->lo_open ? ">" : ">=", k->lo);
    else
        snprintf(buf, size, "must be in %c%g, %g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
                 k->hi_open ? ')' : ']');
}

static double *num_field(Hyp *h, const KeySpec *k) { return (double *)((char *)h + k->offset); }
static const double *num_field_c(const Hyp *h, const KeySpec *k)
{
    return (const double *)((const char *)h + k->offset);
}

/* Shortest decimal that reads back as exactly v. */
static void format_double(char *buf, size_t size, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static int check_value(const Hyp *h, const KeySpec *k, int line, Error *e)
{
    char where[600], range[64], val[40];
    if (line > 0)
        snprintf(where, sizeof where, "%s:%d", h->source, line);
    else
        snprintf(where, sizeof where, "%s", h->source);
    range_text(k, range, sizeof range);
    switch (k->kind) {
    case KEY_NUMBER: {
        double v = *num_field_c(h, k);
        if (!in_range(k, v)) {
            format_double(val, sizeof val, v);
            return err_set(e, "%s: key '%s': value %s is out of range (%s)", where, k->name, val,
                           range);
        }
        return 0;
    }
    case KEY_INT:
        if (!in_range(k, h->anchors))
            return err_set(e, "%s: key '%s': value %d is out of range (%s)", where, k->name,
                           h->anchors, range);
        return 0;
    case KEY_IOU_LOSS:
        if (strcmp(iou_loss_name(h->iou_loss), "?") == 0)
            return err_set(e, "%s: key 'iou_loss': invalid value %d", where, (int)h->iou_loss);
        return 0;
    case KEY_BALANCE:
        if (h->balance_count < 0 || h->balance_count > HYP_MAX_LEVELS)
            return err_set(e, "%s: key 'balance': %d values (must be 1 to %d, one per detection level)",
                           where, h->balance_count, HYP_MAX_LEVELS);
        for (int i = 0; i < h->balance_count; i++) {
            if (!in_range(k, h->balance[i])) {
                format_double(val, sizeof val, h->balance[i]);
                return err_set(e, "%s: key 'balance': value %s (entry %d) is out of range (%s)", where,
                               val, i, range);
            }
        }
        return 0;
    }
    return 0;
}

int hyp_validate(const Hyp *h, Error *e)
{
    for (int i = 0; i < KEY_COUNT; i++)
        if (check_value(h, &KEYS[i], 0, e)) return -1;
    return 0;
}

/* ---- YAML reading ---- */

typedef struct {
    const char *path;
    yaml_document_t *doc;
    FILE *warnings;
    Error *e;
} Reader;

static int node_line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "a scalar";
    }
}

/* A plain (unquoted) scalar that is a finite decimal number. */
static int parse_number(const yaml_node_t *n, double *out)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return -1;
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.length == 0 || strlen(s) != n->data.scalar.length) return -1;
    /* strtod also takes hex, "inf" and "nan": only decimal digits, sign, point, exponent. */
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789+-.eE", *c)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || end == s || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Quotes a node's text (or names its kind) for a "got ..." message. */
static void describe_node(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;
        if (n->data.scalar.length == 0)
            snprintf(buf, size, "an empty value");
        else if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
            snprintf(buf, size, "the quoted string \"%.60s\"", s);
        else
            snprintf(buf, size, "'%.60s'", s);
    } else {
        snprintf(buf, size, "%s", node_kind(n));
    }
}

static int read_key(Reader *r, Hyp *h, const KeySpec *k, const yaml_node_t *v)
{
    char got[96];
    int line = node_line(v);
    switch (k->kind) {
    case KEY_NUMBER:
        if (parse_number(v, num_field(h, k))) {
            describe_node(v, got, sizeof got);
            return err_set(r->e, "%s:%d: key '%s': expected a number, got %s", r->path, line, k->name,
                           got);
        }
        break;
    case KEY_INT: {
        double d;
        if (parse_number(v, &d) || d != floor(d) || fabs(d) > 1e6) {
            describe_node(v, got, sizeof got);
            return err_set(r->e, "%s:%d: key '%s': expected a whole number, got %s", r->path, line,
                           k->name, got);
        }
        h->anchors = (int)d;
        break;
    }
    case KEY_IOU_LOSS: {
        const char *s = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
        IouLoss kinds[] = {IOU_LOSS_CIOU, IOU_LOSS_DIOU, IOU_LOSS_GIOU, IOU_LOSS_IOU};
        int found = 0;
        for (int i = 0; s && i < 4; i++)
            if (strcmp(s, iou_loss_name(kinds[i])) == 0) h->iou_loss = kinds[i], found = 1;
        if (!found) {
            describe_node(v, got, sizeof got);
            return err_set(r->e, "%s:%d: key 'iou_loss': expected one of ciou, diou, giou, iou, got %s",
                           r->path, line, got);
        }
        break;
    }
    case KEY_BALANCE: {
        if (v->type != YAML_SEQUENCE_NODE) {
            describe_node(v, got, sizeof got);
            return err_set(r->e, "%s:%d: key 'balance': expected a list of numbers (one per level), got %s",
                           r->path, line, got);
        }
        int count = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (count < 1 || count > HYP_MAX_LEVELS)
            return err_set(r->e, "%s:%d: key 'balance': %d values (must be 1 to %d, one per detection level)",
                           r->path, line, count, HYP_MAX_LEVELS);
        for (int i = 0; i < count; i++) {
            const yaml_node_t *item = yaml_document_get_node(r->doc, v->data.sequence.items.start[i]);
            if (!item || parse_number(item, &h->balance[i])) {
                if (item) describe_node(item, got, sizeof got);
                else snprintf(got, sizeof got, "nothing");
                return err_set(r->e, "%s:%d: key 'balance': entry %d: expected a number, got %s", r->path,
                               item ? node_line(item) : line, i, got);
            }
        }
        h->balance_count = count;
        break;
    }
    }
    return check_value(h, k, line, r->e);
}

static int read_document(Reader *r, Hyp *h)
{
    yaml_node_t *root = yaml_document_get_root_node(r->doc);
    if (!root)
        return err_set(r->e, "%s: empty file (expected a mapping of hyperparameter keys)", r->path);
    if (root->type != YAML_MAPPING_NODE)
        return err_set(r->e, "%s:%d: expected a mapping 'key: value', got %s", r->path, node_line(root),
                       node_kind(root));
    int seen_line[KEY_COUNT] = {0};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(r->doc, p->value);
        if (!kn || !vn) return err_set(r->e, "%s: malformed YAML document", r->path);
        if (kn->type != YAML_SCALAR_NODE)
            return err_set(r->e, "%s:%d: expected a key name, got %s", r->path, node_line(kn),
                           node_kind(kn));
        const char *name = (const char *)kn->data.scalar.value;
        const KeySpec *k = find_key(name);
        if (!k) {
            if (r->warnings)
                fprintf(r->warnings, "warning: %s:%d: unknown key '%s' ignored (nearest known key: '%s')\n",
                        r->path, node_line(kn), name, nearest_key(name));
            continue;
        }
        int idx = (int)(k - KEYS);
        if (seen_line[idx])
            return err_set(r->e, "%s:%d: key '%s' given twice (first on line %d)", r->path, node_line(kn),
                           name, seen_line[idx]);
        seen_line[idx] = node_line(kn);
        if (read_key(r, h, k, vn)) return -1;
    }
    return 0;
}

int hyp_load(Hyp *h, const char *path, FILE *warnings, Error *e)
{
    hyp_default(h);
    snprintf(h->source, sizeof h->source, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return err_set(e, "%s: cannot initialise the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = err_set(e, "%s:%d:%d: YAML syntax error: %s%s%s", path, (int)parser.problem_mark.line + 1,
                     (int)parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown",
                     parser.context ? " " : "", parser.context ? parser.context : "");
    } else {
        Reader r = {path, &doc, warnings, e};
        rc = read_document(&r, h);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc) {
        hyp_default(h);
        snprintf(h->source, sizeof h->source, "%s", path);
    }
    return rc;
}

int hyp_balance(const Hyp *h, int nl, double *out, Error *e)
{
    static const double DEFAULT3[3] = {4.0, 1.0, 0.4};
    static const double DEFAULT_ANY[5] = {4.0, 1.0, 0.25, 0.06, 0.02};
    if (nl < 1 || nl > HYP_MAX_LEVELS)
        return err_set(e, "%s: %d detection levels (supported: 1 to %d)", h->source, nl, HYP_MAX_LEVELS);
    if (h->balance_count > 0) {
        if (h->balance_count != nl) {
            char list[HYP_MAX_LEVELS * 26 + 4] = "[";
            for (int i = 0; i < h->balance_count; i++) {
                char v[32];
                format_double(v, sizeof v, h->balance[i]);
                strcat(list, v);
                strcat(list, i + 1 < h->balance_count ? ", " : "]");
            }
            return err_set(e, "%s: key 'balance': %s has %d values but the model has %d detection levels",
                           h->source, list, h->balance_count, nl);
        }
        memcpy(out, h->balance, sizeof(double) * (size_t)nl);
        return 0;
    }
    if (nl == 3) {
        memcpy(out, DEFAULT3, sizeof DEFAULT3);
        return 0;
    }
    if (nl > 5)
        return err_set(e, "%s: the model has %d detection levels; YOLOv5's default balance covers 5: "
                       "give key 'balance' with %d values", h->source, nl, nl);
    memcpy(out, DEFAULT_ANY, sizeof(double) * (size_t)nl);
    return 0;
}

void hyp_rescale(Hyp *h, int nl, int nc, int imgsz)
{
    /* Python evaluates the right-hand side first, left to right. */
    h->box *= 3.0 / nl;
    h->cls *= (double)nc / 80 * 3 / nl;
    double r = (double)imgsz / 640;
    h->obj *= r * r * 3 / nl; /* Python's x ** 2 is correctly rounded, as x * x */
}

int hyp_write(const Hyp *h, FILE *f, Error *e)
{
    char v[40];
    for (int i = 0; i < KEY_COUNT; i++) {
        const KeySpec *k = &KEYS[i];
        switch (k->kind) {
        case KEY_NUMBER:
            format_double(v, sizeof v, *num_field_c(h, k));
            fprintf(f, "%s: %s\n", k->name, v);
            break;
        case KEY_INT:
            if (h->anchors > 0) fprintf(f, "%s: %d\n", k->name, h->anchors);
            break;
        case KEY_IOU_LOSS:
            fprintf(f, "%s: %s\n", k->name, iou_loss_name(h->iou_loss));
            break;
        case KEY_BALANCE:
            if (h->balance_count > 0) {
                fprintf(f, "%s: [", k->name);
                for (int j = 0; j < h->balance_count; j++) {
                    format_double(v, sizeof v, h->balance[j]);
                    fprintf(f, "%s%s", j ? ", " : "", v);
                }
                fprintf(f, "]\n");
            }
            break;
        }
    }
    if (fflush(f) != 0 || ferror(f)) return err_set(e, "writing hyperparameters: %s", strerror(errno));
    return 0;
}
