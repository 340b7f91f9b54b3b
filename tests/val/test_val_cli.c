/* `yolov5c val` end to end on the fixture model (in-process through
 * val_cli_main): the table and speed line in YOLOv5's layout, --save-txt,
 * --save-json (YOLO txt and COCO datasets), plots and confusion matrix, and
 * the messages for wrong usage, wrong weights and the wrong dataset. */
#include "test.h"

#include <sys/stat.h>

#include "ckpt/safetensors.h"
#include "data/shapes.h"
#include "train/checkpoint.h"
#include "val/inference_model.h"
#include "val/val_cli.h"
#include "util/capture.h"
#include "val_fixture.h"

static char tmp[256];
static const char *yaml; /* data YAML over a copy of 8 fixture images */

static void setup(void)
{
    if (yaml) return;
    snprintf(tmp, sizeof tmp, "/tmp/yv5_valcli_XXXXXX");
    if (!mkdtemp(tmp)) {
        tmp[0] = 0;
        return;
    }
    char data[300];
    snprintf(data, sizeof data, "%s/data", tmp);
    if (copy_fixture_images(VAL_FIXTURE_DIR, data, 8) != 0) return;
    static char yaml_buf[400];
    snprintf(yaml_buf, sizeof yaml_buf, "%s/data.yaml", tmp);
    FILE *f = fopen(yaml_buf, "w");
    if (!f) return;
    fprintf(f, "path: %s\ntrain: images\nval: images\nnc: 6\nnames: " VAL_FIXTURE_NAMES "\n", data);
    fclose(f);
    yaml = yaml_buf;
}

static void usage_errors(void)
{
    struct {
        char *argv[10];
        const char *want;
    } cases[] = {
        {{"val", NULL}, "--weights is required"},
        {{"val", "--weights", "w.safetensors", NULL}, "--data is required"},
        {{"val", "--weights", "w", "--data", "d", "--task", "speed", NULL}, "--task must be val, test or train"},
        {{"val", "--bogus", NULL}, "unknown option '--bogus'"},
        {{"val", "--weights", "w", "--data", "d", "--conf-thres", "2", NULL}, "--conf-thres: 2 is out of range"},
        {{"val", "--weights", "w", "--data", "d", "--batch-size", "zero", NULL}, "'zero' is not an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CliRun r = cli_run(val_cli_main, cases[i].argv);
        CHECK(r.rc == 2 && has(r.err, cases[i].want) && has(r.err, "usage: yolov5c val"), "case %zu: want '%s'", i,
              cases[i].want);
        if (r.rc != 2) cli_run_dump(&r);
        cli_run_free(&r);
    }
    char *help[] = {"val", "--help", NULL};
    CliRun r = cli_run(val_cli_main, help);
    CHECK(r.rc == 0 && has(r.out, "usage: yolov5c val") && has(r.out, "--save-json"), "help");
    cli_run_free(&r);
}

/* Writes a copy of the fixture model, without tensor `drop` and metadata
 * `drop_meta` (either may be NULL), with model_yaml edited (width 0.125 ->
 * 0.25) when `wider`. */
static int write_model_variant(const char *path, const char *drop, const char *drop_meta, int wider)
{
    SafeTensors st;
    Error e;
    if (st_read(&st, VAL_FIXTURE_MODEL, &e) != 0) return -1;
    StEntry *entries = calloc((size_t)st.count, sizeof *entries);
    StMeta *meta = calloc((size_t)st.meta_count, sizeof *meta);
    char *yaml_text = NULL;
    int n = 0;
    for (int i = 0; i < st.count; i++) {
        const StTensor *t = &st.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        entries[n].name = t->name;
        entries[n].dtype = t->dtype;
        entries[n].ndim = t->ndim;
        memcpy(entries[n].shape, t->shape, sizeof t->shape);
        entries[n].data = t->data;
        n++;
    }
    int nm = 0;
    for (int i = 0; i < st.meta_count; i++) {
        if (drop_meta && !strcmp(st.meta_keys[i], drop_meta)) continue;
        meta[nm].key = st.meta_keys[i];
        meta[nm].value = st.meta_values[i];
        if (wider && !strcmp(st.meta_keys[i], "model_yaml")) {
            yaml_text = strdup(st.meta_values[i]);
            char *w = strstr(yaml_text, "0.125");
            if (w) memcpy(w, "0.250", 5);
            meta[nm].value = yaml_text;
        }
        nm++;
    }
    int rc = st_write(path, entries, n, meta, nm, &e);
    free(yaml_text);
    free(entries);
    free(meta);
    st_free(&st);
    return rc;
}

static void wrong_weights_and_data(void)
{
    setup();
    CHECK(yaml != NULL, "setup");
    if (!yaml) return;
    char missing[400], dropped[400], wider[400], yaml3[400];
    snprintf(missing, sizeof missing, "%s/none.safetensors", tmp);
    char *a1[] = {"val", "--weights", missing, "--data", (char *)yaml, "--project", tmp, NULL};
    CliRun r = cli_run(val_cli_main, a1);
    CHECK(r.rc == 1 && has(r.err, "none.safetensors"), "missing weights named");
    if (r.rc != 1) cli_run_dump(&r);
    cli_run_free(&r);

    snprintf(dropped, sizeof dropped, "%s/dropped.safetensors", tmp);
    CHECK(write_model_variant(dropped, "model.24.m.0.bias", NULL, 0) == 0, "write variant");
    char *a2[] = {"val", "--weights", dropped, "--data", (char *)yaml, "--project", tmp, NULL};
    r = cli_run(val_cli_main, a2);
    CHECK(r.rc == 1 && has(r.err, "missing tensor 'model.24.m.0.bias'"), "missing tensor named");
    if (r.rc != 1) cli_run_dump(&r);
    cli_run_free(&r);

    snprintf(wider, sizeof wider, "%s/wider.safetensors", tmp);
    CHECK(write_model_variant(wider, NULL, NULL, 1) == 0, "write variant");
    char *a3[] = {"val", "--weights", wider, "--data", (char *)yaml, "--project", tmp, NULL};
    r = cli_run(val_cli_main, a3);
    CHECK(r.rc == 1 && has(r.err, "model.0.conv.weight") && has(r.err, "the model needs"),
          "another architecture: the mis-shaped tensor is named");
    if (r.rc != 1) cli_run_dump(&r);
    cli_run_free(&r);

    /* a dataset with another class count */
    snprintf(yaml3, sizeof yaml3, "%s/three.yaml", tmp);
    FILE *f = fopen(yaml3, "w");
    if (f) {
        fprintf(f, "path: %s/data\ntrain: images\nval: images\nnc: 3\nnames: [a, b, c]\n", tmp);
        fclose(f);
    }
    char *a4[] = {"val", "--weights", VAL_FIXTURE_MODEL, "--data", yaml3, "--project", tmp, NULL};
    r = cli_run(val_cli_main, a4);
    CHECK(r.rc == 1 && has(r.err, "(6 classes) trained on different --data than what you passed (3 classes)"),
          "class count mismatch");
    if (r.rc != 1) cli_run_dump(&r);
    cli_run_free(&r);
}

static void table_txt_and_json(void)
{
    setup();
    if (!yaml) {
        CHECK(0, "setup");
        return;
    }
    char *argv[] = {"val", "--weights", VAL_FIXTURE_MODEL, "--data", (char *)yaml, "--img", "320", "--batch-size",
                    "4", "--save-txt", "--save-conf", "--save-json", "--verbose", "--noplots", "--project", tmp,
                    "--name", "run", NULL};
    CliRun r = cli_run(val_cli_main, argv);
    CHECK(r.rc == 0, "val ran");
    if (r.rc != 0) cli_run_dump(&r);
    CHECK(has(r.out, "\n                 Class     Images  Instances          P          R      mAP50   mAP50-95\n"),
          "header");
    CHECK(count_lines_matching(r.out, "^ {19}all {10}8 +[0-9]+( +[-0-9.e]+){4}$") == 1, "all row");
    CHECK(count_lines_matching(r.out, "^ +(circle|square|triangle|star|cross|ring) {10}8 +[0-9]+( +[-0-9.e]+){4}$") >= 1,
          "per-class rows");
    CHECK(count_lines_matching(r.out, "^Speed: [0-9.]+ms pre-process, [0-9.]+ms inference, [0-9.]+ms NMS per image "
                                      "at shape \\(4, 3, 320, 320\\)$") == 1,
          "speed line");
    char dir[400], path[600];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    CHECK(has(r.out, "Results saved to ") && has(r.out, "labels saved to "), "results line");
    cli_run_free(&r);

    /* --save-txt --save-conf: "cls cx cy w h conf", normalised, in NMS (descending) order */
    size_t txt_rows = 0;
    int txt_files = 0, bad = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, "%s/labels/%06d.txt", dir, i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        txt_files++;
        char line[256];
        double prev = 2.0;
        while (fgets(line, sizeof line, f)) {
            int c;
            double v[5];
            char extra;
            if (sscanf(line, "%d %lf %lf %lf %lf %lf %c", &c, &v[0], &v[1], &v[2], &v[3], &v[4], &extra) != 6 ||
                c < 0 || c > 5 || v[4] > prev || v[4] <= 0.001) {
                bad++;
                continue;
            }
            for (int k = 0; k < 4; k++) bad += v[k] < 0 || v[k] > 1;
            prev = v[4];
            txt_rows++;
        }
        fclose(f);
    }
    CHECK(txt_files > 0 && txt_rows > 0 && bad == 0, "%d txt files, %zu rows, %d malformed", txt_files, txt_rows,
          bad);

    /* --save-json: the COCO results list, one entry per txt row */
    snprintf(path, sizeof path, "%s/model_predictions.json", dir);
    unsigned char *text = NULL;
    size_t size = 0;
    Error e;
    CHECK(fs_read_file(path, &text, &size, &e) == 0, "%s", path);
    cJSON *list = text ? cJSON_Parse((const char *)text) : NULL;
    CHECK(cJSON_IsArray(list) && (size_t)cJSON_GetArraySize(list) == txt_rows, "JSON list of %d, txt rows %zu",
          cJSON_GetArraySize(list), txt_rows);
    const cJSON *it;
    int fields_ok = 1;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "image_id");
        const cJSON *cat = cJSON_GetObjectItemCaseSensitive(it, "category_id");
        const cJSON *bbox = cJSON_GetObjectItemCaseSensitive(it, "bbox");
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(it, "score");
        /* numeric stems 000000..000007 give integer ids 0..7; YOLO txt data: category = class */
        fields_ok &= cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble <= 7 && cJSON_IsNumber(cat) &&
                     cat->valuedouble >= 0 && cat->valuedouble <= 5 && cJSON_GetArraySize(bbox) == 4 &&
                     cJSON_IsNumber(score) && score->valuedouble > 0 && score->valuedouble <= 1;
    }
    CHECK(fields_ok, "JSON fields");
    CHECK(text && !strncmp((const char *)text, "[{\"image_id\": ", 14), "json.dump layout");
    cJSON_Delete(list);
    free(text);
    snprintf(path, sizeof path, "%s/confusion_matrix.csv", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 0, "confusion matrix CSV");
}

static void coco_dataset_json_and_plots(void)
{
    setup();
    if (!yaml) {
        CHECK(0, "setup");
        return;
    }
    char coco[400], cyaml[500];
    snprintf(coco, sizeof coco, "%s/shapes", tmp);
    ShapesOptions so = {1, 6, 320, 7, 0, 0};
    ShapesSummary sum;
    Error e;
    CHECK(shapes_generate(coco, &so, &sum, &e) == 0, "shapes: %s", e.msg);
    snprintf(cyaml, sizeof cyaml, "%s/shapes.yaml", coco);
    char *argv[] = {"val", "--weights", VAL_FIXTURE_MODEL, "--data", cyaml, "--img", "320", "--save-json", "--project",
                    tmp, "--name", "coco", NULL};
    CliRun r = cli_run(val_cli_main, argv);
    CHECK(r.rc == 0 && has(r.out, "Saved ") && has(r.out, "instances_val.json"), "val on COCO data");
    if (r.rc != 0) cli_run_dump(&r);
    cli_run_free(&r);
    /* image ids are the annotation file's ids (2..7: one train image first), categories its ids 1..6 */
    char path[600];
    snprintf(path, sizeof path, "%s/coco/model_predictions.json", tmp);
    unsigned char *text = NULL;
    size_t size = 0;
    CHECK(fs_read_file(path, &text, &size, &e) == 0, "%s", path);
    cJSON *list = text ? cJSON_Parse((const char *)text) : NULL;
    int n = cJSON_GetArraySize(list), ok = n > 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        double id = vfx_num(it, "image_id"), cat = vfx_num(it, "category_id");
        ok &= id >= 2 && id <= 7 && cat >= 1 && cat <= 6;
    }
    CHECK(ok, "%d results with COCO ids", n);
    cJSON_Delete(list);
    free(text);
    /* plots are on by default */
    struct stat st;
    snprintf(path, sizeof path, "%s/coco/val_batch0_labels.jpg", tmp);
    CHECK(stat(path, &st) == 0 && st.st_size > 0, "%s", path);
    snprintf(path, sizeof path, "%s/coco/val_batch0_pred.jpg", tmp);
    CHECK(stat(path, &st) == 0 && st.st_size > 0, "%s", path);
}

/* A training checkpoint gives its EMA weights; a weights file without
 * model_yaml is refused unless --cfg names the model. */
static void checkpoint_and_cfg(void)
{
    setup();
    if (!yaml) {
        CHECK(0, "setup");
        return;
    }
    Model plain, loaded;
    Error e;
    CHECK(inference_model_load(VAL_FIXTURE_MODEL, NULL, &plain, &e) == 0, "%s", e.msg);
    char ckpt[400];
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", tmp);
    CheckpointState cs;
    memset(&cs, 0, sizeof cs);
    cs.epochs = 1;
    CHECK(checkpoint_save(ckpt, &plain, &plain, NULL, &cs, &e) == 0, "%s", e.msg);
    CHECK(inference_is_checkpoint(ckpt) && !inference_is_checkpoint(VAL_FIXTURE_MODEL), "checkpoint detection");
    CHECK(inference_model_load(ckpt, NULL, &loaded, &e) == 0, "%s", e.msg);
    CHECK(loaded.table.n_params == plain.table.n_params &&
              !memcmp(loaded.params, plain.params, plain.table.n_params * sizeof(float)) &&
              !memcmp(loaded.buffers, plain.buffers, plain.table.n_buffers * sizeof(float)) && loaded.nc == 6 &&
              !strcmp(loaded.names[5], "ring"),
          "checkpoint weights");
    model_free(&loaded);
    model_free(&plain);

    char bare[400], cfg[400];
    snprintf(bare, sizeof bare, "%s/bare.safetensors", tmp);
    CHECK(write_model_variant(bare, NULL, "model_yaml", 0) == 0, "write variant");
    char *a1[] = {"val", "--weights", bare, "--data", (char *)yaml, "--noplots", "--project", tmp, NULL};
    CliRun r = cli_run(val_cli_main, a1);
    CHECK(r.rc == 1 && has(r.err, "no model_yaml metadata"), "weights without a model definition");
    cli_run_free(&r);
    /* models/yolov5n.yaml at width 0.125 is the fixture's network */
    unsigned char *text = NULL;
    size_t size = 0;
    CHECK(fs_read_file("models/yolov5n.yaml", &text, &size, &e) == 0, "%s", e.msg);
    char *w = text ? strstr((char *)text, "width_multiple: 0.25") : NULL;
    CHECK(w != NULL, "yolov5n width");
    snprintf(cfg, sizeof cfg, "%s/tiny.yaml", tmp);
    FILE *f = fopen(cfg, "w");
    if (f && w) {
        fwrite(text, 1, (size_t)(w - (char *)text), f);
        fprintf(f, "width_multiple: 0.125%s", w + strlen("width_multiple: 0.25"));
    }
    if (f) fclose(f);
    free(text);
    char *a2[] = {"val", "--weights", bare, "--cfg", cfg, "--data", (char *)yaml, "--noplots", "--project", tmp, NULL};
    r = cli_run(val_cli_main, a2);
    CHECK(r.rc == 0 && has(r.out, "                   all          8"), "--cfg supplies the network");
    if (r.rc != 0) cli_run_dump(&r);
    cli_run_free(&r);
}

static void cleanup(void)
{
    CHECK(tmp[0], "temp dir");
    if (tmp[0]) vfx_rm_rf(tmp);
}

TEST_MAIN(TEST_ENTRY(usage_errors), TEST_ENTRY(wrong_weights_and_data), TEST_ENTRY(table_txt_and_json),
          TEST_ENTRY(coco_dataset_json_and_plots), TEST_ENTRY(checkpoint_and_cfg), TEST_ENTRY(cleanup))
