/* Target assignment for one level, float32 like the reference. */
#include "loss/build_targets.h"

#include <math.h>
#include <stdlib.h>

/* Neighbour flags of a kept pair, one bit per offset block 1..4. */
enum { LEFT = 1 << 1, UP = 1 << 2, RIGHT = 1 << 3, DOWN = 1 << 4 };

/* Offsets (x, y) of the five blocks: centre, left, up, right, down, in units
 * that are subtracted from the centre before truncation. */
static const float OFFSET[5][2] = {{0.0f, 0.0f}, {0.5f, 0.0f}, {0.0f, 0.5f}, {-0.5f, 0.0f}, {0.0f, -0.5f}};

static int grow(void **buf, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    int n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *p = realloc(*buf, (size_t)n * elem);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* Python's x % 1 on a float32 tensor (fmod, moved into [0, 1)). */
static float frac1(float x)
{
    float f = fmodf(x, 1.0f);
    if (f != 0.0f && f < 0.0f) f += 1.0f;
    return f;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

int build_targets_level(LevelTargets *out, const float *targets, int nt, int na, const float *anchors,
                        int ny, int nx, float anchor_t, Error *e)
{
    out->n = 0;
    if (nt <= 0) return 0;
    int pairs = na * nt;
    if (pairs > out->kept_cap) {
        /* Both scratch arrays share kept_cap; on failure the old blocks stay valid. */
        int cap = out->kept_cap, flags_cap = out->kept_cap;
        if (grow((void **)&out->kept, &cap, pairs, sizeof(int)) ||
            grow((void **)&out->flags, &flags_cap, pairs, 1))
            return err_set(e, "build_targets: out of memory for %d anchor-target pairs", pairs);
        out->kept_cap = cap;
    }
    if (grow((void **)&out->rows, &out->cap, 5 * pairs, sizeof(TargetRow)))
        return err_set(e, "build_targets: out of memory for %d target rows", 5 * pairs);

    const float fx = (float)nx, fy = (float)ny;
    /* Ratio filter, anchor-major. */
    int m = 0;
    for (int a = 0; a < na; a++) {
        const float aw = anchors[2 * a], ah = anchors[2 * a + 1];
        for (int t = 0; t < nt; t++) {
            const float *r = targets + (size_t)t * 6;
            float rw = (r[4] * fx) / aw, rh = (r[5] * fy) / ah;
            float q = fmaxf(fmaxf(rw, 1.0f / rw), fmaxf(rh, 1.0f / rh));
            if (q < anchor_t) out->kept[m++] = a * nt + t;
        }
    }
    /* Neighbour flags from the fractional position and the distance to each border. */
    for (int i = 0; i < m; i++) {
        const float *r = targets + (size_t)(out->kept[i] % nt) * 6;
        float gx = r[2] * fx, gy = r[3] * fy;
        float gxi = fx - gx, gyi = fy - gy;
        unsigned char f = 0;
        if (frac1(gx) < 0.5f && gx > 1.0f) f |= LEFT;
        if (frac1(gy) < 0.5f && gy > 1.0f) f |= UP;
        if (frac1(gxi) < 0.5f && gxi > 1.0f) f |= RIGHT;
        if (frac1(gyi) < 0.5f && gyi > 1.0f) f |= DOWN;
        out->flags[i] = f;
    }
    /* Emit offset-major: every centre row, then every left row, and so on. */
    int n = 0;
    for (int o = 0; o < 5; o++) {
        for (int i = 0; i < m; i++) {
            if (o > 0 && !(out->flags[i] & (1 << o))) continue;
            int a = out->kept[i] / nt, t = out->kept[i] % nt;
            const float *r = targets + (size_t)t * 6;
            float gx = r[2] * fx, gy = r[3] * fy;
            /* Truncation toward zero, as .long(); then clamp, then the box is
             * taken relative to the clamped cell. */
            int gi = clampi((int)(gx - OFFSET[o][0]), 0, nx - 1);
            int gj = clampi((int)(gy - OFFSET[o][1]), 0, ny - 1);
            TargetRow *row = &out->rows[n++];
            row->image = (int)r[0];
            row->cls = (int)r[1];
            row->anchor = a;
            row->gj = gj;
            row->gi = gi;
            row->tbox[0] = gx - (float)gi;
            row->tbox[1] = gy - (float)gj;
            row->tbox[2] = r[4] * fx;
            row->tbox[3] = r[5] * fy;
            row->anchor_wh[0] = anchors[2 * a];
            row->anchor_wh[1] = anchors[2 * a + 1];
        }
    }
    out->n = n;
    return 0;
}

void level_targets_free(LevelTargets *lt)
{
    free(lt->rows);
    free(lt->kept);
    free(lt->flags);
    lt->rows = NULL;
    lt->kept = NULL;
    lt->flags = NULL;
    lt->n = lt->cap = lt->kept_cap = 0;
}
