/* Hyperparameter files: the shipped hyps/ load with YOLOv5's values, our keys
 * are read, every kind of bad value is rejected with a message naming the
 * file, line, key and value, unknown keys warn with the nearest known key,
 * written files read back identically, and YOLOv5's rescaling is exact. */
#include "test.h"
#include "hyp/hyp.h"

#define FIX "tests/fixtures/hyp/"

/* Every numeric field in declaration order, for whole-struct comparisons. */
static void numbers(const Hyp *h, double out[29])
{
    const double v[29] = {h->lr0, h->lrf, h->momentum, h->weight_decay, h->warmup_epochs, h->warmup_momentum,
                          h->warmup_bias_lr, h->box, h->cls, h->cls_pw, h->obj, h->obj_pw, h->iou_t,
                          h->anchor_t, h->fl_gamma, h->label_smoothing, h->hsv_h, h->hsv_s, h->hsv_v,
                          h->degrees, h->translate, h->scale, h->shear, h->perspective, h->flipud,
                          h->fliplr, h->mosaic, h->mixup, h->copy_paste};
    memcpy(out, v, sizeof v);
}

/* YOLOv5 v7.0 data/hyps values (spec section 4.0), in numbers() order. */
static const double LOW[29] = {0.01, 0.01, 0.937, 0.0005, 3.0, 0.8, 0.1, 0.05, 0.5, 1.0, 1.0, 1.0, 0.20, 4.0, 0.0,
                               0.0, 0.015, 0.7, 0.4, 0.0, 0.1, 0.5, 0.0, 0.0, 0.0, 0.5, 1.0, 0.0, 0.0};
static const double MED[29] = {0.01, 0.1, 0.937, 0.0005, 3.0, 0.8, 0.1, 0.05, 0.3, 1.0, 0.7, 1.0, 0.20, 4.0, 0.0,
                               0.0, 0.015, 0.7, 0.4, 0.0, 0.1, 0.9, 0.0, 0.0, 0.0, 0.5, 1.0, 0.1, 0.0};
static const double HIGH[29] = {0.01, 0.1, 0.937, 0.0005, 3.0, 0.8, 0.1, 0.05, 0.3, 1.0, 0.7, 1.0, 0.20, 4.0, 0.0,
                                0.0, 0.015, 0.7, 0.4, 0.0, 0.1, 0.9, 0.0, 0.0, 0.0, 0.5, 1.0, 0.1, 0.1};
static const double NOAUG[29] = {0.01, 0.1, 0.937, 0.0005, 3.0, 0.8, 0.1, 0.05, 0.3, 1.0, 0.7, 1.0, 0.20, 4.0, 0.0,
                                 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};

static void check_values(const char *path, const double *want)
{
    Hyp h;
    Error e = {{0}};
    FILE *warn = tmpfile();
    CHECK(hyp_load(&h, path, warn, &e) == 0, "%s", e.msg);
    CHECK(warn && ftell(warn) == 0, "%s printed warnings", path);
    if (warn) fclose(warn);
    double got[29];
    numbers(&h, got);
    for (int i = 0; i < 29; i++) CHECK(got[i] == want[i], "%s field %d: got %.17g want %.17g", path, i, got[i], want[i]);
    CHECK(h.iou_loss == IOU_LOSS_CIOU && h.balance_count == 0 && h.anchors == 0, "%s: our keys not default", path);
    CHECK(strcmp(h.source, path) == 0, "source %s", h.source);
}

static void shipped_files_load(void)
{
    check_values("hyps/hyp.scratch-low.yaml", LOW);
    check_values("hyps/hyp.scratch-med.yaml", MED);
    check_values("hyps/hyp.scratch-high.yaml", HIGH);
    check_values("hyps/hyp.no-augmentation.yaml", NOAUG);
}

static void defaults_are_scratch_low(void)
{
    Hyp h;
    hyp_default(&h);
    double got[29];
    numbers(&h, got);
    CHECK(memcmp(got, LOW, sizeof got) == 0, "defaults differ from hyp.scratch-low");
    Error e = {{0}};
    CHECK(hyp_validate(&h, &e) == 0, "%s", e.msg);
    double bal[5];
    CHECK(hyp_balance(&h, 3, bal, &e) == 0 && bal[0] == 4.0 && bal[1] == 1.0 && bal[2] == 0.4, "3 levels");
    CHECK(hyp_balance(&h, 5, bal, &e) == 0 && bal[2] == 0.25 && bal[3] == 0.06 && bal[4] == 0.02, "5 levels");
    CHECK(hyp_balance(&h, 1, bal, &e) == 0 && bal[0] == 4.0, "1 level");
}

static void our_keys_load(void)
{
    Hyp h;
    Error e = {{0}};
    CHECK(hyp_load(&h, FIX "ours.yaml", NULL, &e) == 0, "%s", e.msg);
    CHECK(h.lr0 == 0.02 && h.fl_gamma == 1.5 && h.anchors == 4 && h.label_smoothing == 0.1, "values");
    CHECK(h.iou_loss == IOU_LOSS_GIOU, "iou_loss %s", iou_loss_name(h.iou_loss));
    CHECK(h.balance_count == 4 && h.balance[0] == 2.0 && h.balance[3] == 0.25, "balance");
    CHECK(h.box == 0.05 && h.mosaic == 1.0, "unlisted keys keep defaults");
    double bal[4];
    CHECK(hyp_balance(&h, 4, bal, &e) == 0 && bal[2] == 0.5, "%s", e.msg);
}

/* Loads path, expects failure, and checks the message holds every fragment. */
static void expect_error(const char *name, const char *f1, const char *f2, const char *f3)
{
    char path[128];
    snprintf(path, sizeof path, FIX "%s", name);
    Hyp h;
    Error e = {{0}};
    int rc = hyp_load(&h, path, NULL, &e);
    CHECK(rc == -1, "%s was accepted", name);
    const char *frags[4] = {path, f1, f2, f3};
    for (int i = 0; i < 4; i++)
        CHECK(!frags[i] || strstr(e.msg, frags[i]), "%s: message lacks \"%s\": %s", name, frags[i], e.msg);
    /* A failed load leaves the defaults. */
    CHECK(h.lr0 == 0.01 && h.box == 0.05 && h.balance_count == 0, "%s: values changed after failure", name);
}

static void bad_values_are_rejected(void)
{
    expect_error("bad_type.yaml", ":2:", "key 'box'", "expected a number, got 'abc'");
    expect_error("quoted_number.yaml", "key 'lr0'", "the quoted string \"0.01\"", NULL);
    expect_error("negative_gain.yaml", ":2:", "key 'obj'", "value -1 is out of range (must be >= 0)");
    expect_error("anchor_t.yaml", "key 'anchor_t'", "value 1 is out of range", "must be > 1");
    expect_error("probability.yaml", "key 'fliplr'", "value 1.5 is out of range", "must be in [0, 1]");
    expect_error("probability_negative.yaml", "key 'mixup'", "value -0.1 is out of range", "[0, 1]");
    expect_error("balance_scalar.yaml", "key 'balance'", "expected a list", "got '4.0'");
    expect_error("balance_entry.yaml", "key 'balance'", "entry 1", "got 'one'");
    expect_error("balance_long.yaml", "key 'balance'", "9 values", "1 to 8");
    expect_error("balance_negative.yaml", "key 'balance'", "value -1 (entry 1)", "must be >= 0");
    expect_error("iou_loss.yaml", "key 'iou_loss'", "ciou, diou, giou, iou", "got 'eiou'");
    expect_error("duplicate.yaml", ":3:", "key 'box' given twice", "line 1");
    expect_error("syntax.yaml", "YAML syntax error", NULL, NULL);
    expect_error("list_for_number.yaml", "key 'lr0'", "expected a number, got a list", NULL);
    expect_error("anchors_fraction.yaml", "key 'anchors'", "whole number", "'2.5'");
    expect_error("infinite.yaml", "key 'weight_decay'", "'.inf'", NULL);
    expect_error("empty.yaml", "empty file", NULL, NULL);
    expect_error("not_mapping.yaml", "expected a mapping", NULL, NULL);
    expect_error("no_such_file.yaml", "cannot open", NULL, NULL);
}

/* A balance of the wrong length is an error once the level count is known. */
static void balance_length_is_checked_against_levels(void)
{
    Hyp h;
    Error e = {{0}};
    CHECK(hyp_load(&h, FIX "balance_short.yaml", NULL, &e) == 0, "%s", e.msg);
    double bal[HYP_MAX_LEVELS];
    CHECK(hyp_balance(&h, 3, bal, &e) == -1, "2 values accepted for 3 levels");
    CHECK(strstr(e.msg, FIX "balance_short.yaml") && strstr(e.msg, "key 'balance'") && strstr(e.msg, "[4, 1]") &&
              strstr(e.msg, "3 detection levels"),
          "message: %s", e.msg);
    CHECK(hyp_balance(&h, 2, bal, &e) == 0 && bal[0] == 4.0 && bal[1] == 1.0, "%s", e.msg);
    Hyp d;
    hyp_default(&d);
    CHECK(hyp_balance(&d, 6, bal, &e) == -1 && strstr(e.msg, "6 detection levels"), "%s", e.msg);
}

static void unknown_keys_warn_with_nearest(void)
{
    Hyp h;
    Error e = {{0}};
    FILE *warn = tmpfile();
    CHECK(hyp_load(&h, FIX "unknown_key.yaml", warn, &e) == 0, "%s", e.msg);
    char text[1024] = {0};
    if (warn) {
        rewind(warn);
        size_t n = fread(text, 1, sizeof text - 1, warn);
        text[n] = 0;
        fclose(warn);
    }
    CHECK(strstr(text, FIX "unknown_key.yaml:2: unknown key 'lr_0'") && strstr(text, "nearest known key: 'lr0'"),
          "warnings: %s", text);
    CHECK(strstr(text, ":3: unknown key 'warmup_epoch'") && strstr(text, "'warmup_epochs'"), "warnings: %s", text);
    CHECK(h.lr0 == 0.02 && h.momentum == 0.9, "known keys still read");
}

static void written_file_reads_back(void)
{
    Hyp h;
    Error e = {{0}};
    CHECK(hyp_load(&h, FIX "ours.yaml", NULL, &e) == 0, "%s", e.msg);
    h.weight_decay = 1.0 / 3.0; /* needs all 17 digits */
    h.cls *= 3.0 / 80;
    char path[] = "/tmp/yv5_hyp_test_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f && hyp_write(&h, f, &e) == 0, "%s", e.msg);
    if (f) fclose(f);
    Hyp back;
    CHECK(hyp_load(&back, path, NULL, &e) == 0, "%s", e.msg);
    double a[29], b[29];
    numbers(&h, a);
    numbers(&back, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "numbers differ after a round trip");
    CHECK(back.iou_loss == h.iou_loss && back.anchors == h.anchors && back.balance_count == h.balance_count &&
              memcmp(back.balance, h.balance, sizeof h.balance) == 0,
          "our keys differ after a round trip");
    remove(path);
}

/* train.py: box *= 3/nl; cls *= nc/80*3/nl; obj *= (imgsz/640)**2*3/nl.
 * Expected values computed with Python floats. */
static void rescale_matches_python(void)
{
    Hyp h;
    hyp_default(&h);
    hyp_rescale(&h, 3, 80, 640);
    CHECK(h.box == 0.05 && h.cls == 0.5 && h.obj == 1.0, "COCO at 640 is unchanged");
    hyp_default(&h);
    hyp_rescale(&h, 3, 1, 640);
    CHECK(h.cls == 0.006250000000000001, "nc 1: cls %.17g", h.cls);
    hyp_default(&h);
    hyp_rescale(&h, 4, 20, 1280);
    CHECK(h.box == 0.037500000000000006, "box %.17g", h.box);
    CHECK(h.cls == 0.09375, "cls %.17g", h.cls);
    CHECK(h.obj == 3.0, "obj %.17g", h.obj);
    hyp_default(&h);
    h.obj = 0.7;
    h.cls = 0.3;
    hyp_rescale(&h, 3, 3, 416);
    CHECK(h.cls == 0.01125, "cls %.17g", h.cls);
    CHECK(h.obj == 0.29575, "obj %.17g", h.obj);
    hyp_default(&h);
    hyp_rescale(&h, 2, 7, 320);
    CHECK(h.box == 0.07500000000000001, "box %.17g", h.box);
    CHECK(h.cls == 0.06562499999999999, "cls %.17g", h.cls);
    CHECK(h.obj == 0.375, "obj %.17g", h.obj);
}

static void validate_catches_changes_by_hand(void)
{
    Hyp h;
    hyp_default(&h);
    Error e = {{0}};
    h.mosaic = 2;
    CHECK(hyp_validate(&h, &e) == -1 && strstr(e.msg, "defaults: key 'mosaic': value 2"), "%s", e.msg);
    hyp_default(&h);
    h.label_smoothing = -0.1;
    CHECK(hyp_validate(&h, &e) == -1 && strstr(e.msg, "'label_smoothing'"), "%s", e.msg);
    hyp_default(&h);
    h.momentum = 1.0;
    CHECK(hyp_validate(&h, &e) == -1 && strstr(e.msg, "must be in [0, 1)"), "%s", e.msg);
    hyp_default(&h);
    h.iou_loss = (IouLoss)7;
    CHECK(hyp_validate(&h, &e) == -1 && strstr(e.msg, "iou_loss"), "%s", e.msg);
}

TEST_MAIN(TEST_ENTRY(shipped_files_load), TEST_ENTRY(defaults_are_scratch_low), TEST_ENTRY(our_keys_load),
          TEST_ENTRY(bad_values_are_rejected), TEST_ENTRY(balance_length_is_checked_against_levels),
          TEST_ENTRY(unknown_keys_warn_with_nearest), TEST_ENTRY(written_file_reads_back),
          TEST_ENTRY(rescale_matches_python), TEST_ENTRY(validate_catches_changes_by_hand))
