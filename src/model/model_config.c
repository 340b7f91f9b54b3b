/* Model YAML -> ModelConfig, following YOLOv5 v7.0's parse_model (see model_config.h).
 *
 * The YAML is loaded with libyaml's document API; plain scalars are typed the
 * way PyYAML's safe_load types them (YAML 1.1: `False`/`yes` are booleans,
 * `1e-3` without a dot is a string, `None` is a string), and string
 * arguments are then "evaluated" as parse_model's eval() would for the few
 * names a model file uses. Every error names the file, line and reason. */
#include "model/model_config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <yaml.h>

#define MAX_YAML_BYTES (4u << 20)
#define MAX_CHANNELS (1 << 20) /* resolved channel counts; keeps every size product far from overflow */
#define MAX_DEPTH 1000         /* resolved repeats */
#define MAX_SIDE (1 << 20)     /* feature-map side in model_config_spatial */

const char *module_kind_name(ModuleKind kind)
{
    switch (kind) {
    case MODULE_CONV: return "Conv";
    case MODULE_C3: return "C3";
    case MODULE_SPPF: return "SPPF";
    case MODULE_UPSAMPLE: return "nn.Upsample";
    case MODULE_CONCAT: return "Concat";
    case MODULE_DETECT: return "Detect";
    }
    return "?";
}

static const char *module_type_name(ModuleKind kind)
{
    switch (kind) {
    case MODULE_CONV: return "models.common.Conv";
    case MODULE_C3: return "models.common.C3";
    case MODULE_SPPF: return "models.common.SPPF";
    case MODULE_UPSAMPLE: return "torch.nn.modules.upsampling.Upsample";
    case MODULE_CONCAT: return "models.common.Concat";
    case MODULE_DETECT: return "models.yolo.Detect";
    }
    return "?";
}

/* ------------------------------------------------------------------------ */
/* Parsing context and error helpers                                         */

typedef struct {
    const char *source;
    yaml_document_t *doc;
    ModelConfig *cfg;
    Error *err;
    int layer;            /* row being resolved, or -1 */
    const char *module;   /* its module name, for messages */
    int top_na;           /* anchors per level from the top-level `anchors` */
    yaml_node_t *anchors; /* top-level `anchors` node */
} Ctx;

static int node_line(const yaml_node_t *node) { return node ? (int)node->start_mark.line + 1 : 0; }

/* "source:line: [layer i (Module): ]reason", returns -1. */
static int fail(Ctx *c, const yaml_node_t *node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(Ctx *c, const yaml_node_t *node, const char *fmt, ...)
{
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (c->layer >= 0 && c->module)
        return err_set(c->err, "%s:%d: layer %d (%s): %s", c->source, node_line(node), c->layer,
                       c->module, reason);
    if (c->layer >= 0)
        return err_set(c->err, "%s:%d: layer %d: %s", c->source, node_line(node), c->layer, reason);
    return err_set(c->err, "%s:%d: %s", c->source, node_line(node), reason);
}

static yaml_node_t *get_node(Ctx *c, int id) { return yaml_document_get_node(c->doc, id); }

static int seq_len(const yaml_node_t *n) { return (int)(n->data.sequence.items.top - n->data.sequence.items.start); }

static yaml_node_t *seq_item(Ctx *c, const yaml_node_t *n, int i)
{
    return get_node(c, n->data.sequence.items.start[i]);
}

static const char *scalar_text(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* Short printable form of a node for messages. */
static const char *node_brief(const yaml_node_t *n)
{
    if (!n) return "nothing";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    return scalar_text(n);
}

/* Value of key in a mapping (the last one wins on duplicates, as in PyYAML). */
static yaml_node_t *map_get(Ctx *c, const yaml_node_t *map, const char *key)
{
    yaml_node_t *found = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = get_node(c, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(scalar_text(k), key)) found = get_node(c, p->value);
    }
    return found;
}

/* ------------------------------------------------------------------------ */
/* Scalars typed as PyYAML's safe_load types them, then Python-evaluated     */

typedef enum { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_ANCHORS } ValKind;

typedef struct {
    ValKind kind;
    long long i;            /* V_BOOL (0/1), V_INT */
    double f;               /* V_FLOAT */
    char s[128];            /* V_STR */
    const yaml_node_t *node; /* V_LIST: the sequence; always: where it came from */
} Val;

static int all_digits(const char *s, const char *end, int base)
{
    if (s >= end) return 0;
    for (; s < end; s++) {
        int ch = (unsigned char)*s;
        if (ch == '_') continue;
        int ok = base == 16 ? (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')
                 : base == 8 ? ch >= '0' && ch <= '7'
                 : base == 2 ? ch == '0' || ch == '1'
                             : ch >= '0' && ch <= '9';
        if (!ok) return 0;
    }
    return 1;
}

/* Parses digits (underscores skipped) in base; 0 on overflow. */
static int digits_value(const char *s, const char *end, int base, int negative, long long *out)
{
    unsigned long long v = 0;
    for (; s < end; s++) {
        if (*s == '_') continue;
        int ch = (unsigned char)*s;
        int d = ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
        if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base) return 0;
        v = v * (unsigned)base + (unsigned)d;
    }
    if (v > (unsigned long long)LLONG_MAX) return 0;
    *out = negative ? -(long long)v : (long long)v;
    return 1;
}

/* YAML 1.1 int as PyYAML resolves it: decimal, 0x hex, 0b binary, 0-prefixed octal. */
static int yaml11_int(const char *s, long long *out)
{
    const char *p = s, *end = s + strlen(s);
    int negative = 0;
    if (*p == '+' || *p == '-') negative = *p++ == '-';
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
        int base = p[1] == 'x' ? 16 : 2;
        return all_digits(p + 2, end, base) && digits_value(p + 2, end, base, negative, out);
    }
    if (p[0] == '0' && end - p > 1) return all_digits(p + 1, end, 8) && digits_value(p + 1, end, 8, negative, out);
    if (p[0] == '0' && end - p == 1) return *out = 0, 1;
    if (p[0] < '1' || p[0] > '9') return 0;
    return all_digits(p, end, 10) && digits_value(p, end, 10, negative, out);
}

/* YAML 1.1 float as PyYAML resolves it: needs a '.', exponent sign mandatory. */
static int yaml11_float(const char *s, double *out)
{
    const char *p = s;
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, "+.inf") ||
        !strcmp(s, "+.Inf") || !strcmp(s, "+.INF"))
        return *out = INFINITY, 1;
    if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF")) return *out = -INFINITY, 1;
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) return *out = NAN, 1;
    if (*p == '+' || *p == '-') p++;
    int int_digits = 0, frac_digits = 0;
    while ((*p >= '0' && *p <= '9') || (*p == '_' && int_digits)) int_digits += *p++ != '_';
    if (*p != '.') return 0;
    p++;
    while ((*p >= '0' && *p <= '9') || *p == '_') frac_digits += *p++ != '_';
    if (!int_digits && !frac_digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p != '+' && *p != '-') return 0;
        p++;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return 0;
    char clean[128];
    size_t n = 0;
    for (const char *q = s; *q && n + 1 < sizeof clean; q++)
        if (*q != '_') clean[n++] = *q;
    clean[n] = 0;
    *out = strtod(clean, NULL);
    return 1;
}

static int is_one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

/* Types a scalar node as safe_load would: None/bool/int/float, else str. */
static void yaml_scalar_value(const yaml_node_t *n, Val *v)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
    static const char *const falses[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};
    const char *s = scalar_text(n);
    memset(v, 0, sizeof *v);
    v->node = n;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (is_one_of(s, nulls)) return (void)(v->kind = V_NONE);
        if (is_one_of(s, trues)) return (void)(v->kind = V_BOOL, v->i = 1);
        if (is_one_of(s, falses)) return (void)(v->kind = V_BOOL, v->i = 0);
        if (yaml11_int(s, &v->i)) return (void)(v->kind = V_INT);
        if (yaml11_float(s, &v->f)) return (void)(v->kind = V_FLOAT);
    }
    v->kind = V_STR;
    snprintf(v->s, sizeof v->s, "%s", s);
}

static int is_identifier(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Python numeric literal (what eval would turn into an int or float). */
static int python_number(const char *s, Val *v)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return 0;
    int is_int = 1;
    for (const char *q = p; *q; q++) {
        if (*q >= '0' && *q <= '9') continue;
        if (*q == '.' || *q == 'e' || *q == 'E' || ((*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E'))) {
            is_int = 0;
            continue;
        }
        return 0;
    }
    if (is_int) {
        if (p[0] == '0' && p[1]) return 0; /* Python rejects leading zeros */
        if (!digits_value(p, p + strlen(p), 10, *s == '-', &v->i)) return 0;
        v->kind = V_INT;
        return 1;
    }
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || end == s) return 0;
    v->kind = V_FLOAT;
    v->f = d;
    return 1;
}

/* One constructor argument as parse_model sees it after `eval` of strings. */
static int eval_arg(Ctx *c, const yaml_node_t *n, Val *v)
{
    memset(v, 0, sizeof *v);
    v->node = n;
    if (n->type == YAML_SEQUENCE_NODE) return v->kind = V_LIST, 0;
    if (n->type == YAML_MAPPING_NODE) return fail(c, n, "an argument cannot be a mapping");
    yaml_scalar_value(n, v);
    if (v->kind != V_STR) return 0;
    char text[128];
    snprintf(text, sizeof text, "%s", v->s);
    size_t len = strlen(text);
    if (!strcmp(text, "nc")) return v->kind = V_INT, v->i = c->cfg->nc, 0;
    if (!strcmp(text, "anchors")) return v->kind = V_ANCHORS, 0;
    if (!strcmp(text, "None")) return v->kind = V_NONE, 0;
    if (!strcmp(text, "True")) return v->kind = V_BOOL, v->i = 1, 0;
    if (!strcmp(text, "False")) return v->kind = V_BOOL, v->i = 0, 0;
    if (len >= 2 && (text[0] == '\'' || text[0] == '"') && text[len - 1] == text[0]) {
        snprintf(v->s, sizeof v->s, "%.*s", (int)(len - 2), text + 1);
        return 0; /* a quoted Python string literal */
    }
    if (python_number(text, v)) return 0;
    if (is_identifier(text)) return 0; /* unknown name: stays the string, as in YOLOv5 */
    return fail(c, n, "cannot evaluate argument '%s' (supported: numbers, nc, anchors, None, True, False, "
                      "quoted strings)", text);
}

static const char *val_type_name(const Val *v)
{
    switch (v->kind) {
    case V_NONE: return "None";
    case V_BOOL: return "a bool";
    case V_INT: return "an int";
    case V_FLOAT: return "a float";
    case V_STR: return "a string";
    case V_LIST: return "a list";
    case V_ANCHORS: return "the anchors list";
    }
    return "?";
}

/* ------------------------------------------------------------------------ */
/* Python-style repr into a bounded buffer (for the printed args column)      */

typedef struct {
    char *p;
    size_t cap, len;
} Buf;

static void buf_add(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_add(Buf *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    b->len += (size_t)n;
    if (b->len >= b->cap) b->len = b->cap - 1;
}

/* Python's repr(float): shortest round-trip digits; positional for exponents
 * -4..15 (always with a '.'), scientific otherwise. */
static void repr_double(double d, char *out, size_t cap)
{
    if (isnan(d)) return (void)snprintf(out, cap, "nan");
    if (isinf(d)) return (void)snprintf(out, cap, d < 0 ? "-inf" : "inf");
    char tmp[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp = [-]D[.DDD]e[+-]XX */
    char digits[32];
    int nd = 0, negative = tmp[0] == '-';
    const char *q = tmp + negative;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    digits[nd] = 0;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    Buf b = {out, cap, 0};
    out[0] = 0;
    if (negative) buf_add(&b, "-");
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            buf_add(&b, "0.");
            for (int i = 0; i < -exp10 - 1; i++) buf_add(&b, "0");
            buf_add(&b, "%s", digits);
        } else if (nd <= exp10 + 1) {
            buf_add(&b, "%s", digits);
            for (int i = nd; i <= exp10; i++) buf_add(&b, "0");
            buf_add(&b, ".0");
        } else {
            buf_add(&b, "%.*s.%s", exp10 + 1, digits, digits + exp10 + 1);
        }
    } else {
        buf_add(&b, "%c", digits[0]);
        if (nd > 1) buf_add(&b, ".%s", digits + 1);
        buf_add(&b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
}

static void repr_string(Buf *b, const char *s)
{
    buf_add(b, "'");
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\') buf_add(b, "\\%c", *s);
        else buf_add(b, "%c", *s);
    }
    buf_add(b, "'");
}

static void repr_node(Ctx *c, Buf *b, const yaml_node_t *n);

static void repr_val(Ctx *c, Buf *b, const Val *v)
{
    char num[64];
    switch (v->kind) {
    case V_NONE: buf_add(b, "None"); break;
    case V_BOOL: buf_add(b, v->i ? "True" : "False"); break;
    case V_INT: buf_add(b, "%lld", v->i); break;
    case V_FLOAT: repr_double(v->f, num, sizeof num); buf_add(b, "%s", num); break;
    case V_STR: repr_string(b, v->s); break;
    case V_LIST: repr_node(c, b, v->node); break;
    case V_ANCHORS: repr_node(c, b, c->anchors); break;
    }
}

/* A YAML value as Python prints the object safe_load made of it. */
static void repr_node(Ctx *c, Buf *b, const yaml_node_t *n)
{
    if (!n) return;
    if (n->type == YAML_SEQUENCE_NODE) {
        buf_add(b, "[");
        for (int i = 0; i < seq_len(n); i++) {
            if (i) buf_add(b, ", ");
            repr_node(c, b, seq_item(c, n, i));
        }
        buf_add(b, "]");
    } else if (n->type == YAML_MAPPING_NODE) {
        buf_add(b, "{...}");
    } else {
        Val v;
        yaml_scalar_value(n, &v);
        repr_val(c, b, &v);
    }
}

/* ------------------------------------------------------------------------ */
/* Typed argument readers                                                    */

static int want_int(Ctx *c, const Val *v, const char *what, long long lo, long long hi, int *out)
{
    if (v->kind != V_INT)
        return fail(c, v->node, "%s must be an integer, got %s '%s'", what, val_type_name(v), node_brief(v->node));
    if (v->i < lo || v->i > hi) {
        if (hi == INT_MAX) return fail(c, v->node, "%s must be >= %lld, got %lld", what, lo, v->i);
        return fail(c, v->node, "%s must be in [%lld, %lld], got %lld", what, lo, hi, v->i);
    }
    *out = (int)v->i;
    return 0;
}

static int want_bool(Ctx *c, const Val *v, const char *what, int *out)
{
    if (v->kind != V_BOOL)
        return fail(c, v->node, "%s must be True or False, got %s '%s'", what, val_type_name(v), node_brief(v->node));
    *out = (int)v->i;
    return 0;
}

static int want_number(Ctx *c, const Val *v, const char *what, double *out)
{
    if (v->kind == V_INT) return *out = (double)v->i, 0;
    if (v->kind == V_FLOAT) return *out = v->f, 0;
    return fail(c, v->node, "%s must be a number, got %s '%s'", what, val_type_name(v), node_brief(v->node));
}

/* ------------------------------------------------------------------------ */
/* Top-level keys                                                            */

static int top_int(Ctx *c, const yaml_node_t *root, const char *key, int required, int dflt, int *out)
{
    yaml_node_t *n = map_get(c, root, key);
    if (!n) {
        if (required) return fail(c, root, "missing key '%s'", key);
        return *out = dflt, 0;
    }
    Val v;
    if (n->type == YAML_SCALAR_NODE) yaml_scalar_value(n, &v);
    if (n->type != YAML_SCALAR_NODE || v.kind != V_INT)
        return fail(c, n, "'%s' must be a positive integer, got '%s'", key, node_brief(n));
    if (v.i < 1 || v.i > 1000000) return fail(c, n, "'%s' must be in [1, 1000000], got %lld", key, v.i);
    *out = (int)v.i;
    return 0;
}

static int top_multiple(Ctx *c, const yaml_node_t *root, const char *key, double *out)
{
    yaml_node_t *n = map_get(c, root, key);
    if (!n) return fail(c, root, "missing key '%s'", key);
    Val v;
    if (n->type == YAML_SCALAR_NODE) yaml_scalar_value(n, &v);
    if (n->type != YAML_SCALAR_NODE || (v.kind != V_INT && v.kind != V_FLOAT))
        return fail(c, n, "'%s' must be a number, got '%s'", key, node_brief(n));
    double d = v.kind == V_INT ? (double)v.i : v.f;
    if (!(d > 0) || !isfinite(d) || d > 1000) return fail(c, n, "'%s' must be in (0, 1000], got %s", key, scalar_text(n));
    *out = d;
    return 0;
}

/* Validates an anchors value (list of per-level lists of numbers, or an int)
 * and fills cfg->nl/na/anchors from it. levels_wanted > 0 sets the level
 * count for the int form. */
static int read_anchors(Ctx *c, const yaml_node_t *n, int levels_wanted, int store, const yaml_node_t *where)
{
    ModelConfig *cfg = c->cfg;
    if (n->type == YAML_SCALAR_NODE) {
        Val v;
        yaml_scalar_value(n, &v);
        int na;
        if (v.kind != V_INT || v.i < 1 || v.i > MODEL_MAX_ANCHORS)
            return fail(c, n, "anchors must be a list of per-level [w,h, ...] lists or an anchor count in [1, %d], "
                              "got '%s'", MODEL_MAX_ANCHORS, node_brief(n));
        na = (int)v.i;
        if (!store) return c->top_na = na, 0;
        cfg->na = na;
        cfg->nl = levels_wanted;
        cfg->anchors_placeholder = 1;
        for (int l = 0; l < levels_wanted; l++)
            for (int j = 0; j < 2 * na; j++) cfg->anchors[l][j] = (float)j;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE || seq_len(n) == 0)
        return fail(c, n, "anchors must be a non-empty list of per-level [w,h, ...] lists or an anchor count");
    int nl = seq_len(n), na = 0;
    if (nl > MODEL_MAX_LEVELS) return fail(c, n, "at most %d anchor levels are supported, got %d", MODEL_MAX_LEVELS, nl);
    for (int l = 0; l < nl; l++) {
        yaml_node_t *lv = seq_item(c, n, l);
        if (lv->type != YAML_SEQUENCE_NODE)
            return fail(c, lv, "anchors level %d must be a list [w,h, w,h, ...], got '%s'", l, node_brief(lv));
        int len = seq_len(lv);
        if (len == 0 || len % 2)
            return fail(c, lv, "anchors level %d must hold w,h pairs (an even, non-zero count), got %d numbers", l, len);
        if (len / 2 > MODEL_MAX_ANCHORS)
            return fail(c, lv, "at most %d anchors per level are supported, got %d", MODEL_MAX_ANCHORS, len / 2);
        if (l == 0) na = len / 2;
        else if (len / 2 != na)
            return fail(c, lv, "anchors level %d has %d anchors but level 0 has %d (all levels need the same count)",
                        l, len / 2, na);
        for (int j = 0; j < len; j++) {
            yaml_node_t *x = seq_item(c, lv, j);
            Val v = {0};
            if (x->type == YAML_SCALAR_NODE) yaml_scalar_value(x, &v);
            if (x->type != YAML_SCALAR_NODE || (v.kind != V_INT && v.kind != V_FLOAT))
                return fail(c, x, "anchors level %d entry %d must be a number, got '%s'", l, j, node_brief(x));
            double d = v.kind == V_INT ? (double)v.i : v.f;
            if (!(d >= 0) || !isfinite(d)) return fail(c, x, "anchors level %d entry %d must be >= 0, got %g", l, j, d);
            if (store) cfg->anchors[l][j] = (float)d;
        }
    }
    if (!store) return c->top_na = na, 0;
    if (levels_wanted > 0 && nl != levels_wanted)
        return fail(c, where, "Detect has %d input%s but its anchors have %d level%s", levels_wanted,
                    levels_wanted == 1 ? "" : "s", nl, nl == 1 ? "" : "s");
    cfg->nl = nl;
    cfg->na = na;
    cfg->anchors_placeholder = 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                      */

static int kind_from_name(const char *s, ModuleKind *kind)
{
    static const struct {
        const char *name;
        ModuleKind kind;
    } names[] = {{"Conv", MODULE_CONV},     {"C3", MODULE_C3},
                 {"SPPF", MODULE_SPPF},     {"nn.Upsample", MODULE_UPSAMPLE},
                 {"torch.nn.Upsample", MODULE_UPSAMPLE}, {"Concat", MODULE_CONCAT},
                 {"Detect", MODULE_DETECT}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) return *kind = names[i].kind, 1;
    return 0;
}

/* YOLOv5's make_divisible(x, 8) = ceil(x / 8) * 8, x = c2 * gw in double as in Python. */
static double make_divisible_8(double x) { return ceil(x / 8.0) * 8; }

static int channels_of(const ModelConfig *cfg, int layer) { return layer < 0 ? cfg->ch_in : cfg->layers[layer].c_out; }

/* `from` -> from[]/inputs[]; single = the module takes one input (int form). */
static int resolve_from(Ctx *c, yaml_node_t *n, ModelLayer *L, int single)
{
    int i = L->index;
    yaml_node_t *items[MODEL_MAX_INPUTS];
    int count;
    if (n->type == YAML_SEQUENCE_NODE) {
        if (single)
            return fail(c, n, "'from' must be a single layer index (this module takes one input), got a list");
        count = seq_len(n);
        if (count == 0) return fail(c, n, "'from' list is empty");
        if (count > MODEL_MAX_INPUTS) return fail(c, n, "'from' lists at most %d inputs, got %d", MODEL_MAX_INPUTS, count);
        for (int j = 0; j < count; j++) items[j] = seq_item(c, n, j);
    } else {
        if (!single) return fail(c, n, "'from' must be a list of layer indices for %s, got '%s'", c->module, node_brief(n));
        count = 1;
        items[0] = n;
    }
    L->n_inputs = count;
    for (int j = 0; j < count; j++) {
        Val v = {0};
        if (items[j]->type == YAML_SCALAR_NODE) yaml_scalar_value(items[j], &v);
        if (items[j]->type != YAML_SCALAR_NODE || v.kind != V_INT)
            return fail(c, items[j], "'from' entries must be integer layer indices, got '%s'", node_brief(items[j]));
        long long f = v.i;
        long long target;
        if (f == -1) target = i - 1; /* -1 at layer 0 = the input image */
        else if (f < -1) {
            target = i + f;
            if (target < 0) return fail(c, items[j], "'from' %lld points before layer 0", f);
        } else {
            if (f >= c->cfg->n_layers)
                return fail(c, items[j], "'from' %lld is out of range (the model has %d layers)", f, c->cfg->n_layers);
            if (f >= i) return fail(c, items[j], "'from' %lld is not an earlier layer (forward reference)", f);
            target = f;
        }
        L->from[j] = (int)f;
        L->inputs[j] = (int)target;
        L->in_ch[j] = channels_of(c->cfg, (int)target);
    }
    L->c_in = L->in_ch[0];
    return 0;
}

/* Evaluates the args list into vals (count checked against [lo, hi]). */
static int eval_args(Ctx *c, yaml_node_t *args, Val *vals, int lo, int hi, const char *signature)
{
    int count = seq_len(args);
    if (count < lo || count > hi) {
        if (lo == hi)
            return fail(c, args, "takes %d argument%s %s, got %d", lo, lo == 1 ? "" : "s", signature, count);
        return fail(c, args, "takes %d to %d arguments %s, got %d", lo, hi, signature, count);
    }
    for (int j = 0; j < count; j++)
        if (eval_arg(c, seq_item(c, args, j), &vals[j])) return -1;
    return count;
}

/* Appends vals[from..count) to the printed args. */
static void repr_rest(Ctx *c, Buf *b, const Val *vals, int from, int count)
{
    for (int j = from; j < count; j++) {
        buf_add(b, ", ");
        repr_val(c, b, &vals[j]);
    }
}

static int resolve_output_channels(Ctx *c, const Val *v, int *c2)
{
    int raw = 0;
    if (want_int(c, v, "output channels (args[0])", 1, 1000000, &raw)) return -1;
    int no = c->top_na * (c->cfg->nc + 5);
    double scaled = make_divisible_8((double)raw * c->cfg->width_multiple);
    if (raw != no && scaled > MAX_CHANNELS)
        return fail(c, v->node, "%d channels x width_multiple %g = %.0f exceeds %d", raw, c->cfg->width_multiple,
                    scaled, MAX_CHANNELS);
    *c2 = raw == no ? raw : (int)scaled;
    return 0;
}

static int resolve_conv(Ctx *c, yaml_node_t *args, ModelLayer *L, Buf *b)
{
    Val v[7];
    int count = eval_args(c, args, v, 1, 7, "[c2, k, s, p, g, d, act]");
    if (count < 0) return -1;
    int k = 1, s = 1, p = -1, g = 1, d = 1, act = 1;
    if (resolve_output_channels(c, &v[0], &L->c_out)) return -1;
    if (count > 1 && want_int(c, &v[1], "kernel size k", 1, 64, &k)) return -1;
    if (count > 2 && want_int(c, &v[2], "stride s", 1, 64, &s)) return -1;
    if (count > 3 && v[3].kind != V_NONE && want_int(c, &v[3], "padding p", 0, 64, &p)) return -1;
    if (count > 4 && want_int(c, &v[4], "groups g", 1, INT_MAX, &g)) return -1;
    if (g != 1) return fail(c, v[4].node, "groups g=%d not supported (only 1)", g);
    if (count > 5 && want_int(c, &v[5], "dilation d", 1, INT_MAX, &d)) return -1;
    if (d != 1) return fail(c, v[5].node, "dilation d=%d not supported (only 1)", d);
    if (count > 6 && want_bool(c, &v[6], "act", &act)) return -1;
    L->conv.k = k;
    L->conv.stride = s;
    L->conv.pad = p >= 0 ? p : k / 2;
    L->conv.act = act;
    buf_add(b, "[%d, %d", L->c_in, L->c_out);
    repr_rest(c, b, v, 1, count);
    buf_add(b, "]");
    return 0;
}

static int resolve_c3(Ctx *c, yaml_node_t *args, ModelLayer *L, Buf *b)
{
    Val v[4];
    int count = eval_args(c, args, v, 1, 4, "[c2, shortcut, g, e]");
    if (count < 0) return -1;
    int shortcut = 1, g = 1;
    double e = 0.5;
    if (resolve_output_channels(c, &v[0], &L->c_out)) return -1;
    if (count > 1 && want_bool(c, &v[1], "shortcut", &shortcut)) return -1;
    if (count > 2 && want_int(c, &v[2], "groups g", 1, INT_MAX, &g)) return -1;
    if (g != 1) return fail(c, v[2].node, "groups g=%d not supported (only 1)", g);
    if (count > 3 && want_number(c, &v[3], "expansion e", &e)) return -1;
    double hidden = (double)L->c_out * e; /* int(c2 * e) truncates */
    if (!(hidden >= 1) || hidden > MAX_CHANNELS) return fail(c, count > 3 ? v[3].node : args, "hidden width int(c2*e) must be >= 1");
    L->c3.n = L->depth;
    L->c3.shortcut = shortcut;
    L->c3.hidden = (int)hidden;
    buf_add(b, "[%d, %d, %d", L->c_in, L->c_out, L->depth);
    repr_rest(c, b, v, 1, count);
    buf_add(b, "]");
    return 0;
}

static int resolve_sppf(Ctx *c, yaml_node_t *args, ModelLayer *L, Buf *b)
{
    Val v[2];
    int count = eval_args(c, args, v, 1, 2, "[c2, k]");
    if (count < 0) return -1;
    int k = 5;
    if (resolve_output_channels(c, &v[0], &L->c_out)) return -1;
    if (count > 1 && want_int(c, &v[1], "pool kernel k", 1, 63, &k)) return -1;
    if (k % 2 == 0) return fail(c, v[1].node, "pool kernel k must be odd (keeps the size), got %d", k);
    if (L->c_in < 2) return fail(c, args, "input has %d channel(s); SPPF needs at least 2", L->c_in);
    L->sppf.k = k;
    L->sppf.hidden = L->c_in / 2;
    buf_add(b, "[%d, %d", L->c_in, L->c_out);
    repr_rest(c, b, v, 1, count);
    buf_add(b, "]");
    return 0;
}

static int resolve_upsample(Ctx *c, yaml_node_t *args, ModelLayer *L, Buf *b)
{
    Val v[3];
    int count = eval_args(c, args, v, 2, 3, "[size, scale_factor, mode]");
    if (count < 0) return -1;
    if (v[0].kind != V_NONE) return fail(c, v[0].node, "size must be None (only scale_factor is supported)");
    double scale;
    if (want_number(c, &v[1], "scale_factor", &scale)) return -1;
    if (scale != 2) return fail(c, v[1].node, "scale_factor must be 2, got %s", node_brief(v[1].node));
    if (count > 2 && (v[2].kind != V_STR || strcmp(v[2].s, "nearest")))
        return fail(c, v[2].node, "mode must be 'nearest', got '%s'", node_brief(v[2].node));
    L->upsample.scale = 2;
    L->c_out = L->c_in;
    buf_add(b, "[");
    for (int j = 0; j < count; j++) {
        if (j) buf_add(b, ", ");
        repr_val(c, b, &v[j]);
    }
    buf_add(b, "]");
    return 0;
}

static int resolve_concat(Ctx *c, yaml_node_t *args, ModelLayer *L, Buf *b)
{
    Val v[1];
    int count = eval_args(c, args, v, 0, 1, "[dimension]");
    if (count < 0) return -1;
    int dim = 1;
    if (count > 0 && want_int(c, &v[0], "dimension", 1, 1, &dim)) return -1;
    L->concat.dim = dim;
    long long sum = 0;
    for (int j = 0; j < L->n_inputs; j++) sum += L->in_ch[j];
    if (sum > MAX_CHANNELS) return fail(c, args, "concatenation has %lld channels, more than %d", sum, MAX_CHANNELS);
    L->c_out = (int)sum;
    buf_add(b, "[");
    for (int j = 0; j < count; j++) repr_val(c, b, &v[j]);
    buf_add(b, "]");
    return 0;
}

static int resolve_detect(Ctx *c, yaml_node_t *args, ModelLayer *L, Buf *b)
{
    ModelConfig *cfg = c->cfg;
    Val v[2];
    /* Exactly two: parse_model appends the input channel list as the third. */
    int count = eval_args(c, args, v, 2, 2, "[nc, anchors]");
    if (count < 0) return -1;
    int nc;
    if (want_int(c, &v[0], "nc", 1, 1000000, &nc)) return -1;
    if (nc != cfg->nc) return fail(c, v[0].node, "Detect nc=%d differs from the model's nc=%d", nc, cfg->nc);
    if (v[1].kind == V_ANCHORS) {
        if (read_anchors(c, c->anchors, L->n_inputs, 1, v[1].node)) return -1;
    } else if (v[1].kind == V_LIST || v[1].kind == V_INT) {
        if (read_anchors(c, v[1].node, L->n_inputs, 1, v[1].node)) return -1;
    } else {
        return fail(c, v[1].node, "anchors must be a list of per-level lists or an anchor count, got %s '%s'",
                    val_type_name(&v[1]), node_brief(v[1].node));
    }
    if (cfg->nl != L->n_inputs)
        return fail(c, v[1].node, "Detect has %d inputs but %d anchor levels", L->n_inputs, cfg->nl);
    L->detect.nc = nc;
    L->detect.na = cfg->na;
    L->detect.nl = cfg->nl;
    L->detect.no = nc + 5;
    L->c_out = 0;
    buf_add(b, "[%d, ", nc);
    if (cfg->anchors_placeholder) {
        buf_add(b, "[");
        for (int l = 0; l < cfg->nl; l++) {
            buf_add(b, l ? ", [" : "[");
            for (int j = 0; j < 2 * cfg->na; j++) buf_add(b, j ? ", %d" : "%d", j);
            buf_add(b, "]");
        }
        buf_add(b, "]");
    } else {
        repr_val(c, b, &v[1]);
    }
    buf_add(b, ", [");
    for (int j = 0; j < L->n_inputs; j++) buf_add(b, j ? ", %d" : "%d", L->in_ch[j]);
    buf_add(b, "]]");
    return 0;
}

static int resolve_row(Ctx *c, yaml_node_t *row, ModelLayer *L)
{
    ModelConfig *cfg = c->cfg;
    c->module = NULL;
    if (row->type != YAML_SEQUENCE_NODE || seq_len(row) != 4)
        return fail(c, row, "a row must be [from, number, module, args], got %s",
                    row->type == YAML_SEQUENCE_NODE ? "a list of the wrong length" : node_brief(row));
    yaml_node_t *from = seq_item(c, row, 0), *number = seq_item(c, row, 1);
    yaml_node_t *module = seq_item(c, row, 2), *args = seq_item(c, row, 3);
    L->line = node_line(row);

    if (module->type != YAML_SCALAR_NODE) return fail(c, module, "module must be a name, got %s", node_brief(module));
    if (!kind_from_name(scalar_text(module), &L->kind))
        return fail(c, module, "unknown module '%s' (supported: Conv, C3, SPPF, nn.Upsample, Concat, Detect)",
                    scalar_text(module));
    c->module = module_kind_name(L->kind);
    L->type_name = module_type_name(L->kind);

    Val nv = {0};
    if (number->type == YAML_SCALAR_NODE) yaml_scalar_value(number, &nv);
    if (number->type != YAML_SCALAR_NODE || nv.kind != V_INT)
        return fail(c, number, "number must be an integer, got '%s'", node_brief(number));
    if (nv.i < 1 || nv.i > 1000) return fail(c, number, "number must be in [1, 1000], got %lld", nv.i);
    L->number = (int)nv.i;
    if (L->number > 1) {
        double d = nearbyint((double)L->number * cfg->depth_multiple); /* Python round: half to even */
        if (d > MAX_DEPTH)
            return fail(c, number, "number %d x depth_multiple %g = %.0f repeats, more than %d", L->number,
                        cfg->depth_multiple, d, MAX_DEPTH);
        L->depth = d > 1 ? (int)d : 1;
    } else {
        L->depth = L->number;
    }
    if (L->kind != MODULE_C3 && L->depth > 1)
        return fail(c, number, "number %d resolves to %d repeats; stacking %s modules in a Sequential is not "
                               "supported (only C3 repeats, inside itself)", L->number, L->depth, c->module);

    int multi = L->kind == MODULE_CONCAT || L->kind == MODULE_DETECT;
    if (resolve_from(c, from, L, !multi)) return -1;
    if (args->type != YAML_SEQUENCE_NODE) return fail(c, args, "args must be a list, got '%s'", node_brief(args));
    if (L->kind == MODULE_DETECT && L->index != cfg->n_layers - 1)
        return fail(c, module, "Detect must be the last layer (it is layer %d of %d)", L->index, cfg->n_layers);
    if (L->kind != MODULE_DETECT && L->index == cfg->n_layers - 1)
        return fail(c, module, "the last layer must be Detect");

    Buf b = {L->args_text, sizeof L->args_text, 0};
    L->args_text[0] = 0;
    switch (L->kind) {
    case MODULE_CONV: return resolve_conv(c, args, L, &b);
    case MODULE_C3: return resolve_c3(c, args, L, &b);
    case MODULE_SPPF: return resolve_sppf(c, args, L, &b);
    case MODULE_UPSAMPLE: return resolve_upsample(c, args, L, &b);
    case MODULE_CONCAT: return resolve_concat(c, args, L, &b);
    case MODULE_DETECT: return resolve_detect(c, args, L, &b);
    }
    return fail(c, module, "unhandled module");
}

/* ------------------------------------------------------------------------ */
/* Whole document                                                            */

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static void build_save_list(ModelConfig *cfg)
{
    int count = 0;
    for (int i = 0; i < cfg->n_layers; i++) {
        const ModelLayer *L = &cfg->layers[i];
        for (int j = 0; j < L->n_inputs; j++)
            if (L->from[j] != -1) cfg->save[count++] = ((L->from[j] % i) + i) % i; /* Python's x % i */
    }
    qsort(cfg->save, (size_t)count, sizeof cfg->save[0], cmp_int);
    int unique = 0;
    for (int j = 0; j < count; j++)
        if (!unique || cfg->save[unique - 1] != cfg->save[j]) cfg->save[unique++] = cfg->save[j];
    cfg->n_save = unique;
}

static void set_names(ModelConfig *cfg, const char *source_name)
{
    snprintf(cfg->source, sizeof cfg->source, "%s", source_name ? source_name : "<string>");
    if (!source_name) {
        snprintf(cfg->name, sizeof cfg->name, "Model");
        return;
    }
    /* Path(source).stem with "yolov5" -> "YOLOv5", as YOLOv5's summary does. */
    const char *base = strrchr(source_name, '/');
    base = base ? base + 1 : source_name;
    char stem[128];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    Buf b = {cfg->name, sizeof cfg->name, 0};
    cfg->name[0] = 0;
    for (const char *p = stem; *p;) {
        if (!strncmp(p, "yolov5", 6)) {
            buf_add(&b, "YOLOv5");
            p += 6;
        } else {
            buf_add(&b, "%c", *p++);
        }
    }
}

static int spatial(const ModelConfig *cfg, int in_h, int in_w, int *out_h, int *out_w, Error *err, int *bad_layer);

static int parse_document(Ctx *c, yaml_node_t *root)
{
    ModelConfig *cfg = c->cfg;
    if (!root) return err_set(c->err, "%s:1: empty document (expected a model mapping with nc, depth_multiple, "
                                      "width_multiple, anchors, backbone, head)", c->source);
    if (root->type != YAML_MAPPING_NODE) return fail(c, root, "the document must be a mapping of model keys");

    if (top_int(c, root, "nc", 1, 0, &cfg->nc_yaml)) return -1;
    if (cfg->nc <= 0) cfg->nc = cfg->nc_yaml;
    if (top_multiple(c, root, "depth_multiple", &cfg->depth_multiple)) return -1;
    if (top_multiple(c, root, "width_multiple", &cfg->width_multiple)) return -1;
    if (top_int(c, root, "ch", 0, 3, &cfg->ch_in)) return -1;
    c->anchors = map_get(c, root, "anchors");
    if (!c->anchors) return fail(c, root, "missing key 'anchors'");
    if (read_anchors(c, c->anchors, 0, 0, c->anchors)) return -1;
    yaml_node_t *act = map_get(c, root, "activation");
    if (act && !(act->type == YAML_SCALAR_NODE && (!strcmp(scalar_text(act), "nn.SiLU()") || !*scalar_text(act))))
        return fail(c, act, "activation '%s' not supported (only the default nn.SiLU())", node_brief(act));

    yaml_node_t *parts[2];
    const char *part_names[2] = {"backbone", "head"};
    int total = 0;
    for (int p = 0; p < 2; p++) {
        parts[p] = map_get(c, root, part_names[p]);
        if (!parts[p]) return fail(c, root, "missing key '%s'", part_names[p]);
        if (parts[p]->type != YAML_SEQUENCE_NODE)
            return fail(c, parts[p], "'%s' must be a list of [from, number, module, args] rows", part_names[p]);
        total += seq_len(parts[p]);
    }
    if (total == 0) return fail(c, root, "the model has no layers");

    cfg->layers = calloc((size_t)total, sizeof *cfg->layers);
    cfg->save = calloc((size_t)total * MODEL_MAX_INPUTS, sizeof *cfg->save);
    if (!cfg->layers || !cfg->save) return err_set(c->err, "%s: out of memory for %d layers", c->source, total);
    cfg->n_layers = total;
    int i = 0;
    for (int p = 0; p < 2; p++)
        for (int r = 0; r < seq_len(parts[p]); r++, i++) {
            c->layer = i;
            cfg->layers[i].index = i;
            if (resolve_row(c, seq_item(c, parts[p], r), &cfg->layers[i])) return -1;
        }
    c->layer = -1;
    cfg->detect_layer = total - 1;
    build_save_list(cfg);

    /* Strides as YOLOv5 measures them: a 256 x 256 probe. */
    int *hw = malloc(sizeof(int) * 2 * (size_t)total);
    if (!hw) return err_set(c->err, "%s: out of memory", c->source);
    int bad_layer = 0;
    int rc = spatial(cfg, 256, 256, hw, hw + total, c->err, &bad_layer);
    if (!rc) {
        const ModelLayer *D = &cfg->layers[cfg->detect_layer];
        for (int l = 0; l < D->n_inputs; l++) {
            int src = D->inputs[l];
            cfg->stride[l] = 256.0f / (float)(src < 0 ? 256 : hw[src]);
        }
    } else {
        char msg[sizeof c->err->msg];
        snprintf(msg, sizeof msg, "%s", c->err ? c->err->msg : "");
        err_set(c->err, "%s:%d: %s (in YOLOv5's 256x256 stride probe)", c->source, cfg->layers[bad_layer].line, msg);
    }
    free(hw);
    return rc;
}

int model_config_parse_string(const char *text, const char *source_name, int nc_override,
                              ModelConfig *cfg, Error *err)
{
    memset(cfg, 0, sizeof *cfg);
    set_names(cfg, source_name);
    size_t len = strlen(text);
    cfg->yaml_text = malloc(len + 1);
    if (!cfg->yaml_text) return err_set(err, "%s: out of memory", cfg->source);
    memcpy(cfg->yaml_text, text, len + 1);
    cfg->nc = nc_override > 0 ? nc_override : 0;
    if (nc_override > 1000000) {
        model_config_free(cfg);
        return err_set(err, "%s: nc override %d is too large", source_name ? source_name : "<string>", nc_override);
    }

    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        model_config_free(cfg);
        return err_set(err, "%s: cannot initialise the YAML parser", source_name ? source_name : "<string>");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = err_set(err, "%s:%d: YAML syntax error: %s%s%s", cfg->source, (int)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "unknown problem", parser.context ? " " : "",
                     parser.context ? parser.context : "");
    } else {
        Ctx c = {.source = cfg->source, .doc = &doc, .cfg = cfg, .err = err, .layer = -1};
        rc = parse_document(&c, yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc) {
        /* Keep the message, drop everything else: the caller owns nothing on failure. */
        model_config_free(cfg);
        return -1;
    }
    return 0;
}

int model_config_load(const char *path, int nc_override, ModelConfig *cfg, Error *err)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, "%s: cannot open model config: %s", path, strerror(errno));
    char *text = malloc(MAX_YAML_BYTES + 1);
    if (!text) {
        fclose(f);
        return err_set(err, "%s: out of memory", path);
    }
    size_t n = fread(text, 1, MAX_YAML_BYTES + 1, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(text);
        return err_set(err, "%s: read error", path);
    }
    if (n > MAX_YAML_BYTES) {
        free(text);
        return err_set(err, "%s: model config larger than %u bytes", path, MAX_YAML_BYTES);
    }
    text[n] = 0;
    if (memchr(text, 0, n)) {
        free(text);
        return err_set(err, "%s: not a text file (contains NUL bytes)", path);
    }
    int rc = model_config_parse_string(text, path, nc_override, cfg, err);
    free(text);
    return rc;
}

void model_config_free(ModelConfig *cfg)
{
    if (!cfg) return;
    free(cfg->layers);
    free(cfg->save);
    free(cfg->yaml_text);
    memset(cfg, 0, sizeof *cfg);
}

/* ------------------------------------------------------------------------ */
/* Shapes and anchors                                                        */

/* model_config_spatial, also telling which layer failed. */
static int spatial(const ModelConfig *cfg, int in_h, int in_w, int *out_h, int *out_w, Error *err, int *bad_layer)
{
    if (in_h < 1 || in_w < 1 || in_h > MAX_SIDE || in_w > MAX_SIDE)
        return err_set(err, "input size %dx%d must be in [1, %d]", in_h, in_w, MAX_SIDE);
    for (int i = 0; i < cfg->n_layers; i++) {
        const ModelLayer *L = &cfg->layers[i];
        int src = L->inputs[0];
        int h = src < 0 ? in_h : out_h[src], w = src < 0 ? in_w : out_w[src];
        switch (L->kind) {
        case MODULE_CONV: {
            int k = L->conv.k, s = L->conv.stride, p = L->conv.pad;
            if (h + 2 * p < k || w + 2 * p < k)
                return *bad_layer = i, err_set(err, "layer %d (Conv k%d s%d p%d): input %dx%d is smaller than the kernel", i, k, s,
                               p, h, w);
            h = (h + 2 * p - k) / s + 1;
            w = (w + 2 * p - k) / s + 1;
            break;
        }
        case MODULE_UPSAMPLE:
            if (h > MAX_SIDE / L->upsample.scale || w > MAX_SIDE / L->upsample.scale)
                return *bad_layer = i, err_set(err, "layer %d (nn.Upsample): output side exceeds %d", i, MAX_SIDE);
            h *= L->upsample.scale;
            w *= L->upsample.scale;
            break;
        case MODULE_CONCAT:
            for (int j = 1; j < L->n_inputs; j++) {
                int other = L->inputs[j];
                int oh = other < 0 ? in_h : out_h[other], ow = other < 0 ? in_w : out_w[other];
                if (oh != h || ow != w)
                    return *bad_layer = i, err_set(err, "layer %d (Concat): inputs differ in size (%dx%d from layer %d, %dx%d from "
                                        "layer %d); the input size must be a multiple of the largest stride",
                                   i, h, w, src, oh, ow, other);
            }
            break;
        case MODULE_C3:
        case MODULE_SPPF:
        case MODULE_DETECT: break; /* 1x1 and 'same' convolutions, stride-1 pools */
        }
        out_h[i] = h;
        out_w[i] = w;
    }
    return 0;
}

int model_config_spatial(const ModelConfig *cfg, int in_h, int in_w, int *out_h, int *out_w, Error *err)
{
    int bad_layer;
    return spatial(cfg, in_h, in_w, out_h, out_w, err, &bad_layer);
}

int model_config_anchors_grid(const ModelConfig *cfg, float *out)
{
    int nl = cfg->nl, na = cfg->na;
    /* check_anchor_order: mean anchor area per level (float32, as torch does). */
    float first = 0, last = 0;
    for (int a = 0; a < na; a++) {
        first += cfg->anchors[0][2 * a] * cfg->anchors[0][2 * a + 1];
        last += cfg->anchors[nl - 1][2 * a] * cfg->anchors[nl - 1][2 * a + 1];
    }
    float da = last / (float)na - first / (float)na;
    float ds = cfg->stride[nl - 1] - cfg->stride[0];
    int sign_da = (da > 0) - (da < 0), sign_ds = (ds > 0) - (ds < 0);
    int flip = sign_da != 0 && sign_da != sign_ds;
    for (int l = 0; l < nl; l++) {
        int src = flip ? nl - 1 - l : l;
        for (int j = 0; j < 2 * na; j++) out[(l * na) * 2 + j] = cfg->anchors[src][j] / cfg->stride[l];
    }
    return flip;
}

/* ------------------------------------------------------------------------ */
/* The definition as JSON (for weights metadata)                             */

/* YAML node -> cJSON with scalars typed as safe_load types them. Depth is
 * bounded because aliases can make a document arbitrarily deep. */
static cJSON *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    if (!n || depth > 64) return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        Val v;
        yaml_scalar_value(n, &v);
        switch (v.kind) {
        case V_NONE: return cJSON_CreateNull();
        case V_BOOL: return cJSON_CreateBool((int)v.i);
        case V_INT: return cJSON_CreateNumber((double)v.i);
        case V_FLOAT: return isfinite(v.f) ? cJSON_CreateNumber(v.f) : cJSON_CreateString(scalar_text(n));
        default: return cJSON_CreateString(scalar_text(n));
        }
    }
    case YAML_SEQUENCE_NODE: {
        cJSON *arr = cJSON_CreateArray();
        for (yaml_node_item_t *it = n->data.sequence.items.start; arr && it < n->data.sequence.items.top; it++) {
            cJSON *item = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!item) return cJSON_Delete(arr), NULL;
            cJSON_AddItemToArray(arr, item);
        }
        return arr;
    }
    case YAML_MAPPING_NODE: {
        cJSON *obj = cJSON_CreateObject();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; obj && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            cJSON *item = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (!k || k->type != YAML_SCALAR_NODE || !item) return cJSON_Delete(item), cJSON_Delete(obj), NULL;
            cJSON_AddItemToObject(obj, scalar_text(k), item);
        }
        return obj;
    }
    default: return NULL;
    }
}

char *model_config_definition_json(const ModelConfig *cfg, Error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return err_set(err, "%s: cannot initialise the YAML parser", cfg->source), NULL;
    yaml_parser_set_input_string(&parser, (const unsigned char *)cfg->yaml_text, strlen(cfg->yaml_text));
    char *text = NULL;
    if (yaml_parser_load(&parser, &doc)) {
        cJSON *root = node_to_json(&doc, yaml_document_get_root_node(&doc), 0);
        /* The classes in effect, as ultralytics rewrites model.yaml['nc'] on an override. */
        if (root && cJSON_IsObject(root)) {
            cJSON_DeleteItemFromObject(root, "nc");
            cJSON_AddNumberToObject(root, "nc", cfg->nc);
            text = cJSON_PrintUnformatted(root);
        }
        cJSON_Delete(root);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (!text) err_set(err, "%s: cannot convert the model definition to JSON", cfg->source);
    return text;
}
