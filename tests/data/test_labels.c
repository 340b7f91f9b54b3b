/* YOLO txt labels: the images/ -> labels/ rule, parsing (boxes, polygons),
 * YOLOv5's verification rules and duplicate removal. Expected rows for the
 * duplicate and polygon cases were produced by v7.0's verify_image_label on
 * the same files (float32 values printed with %.9g). */
#include "data/labels.h"
#include "util/temp_dataset.h"
#include "test.h"

static char *g_dir;

static char *tmp_path(const char *name)
{
    if (!g_dir) g_dir = tmpdir_make("labels");
    return g_dir ? path_in(g_dir, name) : NULL;
}

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir) rm_rf(g_dir);
    free(g_dir);
}

/* Writes text to a label file and reads it with nc classes: returns the
 * read status (or -2 when verification fails); e holds the message. */
static int read_text(const char *text, int nc, LabelBuf *b, size_t *dups, Error *e)
{
    char *p = tmp_path("case.txt");
    write_text(p, text);
    int st = yolo_read_labels(p, b, e);
    free(p);
    if (st == YOLO_LABELS_FOUND && labels_verify(b, 0, nc, dups, e)) return -2;
    return st;
}

static void label_path_rule(void)
{
    struct {
        const char *img, *lbl;
    } cases[] = {
        {"/d/images/train2017/000000000009.jpg", "/d/labels/train2017/000000000009.txt"},
        {"/d/images/x/images/a.png", "/d/images/x/labels/a.txt"}, /* the last /images/ */
        {"/d/pics/a.b.JPG", "/d/pics/a.b.txt"},                   /* no /images/: next to the image */
        {"/d/images.v2/img/a", "/d/images.txt"},                  /* rsplit('.') of the whole path, as v7.0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = yolo_label_path(cases[i].img);
        CHECK(got && !strcmp(got, cases[i].lbl), "%s -> %s (want %s)", cases[i].img, got, cases[i].lbl);
        free(got);
    }
}

static void boxes_and_duplicates(void)
{
    LabelBuf b = {0};
    size_t dups = 9;
    Error e = {{0}};
    /* no duplicates: file order kept */
    CHECK(read_text("1 0.5 0.5 0.2 0.2\n0 0.3 0.3 0.1 0.1\n", 3, &b, &dups, &e) == YOLO_LABELS_FOUND, "%s", e.msg);
    CHECK(b.n == 2 && dups == 0 && b.rows[0] == 1.0f && b.rows[5] == 0.0f, "n %zu dups %zu", b.n, dups);
    CHECK(labelbuf_points(&b, 0) == 0, "box rows have no polygon");
    labelbuf_free(&b);
    /* duplicates: removed, survivors sorted as numpy.unique sorts them */
    CHECK(read_text("1 0.5 0.5 0.2 0.2\n0 0.3 0.3 0.1 0.1\n1 0.5 0.5 0.2 0.2\n\n0 0.3 0.3 0.1 0.1\r\n2 0.1 0.9 0.05 "
                    "0.05\n",
                    3, &b, &dups, &e) == YOLO_LABELS_FOUND,
          "%s", e.msg);
    const float want[3][5] = {{0, 0.300000012f, 0.300000012f, 0.100000001f, 0.100000001f},
                              {1, 0.5f, 0.5f, 0.200000003f, 0.200000003f},
                              {2, 0.100000001f, 0.899999976f, 0.0500000007f, 0.0500000007f}};
    CHECK(b.n == 3 && dups == 2, "n %zu dups %zu", b.n, dups);
    if (b.n == 3) CHECK_ARRAYS_CLOSE("deduplicated rows", b.rows, &want[0][0], 15, 0, 0);
    labelbuf_free(&b);
}

static void polygons(void)
{
    LabelBuf b = {0};
    size_t dups;
    Error e = {{0}};
    CHECK(read_text("2 0.1 0.1 0.5 0.1 0.5 0.6 0.1 0.6\n1 0.2 0.3 0.9 0.35 0.8 0.9\n", 3, &b, &dups, &e) ==
              YOLO_LABELS_FOUND,
          "%s", e.msg);
    const float want[2][5] = {{2, 0.300000012f, 0.350000024f, 0.400000006f, 0.5f},
                              {1, 0.550000012f, 0.600000024f, 0.699999988f, 0.599999964f}};
    CHECK(b.n == 2, "n %zu", b.n);
    if (b.n == 2) {
        CHECK_ARRAYS_CLOSE("polygon boxes (v7.0 segments2boxes)", b.rows, &want[0][0], 10, 0, 0);
        CHECK(labelbuf_points(&b, 0) == 4 && labelbuf_points(&b, 1) == 3, "points %zu %zu", labelbuf_points(&b, 0),
              labelbuf_points(&b, 1));
        CHECK(b.poly_xy[2 * b.poly_start[1] + 2] == 0.9f, "second polygon's x2");
    }
    labelbuf_free(&b);
    /* duplicate polygons: removed with their points, sorted order */
    CHECK(read_text("2 0.1 0.1 0.5 0.1 0.5 0.6 0.1 0.6\n2 0.1 0.1 0.5 0.1 0.5 0.6 0.1 0.6\n0 0.4 0.4 0.2 0.2 0.4 "
                    "0.4\n",
                    3, &b, &dups, &e) == YOLO_LABELS_FOUND,
          "%s", e.msg);
    const float want2[2][5] = {{0, 0.300000012f, 0.300000012f, 0.200000003f, 0.200000003f},
                               {2, 0.300000012f, 0.350000024f, 0.400000006f, 0.5f}};
    CHECK(b.n == 2 && dups == 1, "n %zu dups %zu", b.n, dups);
    if (b.n == 2) {
        CHECK_ARRAYS_CLOSE("deduplicated polygon boxes", b.rows, &want2[0][0], 10, 0, 0);
        CHECK(labelbuf_points(&b, 0) == 3 && labelbuf_points(&b, 1) == 4, "points follow their rows");
    }
    labelbuf_free(&b);
    /* a polygon file may hold plain box rows too (v7.0 would misread them as 2-point polygons) */
    CHECK(read_text("0 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.3 0.1 0.2 0.4\n", 3, &b, &dups, &e) == YOLO_LABELS_FOUND, "%s",
          e.msg);
    CHECK(b.n == 2 && b.rows[3] == 0.2f && labelbuf_points(&b, 0) == 0 && labelbuf_points(&b, 1) == 3, "mixed rows");
    labelbuf_free(&b);
}

static void malformed_files(void)
{
    struct {
        const char *text, *msg;
    } cases[] = {
        {"0 0.5 0.5 0.2 0.2 0.3\n", "line 1 has 6 fields; labels require 5 columns"},
        {"0 0.5 0.5 0.2\n", "line 1 has 4 fields"},
        {"0 0.5 0.5 0.2 0.2\n1 0.5 0.5\n", "line 2 has 3 fields"},
        {"0 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.2 0.1 0.2 0.2 0.3\n", "line 2: polygon has an odd number of coordinates"},
        {"0 0.5 abc 0.2 0.2\n", "line 1: 'abc' is not a number"},
        {"0 -0.5 0.5 0.2 0.2\n", "cx -0.5 is negative"},
        {"0 0.5 0.5 1.2 0.2\n", "w 1.2 is outside [0, 1]"},
        {"0 0.5 nan 0.2 0.2\n", "cy nan is negative or not a number"},
        {"1.5 0.5 0.5 0.2 0.2\n", "class 1.5 is not an integer"},
        {"3 0.5 0.5 0.2 0.2\n", "class 3 exceeds the dataset's 3 classes"},
        {"0 0.1 0.1 0.2 nan 0.3 0.3\n", "not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        LabelBuf b = {0};
        size_t dups;
        Error e = {{0}};
        int st = read_text(cases[i].text, 3, &b, &dups, &e);
        CHECK(st < 0 && strstr(e.msg, cases[i].msg), "case %zu: status %d, message '%s' (want '%s')", i, st, e.msg,
              cases[i].msg);
        labelbuf_free(&b);
    }
    /* a failed read leaves the buffer as it was */
    LabelBuf b = {0};
    float row[5] = {0, 0.5f, 0.5f, 0.1f, 0.1f};
    labelbuf_push(&b, row, NULL, 0);
    char *p = tmp_path("bad.txt");
    write_text(p, "0 0.5 0.5 0.2 0.2\n0 0.5\n");
    Error e = {{0}};
    CHECK(yolo_read_labels(p, &b, &e) == -1 && b.n == 1, "n %zu", b.n);
    free(p);
    labelbuf_free(&b);
}

static void missing_and_empty(void)
{
    LabelBuf b = {0};
    Error e = {{0}};
    char *p = tmp_path("does_not_exist.txt");
    CHECK(yolo_read_labels(p, &b, &e) == YOLO_LABELS_MISSING && b.n == 0, "missing file is a background");
    free(p);
    size_t dups;
    CHECK(read_text("", 3, &b, &dups, &e) == YOLO_LABELS_FOUND && b.n == 0, "empty file: %s", e.msg);
    CHECK(read_text("\n  \n\t\n", 3, &b, &dups, &e) == YOLO_LABELS_FOUND && b.n == 0, "blank lines: %s", e.msg);
    p = tmp_path("binary.txt");
    write_bytes(p, "0 0.5\0 0.5 0.1 0.1\n", 19);
    CHECK(yolo_read_labels(p, &b, &e) == -1 && strstr(e.msg, "NUL"), "%s", e.msg);
    free(p);
    labelbuf_free(&b);
}

static void labelbuf_ops(void)
{
    LabelBuf a = {0}, c = {0};
    float row[5] = {1, 0.5f, 0.5f, 0.2f, 0.2f};
    float xy[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    for (int i = 0; i < 40; i++) {
        row[0] = (float)(i % 3);
        CHECK(labelbuf_push(&a, row, i % 2 ? xy : NULL, i % 2 ? 3 : 0) == 0, "push %d", i);
    }
    CHECK(a.n == 40 && a.n_points == 60 && a.poly_start[40] == 60, "n %zu points %zu", a.n, a.n_points);
    CHECK(labelbuf_append(&c, &a, 10, 5) == 0 && c.n == 5 && c.n_points == 6, "append: n %zu points %zu", c.n,
          c.n_points);
    labelbuf_truncate(&a, 3);
    CHECK(a.n == 3 && a.n_points == 3, "truncate: n %zu points %zu", a.n, a.n_points);
    labelbuf_free(&a);
    labelbuf_free(&c);
    CHECK(a.rows == NULL && a.n == 0, "freed");
}

TEST_MAIN(TEST_ENTRY(label_path_rule), TEST_ENTRY(boxes_and_duplicates), TEST_ENTRY(polygons),
          TEST_ENTRY(malformed_files), TEST_ENTRY(missing_and_empty), TEST_ENTRY(labelbuf_ops))
