/* Synthetic shapes dataset: rendering (anti-aliased by 4x4 supersampling),
 * placement with mild occlusion, and the COCO / YOLO txt writers. */
#include "data/shapes.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>
#include <stb/stb_image_write.h>

#include "core/rng.h"
#include "data/fsutil.h"

const char *const SHAPES_CLASS_NAMES[SHAPES_NUM_CLASSES] = {"circle", "square", "triangle", "star", "cross", "ring"};

enum { SHAPE_CIRCLE, SHAPE_SQUARE, SHAPE_TRIANGLE, SHAPE_STAR, SHAPE_CROSS, SHAPE_RING };

#define PI 3.14159265358979323846
#define MIN_OBJECT_PX 6.0     /* smallest shape extent */
#define MAX_OCCLUSION 0.3     /* a new shape may cover at most this share of an earlier box */
#define RING_INNER 0.6        /* inner radius of a ring / outer */
#define SS 4                  /* supersampling per axis */

/* Geometry of one shape before rasterising: centre, radius, rotation, and
 * for polygonal classes the vertices. */
typedef struct {
    int cls;
    double cx, cy, r, angle;
    int nv;
    double vx[12], vy[12];
    double x0, y0, x1, y1; /* exact extent */
} Geom;

static void make_geom(Geom *g)
{
    double r = g->r;
    g->nv = 0;
    if (g->cls == SHAPE_CIRCLE || g->cls == SHAPE_RING) {
        g->x0 = g->cx - r;
        g->x1 = g->cx + r;
        g->y0 = g->cy - r;
        g->y1 = g->cy + r;
        return;
    }
    double px[12], py[12];
    int n = 0;
    if (g->cls == SHAPE_SQUARE || g->cls == SHAPE_TRIANGLE) {
        n = g->cls == SHAPE_SQUARE ? 4 : 3;
        for (int i = 0; i < n; i++) {
            px[i] = r * cos(2 * PI * i / n);
            py[i] = r * sin(2 * PI * i / n);
        }
    } else if (g->cls == SHAPE_STAR) {
        n = 10;
        for (int i = 0; i < n; i++) {
            double rr = (i % 2) ? 0.45 * r : r;
            px[i] = rr * cos(PI * i / 5 - PI / 2);
            py[i] = rr * sin(PI * i / 5 - PI / 2);
        }
    } else { /* cross: a plus sign, arms 0.6 as thick as long, corners on the circle of radius r */
        double l = r / sqrt(1.09), a = 0.3 * l;
        const double cxs[12] = {a, a, l, l, a, a, -a, -a, -l, -l, -a, -a};
        const double cys[12] = {l, a, a, -a, -a, -l, -l, -a, -a, a, a, l};
        n = 12;
        memcpy(px, cxs, sizeof cxs);
        memcpy(py, cys, sizeof cys);
    }
    double c = cos(g->angle), s = sin(g->angle);
    g->nv = n;
    g->x0 = g->y0 = INFINITY;
    g->x1 = g->y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        g->vx[i] = g->cx + c * px[i] - s * py[i];
        g->vy[i] = g->cy + s * px[i] + c * py[i];
        g->x0 = fmin(g->x0, g->vx[i]);
        g->x1 = fmax(g->x1, g->vx[i]);
        g->y0 = fmin(g->y0, g->vy[i]);
        g->y1 = fmax(g->y1, g->vy[i]);
    }
}

static int inside(const Geom *g, double x, double y)
{
    double dx = x - g->cx, dy = y - g->cy, d2 = dx * dx + dy * dy;
    if (g->cls == SHAPE_CIRCLE) return d2 <= g->r * g->r;
    if (g->cls == SHAPE_RING) return d2 <= g->r * g->r && d2 >= RING_INNER * RING_INNER * g->r * g->r;
    int in = 0; /* even-odd rule */
    for (int i = 0, j = g->nv - 1; i < g->nv; j = i++) {
        if ((g->vy[i] > y) != (g->vy[j] > y) &&
            x < (g->vx[j] - g->vx[i]) * (y - g->vy[i]) / (g->vy[j] - g->vy[i]) + g->vx[i])
            in = !in;
    }
    return in;
}

static double clamp255(double v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

static void hsv_to_rgb(double h, double s, double v, double rgb[3])
{
    double c = v * s, hp = fmod(h, 1.0) * 6, x = c * (1 - fabs(fmod(hp, 2) - 1)), m = v - c;
    double r = 0, g = 0, b = 0;
    if (hp < 1) r = c, g = x;
    else if (hp < 2) r = x, g = c;
    else if (hp < 3) g = c, b = x;
    else if (hp < 4) g = x, b = c;
    else if (hp < 5) r = x, b = c;
    else r = c, b = x;
    rgb[0] = 255 * (r + m);
    rgb[1] = 255 * (g + m);
    rgb[2] = 255 * (b + m);
}

static void random_colour(Rng *r, double s_lo, double v_lo, double v_hi, double rgb[3])
{
    hsv_to_rgb(rng_uniform(r), rng_uniform_range(r, s_lo, 1.0), rng_uniform_range(r, v_lo, v_hi), rgb);
}

/* Textured background: gradient, stripes, checks or smooth blobs, plus noise. */
static void draw_background(Rng *r, int W, int H, uint8_t *px)
{
    double a[3], b[3];
    random_colour(r, 0.0, 0.15, 0.95, a);
    int kind = (int)rng_int(r, 0, 3);
    double contrast = kind == 0 ? 1.0 : 0.35; /* patterns stay subtle */
    random_colour(r, 0.0, 0.15, 0.95, b);
    for (int k = 0; k < 3; k++) b[k] = a[k] + contrast * (b[k] - a[k]);
    double th = rng_uniform_range(r, 0, PI), c = cos(th), s = sin(th);
    double period = rng_uniform_range(r, 6, 40);
    double f[3][2], ph[3];
    for (int k = 0; k < 3; k++) {
        f[k][0] = rng_uniform_range(r, -0.05, 0.05);
        f[k][1] = rng_uniform_range(r, -0.05, 0.05);
        ph[k] = rng_uniform_range(r, 0, 2 * PI);
    }
    double noise = rng_uniform_range(r, 2, 12);
    double diag = sqrt((double)W * W + (double)H * H);
    /* sin(a x + b y + p) = sin(a x) cos(b y + p) + cos(a x) sin(b y + p): one
     * table per axis instead of a sine per pixel */
    int waves = kind == 1 ? 1 : kind == 3 ? 3 : 0;
    double *tab = malloc(((size_t)W + H) * 2 * 3 * sizeof *tab);
    if (!tab) waves = 0;
    for (int k = 0; k < waves; k++) {
        double fx = kind == 1 ? 2 * PI * c / period : f[k][0], fy = kind == 1 ? 2 * PI * s / period : f[k][1];
        double p0 = kind == 1 ? 0 : ph[k];
        double *sx = tab + (size_t)k * 2 * (W + H), *cx = sx + W, *sy = cx + W, *cy = sy + H;
        for (int x = 0; x < W; x++) sx[x] = sin(fx * x), cx[x] = cos(fx * x);
        for (int y = 0; y < H; y++) sy[y] = sin(fy * y + p0), cy[y] = cos(fy * y + p0);
    }
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            double t = 0, u = x * c + y * s;
            if (kind == 0) {
                t = (u + diag / 2) / (2 * diag) + 0.25;
            } else if (kind == 2) {
                t = (((int)floor(x / period) + (int)floor(y / period)) & 1) ? 1.0 : 0.0;
            } else if (waves) {
                double sum = 0;
                for (int k = 0; k < waves; k++) {
                    const double *sx = tab + (size_t)k * 2 * (W + H), *cx = sx + W, *sy = cx + W, *cy = sy + H;
                    sum += sx[x] * cy[y] + cx[x] * sy[y];
                }
                t = kind == 1 ? 0.5 + 0.5 * sum : 0.5 + sum / 6;
            }
            uint64_t z = rng_u64(r);
            for (int k = 0; k < 3; k++) {
                double n = ((double)((z >> (16 * k)) & 0xFFFF) / 65535.0 - 0.5) * 2 * noise;
                px[((size_t)y * W + x) * 3 + k] = (uint8_t)lrint(clamp255(a[k] + t * (b[k] - a[k]) + n));
            }
        }
    }
    free(tab);
}

static void draw_shape(const Geom *g, const double rgb[3], double shade_dx, double shade_dy, int W, int H,
                       uint8_t *px)
{
    int xa = (int)floor(g->x0), xb = (int)ceil(g->x1), ya = (int)floor(g->y0), yb = (int)ceil(g->y1);
    if (xa < 0) xa = 0;
    if (ya < 0) ya = 0;
    if (xb > W) xb = W;
    if (yb > H) yb = H;
    for (int y = ya; y < yb; y++) {
        for (int x = xa; x < xb; x++) {
            int hits = 0;
            for (int sy = 0; sy < SS; sy++)
                for (int sx = 0; sx < SS; sx++) hits += inside(g, x + (sx + 0.5) / SS, y + (sy + 0.5) / SS);
            if (!hits) continue;
            double alpha = (double)hits / (SS * SS);
            /* gentle shading across the shape so it is not a flat stamp */
            double shade = 1.0 + 0.15 * ((x - g->cx) * shade_dx + (y - g->cy) * shade_dy) / (g->r + 1e-9);
            uint8_t *p = px + ((size_t)y * W + x) * 3;
            for (int k = 0; k < 3; k++) p[k] = (uint8_t)lrint(clamp255(p[k] + alpha * (clamp255(rgb[k] * shade) - p[k])));
        }
    }
}

static double round2(double v)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.2f", v);
    return strtod(buf, NULL);
}

static double box_overlap(double ax0, double ay0, double ax1, double ay1, double bx0, double by0, double bx1,
                          double by1)
{
    double w = fmin(ax1, bx1) - fmax(ax0, bx0), h = fmin(ay1, by1) - fmax(ay0, by0);
    return (w > 0 && h > 0) ? w * h : 0;
}

int shapes_render(uint64_t seed, int split, int index, int long_side, ShapesImage *out, Error *e)
{
    memset(out, 0, sizeof *out);
    if (long_side < 32 || long_side > 8192) return err_set(e, "shapes: image size %d out of range 32..8192", long_side);
    Rng r;
    rng_seed_stream(&r, seed, (uint64_t)split, (uint64_t)index);
    int short_side = rng_uniform(&r) < 0.5 ? long_side : (int)rng_int(&r, (3 * long_side + 3) / 4, long_side);
    int landscape = rng_uniform(&r) < 0.5;
    int W = landscape ? long_side : short_side, H = landscape ? short_side : long_side;
    out->width = W;
    out->height = H;
    out->rgb = malloc((size_t)W * H * 3);
    if (!out->rgb) return err_set(e, "shapes: out of memory for a %dx%d image", W, H);
    draw_background(&r, W, H, out->rgb);

    int wanted = rng_uniform(&r) < 0.04 ? 0 : (int)rng_int(&r, 1, 8); /* a few backgrounds */
    double max_extent = fmin(W, H) / 3.0;
    for (int o = 0; o < wanted && out->n_objects < SHAPES_MAX_OBJECTS; o++) {
        for (int attempt = 0; attempt < 30; attempt++) {
            Geom g;
            g.cls = (int)rng_int(&r, 0, SHAPES_NUM_CLASSES - 1);
            double extent = exp(rng_uniform_range(&r, log(MIN_OBJECT_PX), log(max_extent)));
            g.r = extent / 2;
            g.angle = rng_uniform_range(&r, 0, 2 * PI);
            g.cx = g.cy = 0;
            make_geom(&g);
            /* place so the whole extent is at least 1 px inside the image */
            double lo_x = 1 - g.x0, hi_x = W - 1 - g.x1, lo_y = 1 - g.y0, hi_y = H - 1 - g.y1;
            if (hi_x <= lo_x || hi_y <= lo_y) continue;
            g.cx = rng_uniform_range(&r, lo_x, hi_x);
            g.cy = rng_uniform_range(&r, lo_y, hi_y);
            make_geom(&g);
            int ok = 1;
            for (int k = 0; k < out->n_objects && ok; k++) {
                const ShapeObject *b = &out->objects[k];
                double inter = box_overlap(g.x0, g.y0, g.x1, g.y1, b->x, b->y, b->x + b->w, b->y + b->h);
                ok = inter <= MAX_OCCLUSION * b->w * b->h;
            }
            if (!ok) continue;
            /* a colour that stands out from the background under the shape */
            int ix = (int)g.cx, iy = (int)g.cy;
            const uint8_t *bg = out->rgb + ((size_t)iy * W + ix) * 3;
            double rgb[3];
            for (int tries = 0; tries < 12; tries++) {
                random_colour(&r, 0.45, 0.35, 1.0, rgb);
                double d = sqrt((rgb[0] - bg[0]) * (rgb[0] - bg[0]) + (rgb[1] - bg[1]) * (rgb[1] - bg[1]) +
                                (rgb[2] - bg[2]) * (rgb[2] - bg[2]));
                if (d > 110) break;
            }
            double sh = rng_uniform_range(&r, 0, 2 * PI);
            draw_shape(&g, rgb, cos(sh), sin(sh), W, H, out->rgb);

            ShapeObject *ob = &out->objects[out->n_objects++];
            ob->cls = g.cls;
            ob->x = round2(g.x0);
            ob->y = round2(g.y0);
            ob->w = round2(g.x1 - g.x0);
            ob->h = round2(g.y1 - g.y0);
            if (g.nv) {
                ob->n_poly = g.nv;
                double a2 = 0;
                for (int i = 0, j = g.nv - 1; i < g.nv; j = i++) a2 += g.vx[j] * g.vy[i] - g.vx[i] * g.vy[j];
                ob->area = fabs(a2) / 2;
                for (int i = 0; i < g.nv; i++) {
                    ob->poly[2 * i] = round2(g.vx[i]);
                    ob->poly[2 * i + 1] = round2(g.vy[i]);
                }
            } else {
                ob->n_poly = SHAPES_MAX_POLY;
                ob->area = PI * g.r * g.r * (g.cls == SHAPE_RING ? 1 - RING_INNER * RING_INNER : 1);
                for (int i = 0; i < SHAPES_MAX_POLY; i++) {
                    ob->poly[2 * i] = round2(g.cx + g.r * cos(2 * PI * i / SHAPES_MAX_POLY));
                    ob->poly[2 * i + 1] = round2(g.cy + g.r * sin(2 * PI * i / SHAPES_MAX_POLY));
                }
            }
            ob->area = round2(ob->area);
            break;
        }
    }
    return 0;
}

void shapes_image_free(ShapesImage *im)
{
    free(im->rgb);
    im->rgb = NULL;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t n, cap;
    int oom;
} Text;

static void text_append(Text *t, const void *data, size_t n)
{
    if (t->oom) return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1 << 16;
        while (cap < t->n + n + 1) cap *= 2;
        char *d = realloc(t->data, cap);
        if (!d) {
            t->oom = 1;
            return;
        }
        t->data = d;
        t->cap = cap;
    }
    memcpy(t->data + t->n, data, n);
    t->n += n;
    t->data[t->n] = 0;
}

static void text_printf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(Text *t, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        text_append(t, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        t->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    text_append(t, big, (size_t)n);
    free(big);
}

static void jpeg_sink(void *ctx, void *data, int size)
{
    if (size > 0) text_append(ctx, data, (size_t)size);
}

static int write_plain(const char *path, const void *data, size_t n, Error *e)
{
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(e, "%s: cannot create: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, n, f);
    int bad = fclose(f) != 0 || w != n;
    return bad ? err_set(e, "%s: write failed", path) : 0;
}

/* Removes NNNNNN.<ext> files left by an earlier generation (only that pattern). */
static void remove_old_outputs(const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *ent;
    size_t le = strlen(ext);
    while ((ent = readdir(d)) != NULL) {
        const char *n = ent->d_name;
        int ours = strlen(n) == 6 + le;
        for (int i = 0; i < 6 && ours; i++) ours = n[i] >= '0' && n[i] <= '9';
        if (!ours || strcmp(n + 6, ext)) continue;
        char *p = fs_join(dir, n);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
}

typedef struct {
    int width, height, n_objects;
    ShapeObject objects[SHAPES_MAX_OBJECTS];
} ImageMeta;

static const char *SPLIT_DIRS[2] = {"train", "val"};

static int write_split(const char *dir, int split, int n, int first_id, const ShapesOptions *opt, ShapesSummary *sum,
                       Error *e)
{
    char sub[64];
    snprintf(sub, sizeof sub, "images/%s", SPLIT_DIRS[split]);
    char *img_dir = fs_join(dir, sub);
    snprintf(sub, sizeof sub, "labels/%s", SPLIT_DIRS[split]);
    char *lbl_dir = fs_join(dir, sub);
    snprintf(sub, sizeof sub, "annotations/instances_%s.json", SPLIT_DIRS[split]);
    char *json_path = fs_join(dir, sub);
    ImageMeta *meta = calloc(n ? (size_t)n : 1, sizeof *meta);
    int rc = -1;
    if (!img_dir || !lbl_dir || !json_path || !meta) {
        err_set(e, "shapes: out of memory");
        goto done;
    }
    if (fs_mkdirs(img_dir, e) || (opt->write_txt_labels && fs_mkdirs(lbl_dir, e))) goto done;
    remove_old_outputs(img_dir, ".jpg");
    remove_old_outputs(lbl_dir, ".txt");
    int quality = opt->jpeg_quality > 0 ? opt->jpeg_quality : 90;
    int failed = 0;
    Error first = {{0}};
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < n; i++) {
        Error err = {{0}};
        ShapesImage im;
        char name[32];
        Text jpg = {0}, txt = {0};
        int bad = shapes_render(opt->seed, split, i, opt->img_size, &im, &err);
        if (!bad) {
            if (!stbi_write_jpg_to_func(jpeg_sink, &jpg, im.width, im.height, 3, im.rgb, quality) || jpg.oom)
                bad = err_set(&err, "shapes: JPEG encoding failed for image %d", i);
        }
        if (!bad) {
            snprintf(name, sizeof name, "%06d.jpg", i);
            char *p = fs_join(img_dir, name);
            bad = p ? write_plain(p, jpg.data, jpg.n, &err) : err_set(&err, "shapes: out of memory");
            free(p);
        }
        if (!bad && opt->write_txt_labels && im.n_objects) {
            /* JSON2YOLO's conversion of the very numbers the JSON holds */
            for (int k = 0; k < im.n_objects; k++) {
                const ShapeObject *o = &im.objects[k];
                text_printf(&txt, "%d %g %g %g %g\n", o->cls, (o->x + o->w / 2) / im.width,
                            (o->y + o->h / 2) / im.height, o->w / im.width, o->h / im.height);
            }
            snprintf(name, sizeof name, "%06d.txt", i);
            char *p = fs_join(lbl_dir, name);
            bad = (p && !txt.oom) ? write_plain(p, txt.data, txt.n, &err) : err_set(&err, "shapes: out of memory");
            free(p);
        }
        if (!bad) {
            meta[i].width = im.width;
            meta[i].height = im.height;
            meta[i].n_objects = im.n_objects;
            memcpy(meta[i].objects, im.objects, sizeof im.objects);
        }
        shapes_image_free(&im);
        free(jpg.data);
        free(txt.data);
        if (bad) {
#pragma omp critical(shapes_error)
            {
                if (!failed) first = err;
                failed = 1;
            }
        }
    }
    if (failed) {
        *e = first;
        goto done;
    }

    Text js = {0};
    text_printf(&js, "{\n\"info\": {\"description\": \"yolov5c synthetic shapes\", \"version\": \"1\", \"split\": \"%s\", "
                     "\"seed\": %llu, \"img_size\": %d},\n\"licenses\": [],\n\"images\": [",
                SPLIT_DIRS[split], (unsigned long long)opt->seed, opt->img_size);
    for (int i = 0; i < n; i++)
        text_printf(&js, "%s\n{\"id\": %d, \"file_name\": \"%06d.jpg\", \"width\": %d, \"height\": %d}", i ? "," : "",
                    first_id + i, i, meta[i].width, meta[i].height);
    text_printf(&js, "\n],\n\"annotations\": [");
    int ann_id = 1;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < meta[i].n_objects; k++) {
            const ShapeObject *o = &meta[i].objects[k];
            text_printf(&js,
                        "%s\n{\"id\": %d, \"image_id\": %d, \"category_id\": %d, \"bbox\": [%.2f, %.2f, %.2f, %.2f], "
                        "\"area\": %.2f, \"iscrowd\": 0, \"segmentation\": [[",
                        ann_id > 1 ? "," : "", ann_id, first_id + i, o->cls + 1, o->x, o->y, o->w, o->h, o->area);
            for (int v = 0; v < o->n_poly; v++)
                text_printf(&js, "%s%.2f, %.2f", v ? ", " : "", o->poly[2 * v], o->poly[2 * v + 1]);
            text_printf(&js, "]]}");
            ann_id++;
            sum->objects++;
        }
        if (!meta[i].n_objects) sum->backgrounds++;
        sum->images++;
    }
    text_printf(&js, "\n],\n\"categories\": [");
    for (int c = 0; c < SHAPES_NUM_CLASSES; c++)
        text_printf(&js, "%s\n{\"id\": %d, \"name\": \"%s\", \"supercategory\": \"shape\"}", c ? "," : "", c + 1,
                    SHAPES_CLASS_NAMES[c]);
    text_printf(&js, "\n]\n}\n");
    if (js.oom) err_set(e, "shapes: out of memory writing %s", json_path);
    else rc = fs_write_atomic(json_path, js.data, js.n, e);
    free(js.data);
done:
    free(img_dir);
    free(lbl_dir);
    free(json_path);
    free(meta);
    return rc;
}

int shapes_generate(const char *dir, const ShapesOptions *opt, ShapesSummary *summary, Error *e)
{
    ShapesSummary sum = {0, 0, 0};
    if (summary) *summary = sum;
    if (opt->n_train < 0 || opt->n_val < 0 || opt->n_train + opt->n_val < 1 || opt->n_train > 10000000 ||
        opt->n_val > 10000000)
        return err_set(e, "shapes: image counts must be >= 0 with at least one image (got train %d, val %d)",
                       opt->n_train, opt->n_val);
    if (opt->img_size < 32 || opt->img_size > 8192)
        return err_set(e, "shapes: image size %d out of range 32..8192", opt->img_size);
    if (opt->jpeg_quality < 0 || opt->jpeg_quality > 100)
        return err_set(e, "shapes: JPEG quality %d out of range 1..100", opt->jpeg_quality);
    char *ann_dir = fs_join(dir, "annotations");
    if (!ann_dir) return err_set(e, "shapes: out of memory");
    int rc = fs_mkdirs(ann_dir, e);
    free(ann_dir);
    if (rc) return -1;
    if (write_split(dir, 0, opt->n_train, 1, opt, &sum, e)) return -1;
    if (write_split(dir, 1, opt->n_val, opt->n_train + 1, opt, &sum, e)) return -1;

    char *root = fs_resolve(dir);
    char *yaml = fs_join(dir, "shapes.yaml");
    Text y = {0};
    rc = -1;
    if (root && yaml) {
        text_printf(&y,
                    "# Built-in shapes dataset, written by `yolov5c dataset --generate-shapes` (seed %llu).\n"
                    "path: %s\n"
                    "train: images/train\n"
                    "val: images/val\n"
                    "train_annotations: annotations/instances_train.json\n"
                    "val_annotations: annotations/instances_val.json\n"
                    "nc: %d\n"
                    "names: [",
                    (unsigned long long)opt->seed, root, SHAPES_NUM_CLASSES);
        for (int c = 0; c < SHAPES_NUM_CLASSES; c++) text_printf(&y, "%s%s", c ? ", " : "", SHAPES_CLASS_NAMES[c]);
        text_printf(&y, "]\n");
        rc = y.oom ? err_set(e, "shapes: out of memory") : fs_write_atomic(yaml, y.data, y.n, e);
    } else {
        err_set(e, "shapes: out of memory");
    }
    free(y.data);
    free(root);
    free(yaml);
    if (!rc && summary) *summary = sum;
    return rc;
}
