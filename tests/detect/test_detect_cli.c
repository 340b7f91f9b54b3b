/* `yolov5c detect` end to end on the fixture model (in-process through
 * detect_cli_main): the per-image console lines, annotated images in the
 * input's format, --save-txt rows (detect.py order: lowest score first),
 * --nosave, --classes, an unreadable image in the folder (reported, the
 * others still processed, exit status 1), and usage / weights errors. */
#include "test.h"

#include <sys/stat.h>

#include <stb/stb_image_write.h>

#include "data/image.h"
#include "detect/detect.h"
#include "detect/detect_annotate.h"
#include "detect/detect_cli.h"
#include "draw/draw.h"
#include "util/capture.h"
#include "val/val_fixture.h"

static char tmp[256], images[320];

static void setup(void)
{
    if (tmp[0]) return;
    snprintf(tmp, sizeof tmp, "/tmp/yv5_detectcli_XXXXXX");
    if (!mkdtemp(tmp)) {
        tmp[0] = 0;
        return;
    }
    char data[300];
    snprintf(data, sizeof data, "%s/data", tmp);
    if (copy_fixture_images(VAL_FIXTURE_DIR, data, 3) != 0) return;
    snprintf(images, sizeof images, "%s/images", data);
    /* a PNG copy of the first image, an unreadable "JPEG" and a non-image */
    char path[400];
    ImageU8 im;
    Error e;
    snprintf(path, sizeof path, "%s/000000.jpg", images);
    if (image_load(path, &im, NULL, &e) == 0) {
        snprintf(path, sizeof path, "%s/png_copy.png", images);
        stbi_write_png(path, im.width, im.height, 3, im.pixels, im.width * 3);
        image_free(&im);
    }
    snprintf(path, sizeof path, "%s/broken.jpg", images);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("this is not a JPEG", f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/notes.txt", images);
    f = fopen(path, "w");
    if (f) fclose(f);
}

static int file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)st.st_size : -1;
}

static void usage_and_input_errors(void)
{
    setup();
    struct {
        char *argv[16];
        int rc;
        const char *want;
    } cases[] = {
        {{"detect", "--source", "x.jpg", NULL}, 2, "--weights is required"},
        {{"detect", "--weights", "w", NULL}, 2, "--source is required"},
        {{"detect", "--weights", "w", "--source", "s", "--img", "320", "320", "320", NULL}, 2,
         "--img takes at most 2 values"},
        {{"detect", "--weights", "w", "--source", "s", "--line-thickness", "0", NULL}, 2, "out of range"},
        {{"detect", "--weights", "w", "--source", "/nonexistent/dir", NULL}, 1, "/nonexistent/dir does not exist"},
        {{"detect", "--weights", "/nonexistent/w.safetensors", "--source", images, NULL}, 1, "w.safetensors"},
        {{"detect", "--weights", VAL_FIXTURE_MODEL, "--source", images, "--classes", "1", "6", "--project", tmp,
          NULL},
         1, "--classes 6: the model has 6 classes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CliRun r = cli_run(detect_cli_main, cases[i].argv);
        CHECK(r.rc == cases[i].rc && has(r.err, cases[i].want), "case %zu: want rc %d and '%s'", i, cases[i].rc,
              cases[i].want);
        if (r.rc != cases[i].rc || !has(r.err, cases[i].want)) cli_run_dump(&r);
        cli_run_free(&r);
    }
}

static void folder_with_an_unreadable_image(void)
{
    setup();
    char *argv[] = {"detect", "--weights", VAL_FIXTURE_MODEL, "--source", images, "--img", "320", "--conf-thres",
                    "0.05", "--save-txt", "--save-conf", "--project", tmp, "--name", "run", NULL};
    CliRun r = cli_run(detect_cli_main, argv);
    /* 5 images listed (the .txt is not one), broken.jpg skipped, the rest done */
    CHECK(r.rc == 1, "exit status 1 when an image was skipped (got %d)", r.rc);
    CHECK(count_lines_matching(r.out, "^image [1-5]/5 /[^ ]+\\.(jpg|png): [0-9]+x[0-9]+ ([0-9]+ [a-z]+, )*"
                                      "(\\(no detections\\), )?[0-9.]+ms$") == 4,
          "four processed images reported");
    CHECK(count_lines_matching(r.err, "^image 4/5 /[^ ]+/broken\\.jpg: skipped: ") == 1, "broken.jpg reported");
    CHECK(has(r.err, "1 of 5 images could not be read"), "summary of skipped images");
    CHECK(count_lines_matching(r.out, "^Speed: [0-9.]+ms pre-process, [0-9.]+ms inference, [0-9.]+ms NMS "
                                      "per image at shape \\(1, 3, 320, 320\\)$") == 1,
          "speed line");
    CHECK(has(r.out, "Results saved to ") && has(r.out, "labels saved to "), "results line");
    if (r.rc != 1) cli_run_dump(&r);
    cli_run_free(&r);

    char path[600];
    const char *outputs[] = {"000000.jpg", "000001.jpg", "000002.jpg", "png_copy.png"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/run/%s", tmp, outputs[i]);
        ImageU8 im;
        Error e;
        int ok = image_load(path, &im, NULL, &e) == 0;
        CHECK(ok && im.width > 0, "annotated %s", outputs[i]);
        if (ok) image_free(&im);
    }
    snprintf(path, sizeof path, "%s/run/broken.jpg", tmp);
    CHECK(file_size(path) < 0, "nothing written for the broken image");
    /* the PNG input's copy is a PNG */
    snprintf(path, sizeof path, "%s/run/png_copy.png", tmp);
    FILE *f = fopen(path, "rb");
    unsigned char sig[4] = {0};
    if (f) {
        CHECK(fread(sig, 1, 4, f) == 4, "read");
        fclose(f);
    }
    CHECK(sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G', "PNG signature");

    /* txt rows: class cx cy w h conf, lowest confidence first */
    int files = 0, rows = 0, bad = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/run/labels/%06d.txt", tmp, i);
        f = fopen(path, "r");
        if (!f) continue;
        files++;
        char line[256];
        double prev = 0.0;
        while (fgets(line, sizeof line, f)) {
            int c;
            double v[5];
            char extra;
            if (sscanf(line, "%d %lf %lf %lf %lf %lf %c", &c, &v[0], &v[1], &v[2], &v[3], &v[4], &extra) != 6 ||
                c < 0 || c > 5 || v[4] < prev || v[4] <= 0.05) {
                bad++;
                continue;
            }
            for (int k = 0; k < 4; k++) bad += v[k] < 0 || v[k] > 1;
            prev = v[4];
            rows++;
        }
        fclose(f);
    }
    CHECK(files > 0 && rows > 0 && bad == 0, "%d files, %d rows, %d malformed", files, rows, bad);
}

static void nosave_and_class_filter(void)
{
    setup();
    char source[400];
    snprintf(source, sizeof source, "%s/0*.jpg", images);
    char *argv[] = {"detect", "--weights", VAL_FIXTURE_MODEL, "--source", source, "--img", "256", "--conf-thres",
                    "0.01", "--classes", "0", "3", "--nosave", "--save-txt", "--project", tmp, "--name", "filtered",
                    NULL};
    CliRun r = cli_run(detect_cli_main, argv);
    CHECK(r.rc == 0, "glob of three readable images");
    CHECK(count_lines_matching(r.out, "^image [1-3]/3 ") == 3, "three lines");
    CHECK(count_lines_matching(r.out, "^image .*[0-9] (square|triangle|cross|ring)s?, ") == 0,
          "only classes 0 and 3");
    if (r.rc != 0) cli_run_dump(&r);
    cli_run_free(&r);
    char path[600];
    snprintf(path, sizeof path, "%s/filtered/000000.jpg", tmp);
    CHECK(file_size(path) < 0, "--nosave writes no image");
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/filtered/labels/%06d.txt", tmp, i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char line[256];
        while (fgets(line, sizeof line, f)) {
            int c = atoi(line);
            bad += c != 0 && c != 3;
            double v[4];
            char extra;
            int fields = sscanf(line, "%*d %lf %lf %lf %lf %c", &v[0], &v[1], &v[2], &v[3], &extra);
            bad += fields != 4; /* no confidence without --save-conf */
        }
        fclose(f);
    }
    CHECK(bad == 0, "%d rows of other classes or with a confidence", bad);
}

static void annotation_labels(void)
{
    const char *names[] = {"circle", "square"};
    AnnotateOptions o = {3, 0, 0, names, 2};
    char buf[64];
    detect_label_text(&o, 1, 0.876f, buf, sizeof buf);
    CHECK(!strcmp(buf, "square 0.88"), "%s", buf);
    o.hide_conf = 1;
    detect_label_text(&o, 0, 0.5f, buf, sizeof buf);
    CHECK(!strcmp(buf, "circle"), "%s", buf);
    o.hide_labels = 1;
    detect_label_text(&o, 0, 0.5f, buf, sizeof buf);
    CHECK(!strcmp(buf, ""), "%s", buf);
    o.hide_labels = o.hide_conf = 0;
    detect_label_text(&o, 7, 0.5f, buf, sizeof buf);
    CHECK(!strcmp(buf, "7 0.50"), "unknown class: %s", buf);

    float det[4 * 6] = {0, 0, 5, 5, 0.9f, 3, 0, 0, 5, 5, 0.8f, 1, 0, 0, 5, 5, 0.7f, 3, 0, 0, 5, 5, 0.6f, 0};
    const char *six[] = {"circle", "square", "triangle", "star", "cross", "ring"};
    detect_counts_text(det, 4, six, 6, buf, sizeof buf);
    CHECK(!strcmp(buf, "1 circle, 1 square, 2 stars, "), "%s", buf);
    detect_counts_text(det, 0, six, 6, buf, sizeof buf);
    CHECK(!strcmp(buf, ""), "%s", buf);

    char *p = detect_output_image_path("/out", "/in/a.b/photo.JPEG");
    CHECK(p && !strcmp(p, "/out/photo.JPEG"), "%s", p ? p : "-");
    free(p);
    p = detect_output_image_path("/out", "/in/scan.tif");
    CHECK(p && !strcmp(p, "/out/scan.tif.jpg"), "%s", p ? p : "-");
    free(p);

    /* boxes are drawn in the class colour */
    ImageU8 im = {40, 30, 3, calloc(40 * 30 * 3, 1)};
    float one[6] = {5, 5, 30, 25, 0.9f, 2};
    AnnotateOptions ao = {2, 1, 0, NULL, 0};
    detect_annotate(&im, one, 1, &ao);
    DrawColor c = draw_class_color(2);
    const uint8_t *px = im.pixels + (size_t)(15 * 40 + 5) * 3; /* left edge, mid height */
    CHECK(px[0] == c.r && px[1] == c.g && px[2] == c.b, "outline colour");
    free(im.pixels);
}

static void cleanup(void)
{
    CHECK(tmp[0], "temp dir");
    if (tmp[0]) vfx_rm_rf(tmp);
}

TEST_MAIN(TEST_ENTRY(usage_and_input_errors), TEST_ENTRY(folder_with_an_unreadable_image),
          TEST_ENTRY(nosave_and_class_filter), TEST_ENTRY(annotation_labels), TEST_ENTRY(cleanup))
