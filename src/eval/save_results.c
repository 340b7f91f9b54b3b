#include "eval/save_results.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/box_map.h"

/* Python's '%g' of a float: C's, but NaN without a sign. */
static void put_g(FILE *f, double v, int first)
{
    if (!first) fputc(' ', f);
    if (isnan(v)) fputs("nan", f);
    else fprintf(f, "%g", v);
}

void save_txt_rows(FILE *f, const float *det, int n, int h0, int w0, int save_conf, int reverse)
{
    for (int k = 0; k < n; k++) {
        const float *d = det + (size_t)(reverse ? n - 1 - k : k) * 6;
        float xywh[4];
        boxes_xyxy_to_yolo(d, h0, w0, xywh);
        put_g(f, d[5], 1);
        for (int i = 0; i < 4; i++) put_g(f, xywh[i], 0);
        if (save_conf) put_g(f, d[4], 0);
        fputc('\n', f);
    }
}

static const int64_t COCO80_TO_91[80] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
    67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
};

const int64_t *coco80_to_coco91(void) { return COCO80_TO_91; }

/* repr(float): the shortest decimal that reads back as y, in fixed notation
 * when the decimal point position is in (-4, 16], else d.ddde+XX. */
static void py_repr(double y, char *buf, size_t cap)
{
    if (isnan(y)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(y)) {
        snprintf(buf, cap, y < 0 ? "-inf" : "inf");
        return;
    }
    if (y == 0) {
        snprintf(buf, cap, signbit(y) ? "-0.0" : "0.0");
        return;
    }
    char tmp[48];
    int p;
    for (p = 1; p < 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, y);
        if (strtod(tmp, NULL) == y) break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, y);
    /* tmp = [-]d[.ddd]e(+|-)XX */
    const char *s = tmp;
    int neg = *s == '-';
    if (neg) s++;
    char digits[24];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') digits[nd++] = *s;
    digits[nd] = 0;
    int exp10 = atoi(s + 1);
    int decpt = exp10 + 1;
    char out[64];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -decpt; i++) out[o++] = '0';
            for (int i = 0; i < nd; i++) out[o++] = digits[i];
        } else if (decpt >= nd) {
            for (int i = 0; i < nd; i++) out[o++] = digits[i];
            for (int i = nd; i < decpt; i++) out[o++] = '0';
            out[o++] = '.';
            out[o++] = '0';
        } else {
            for (int i = 0; i < decpt; i++) out[o++] = digits[i];
            out[o++] = '.';
            for (int i = decpt; i < nd; i++) out[o++] = digits[i];
        }
        out[o] = 0;
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++) out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
    snprintf(buf, cap, "%s", out);
}

void py_round_repr(double x, int ndigits, char *buf, size_t cap)
{
    if (!isfinite(x)) {
        py_repr(x, buf, cap);
        return;
    }
    /* glibc's printf rounds the exact binary value half to even, as
     * Python's round does through its correctly rounded dtoa. */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.*f", ndigits, x);
    py_repr(strtod(tmp, NULL), buf, cap);
}

/* Decodes one UTF-8 sequence at s; returns its length or 0 if invalid. */
static int utf8_decode(const unsigned char *s, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len) return 0;
    unsigned v = s[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const unsigned min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

int coco_image_id_json(const char *stem, char *buf, size_t cap, Error *e)
{
    size_t n = strlen(stem), o = 0;
    int numeric = n > 0;
    for (size_t i = 0; i < n; i++)
        if (stem[i] < '0' || stem[i] > '9') numeric = 0;
    if (numeric) {
        size_t i = 0;
        while (i + 1 < n && stem[i] == '0') i++;
        if (n - i + 1 > cap) return err_set(e, "image id of '%s': buffer too small", stem);
        memcpy(buf, stem + i, n - i + 1);
        return 0;
    }
#define PUT(...)                                                                        \
    do {                                                                                \
        int w_ = snprintf(buf + o, cap - o, __VA_ARGS__);                               \
        if (w_ < 0 || (size_t)w_ >= cap - o) return err_set(e, "image id of '%s': buffer too small", stem); \
        o += (size_t)w_;                                                                \
    } while (0)
    if (cap == 0) return err_set(e, "image id: empty buffer");
    buf[0] = 0;
    PUT("\"");
    const unsigned char *s = (const unsigned char *)stem;
    while (*s) {
        unsigned cp;
        int len = utf8_decode(s, &cp);
        if (!len) return err_set(e, "image id of '%s': not valid UTF-8", stem);
        s += len;
        if (cp == '"') PUT("\\\"");
        else if (cp == '\\') PUT("\\\\");
        else if (cp == '\n') PUT("\\n");
        else if (cp == '\r') PUT("\\r");
        else if (cp == '\t') PUT("\\t");
        else if (cp == '\b') PUT("\\b");
        else if (cp == '\f') PUT("\\f");
        else if (cp < 0x20 || cp > 0x7E) {
            if (cp >= 0x10000) {
                unsigned v = cp - 0x10000;
                PUT("\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            } else {
                PUT("\\u%04x", cp);
            }
        } else {
            PUT("%c", (char)cp);
        }
    }
    PUT("\"");
#undef PUT
    return 0;
}

void coco_results_begin(CocoResultsWriter *w, FILE *f)
{
    w->f = f;
    w->rows = 0;
    fputc('[', f);
}

int coco_results_add(CocoResultsWriter *w, const char *image_id_json, const float *det, int n,
                     const int64_t *class_map, int n_map, Error *e)
{
    for (int k = 0; k < n; k++) {
        const float *d = det + (size_t)k * 6;
        int cls = (int)d[5];
        int64_t category = cls;
        if (class_map) {
            if (cls < 0 || cls >= n_map)
                return err_set(e, "COCO results: class %d has no category id (map of %d)", cls, n_map);
            category = class_map[cls];
        }
        /* xyxy -> xywh -> top-left corner, in float32 as the reference. */
        float b[4];
        boxes_xyxy_to_xywh(d, 1, 6, b, 4);
        b[0] -= b[2] / 2.0f;
        b[1] -= b[3] / 2.0f;
        char v[4][64], score[64];
        for (int i = 0; i < 4; i++) py_round_repr(b[i], 3, v[i], sizeof v[i]);
        py_round_repr(d[4], 5, score, sizeof score);
        fprintf(w->f, "%s{\"image_id\": %s, \"category_id\": %lld, \"bbox\": [%s, %s, %s, %s], \"score\": %s}",
                w->rows ? ", " : "", image_id_json, (long long)category, v[0], v[1], v[2], v[3], score);
        w->rows++;
    }
    if (ferror(w->f)) return err_set(e, "COCO results: write failed");
    return 0;
}

int coco_results_end(CocoResultsWriter *w, Error *e)
{
    fputc(']', w->f);
    if (ferror(w->f)) return err_set(e, "COCO results: write failed");
    return 0;
}
