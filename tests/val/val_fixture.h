/* The val/detect parity fixture (tests/fixtures/val, written by
 * scripts/gen_val_fixtures.py): a model trained by YOLOv5 v7.0 on the shapes
 * dataset, 32 of its validation images with YOLO labels, and expected.json
 * with what v7.0's val.py and detect.py report for them. Helpers to read
 * expected.json, to make a data YAML for the images and to copy some of them
 * (written to a temporary directory, so nothing is written into the
 * repository). */
#ifndef YV5_TEST_VAL_FIXTURE_H
#define YV5_TEST_VAL_FIXTURE_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/fsutil.h"

#define VAL_FIXTURE_DIR "tests/fixtures/val"
#define VAL_FIXTURE_MODEL VAL_FIXTURE_DIR "/model.safetensors"
#define VAL_FIXTURE_NAMES "[circle, square, triangle, star, cross, ring]"

/* expected.json parsed (NULL when missing). */
static inline cJSON *vfx_expected(void)
{
    unsigned char *text = NULL;
    size_t size = 0;
    Error e;
    if (fs_read_file(VAL_FIXTURE_DIR "/expected.json", &text, &size, &e) != 0) return NULL;
    cJSON *root = cJSON_Parse((const char *)text);
    free(text);
    return root;
}

static inline double vfx_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Writes DIR/data.yaml for images under `root` (absolute) with the fixture's
 * classes into a new temporary directory; returns the YAML path (static
 * buffer) and the directory in tmp_dir. */
static inline const char *vfx_write_yaml(const char *root, char *tmp_dir, size_t cap)
{
    static char yaml[600];
    snprintf(tmp_dir, cap, "/tmp/yv5_valfx_XXXXXX");
    if (!mkdtemp(tmp_dir)) return NULL;
    snprintf(yaml, sizeof yaml, "%s/data.yaml", tmp_dir);
    FILE *f = fopen(yaml, "w");
    if (!f) return NULL;
    fprintf(f, "path: %s\ntrain: images\nval: images\nnc: 6\nnames: " VAL_FIXTURE_NAMES "\n", root);
    fclose(f);
    return yaml;
}

static inline void vfx_rm_rf(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* Copies the fixture's images (the first n, sorted) and labels into
 * dir/images and dir/labels. Returns 0 on success. */
static inline int copy_fixture_images(const char *fixture, const char *dir, int n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/images' '%s/labels' && ls '%s/images' | sort | head -n %d | while read f; do "
             "cp \"%s/images/$f\" '%s/images/' && s=\"${f%%.*}\"; "
             "[ ! -f \"%s/labels/$s.txt\" ] || cp \"%s/labels/$s.txt\" '%s/labels/'; done",
             dir, dir, fixture, n, fixture, dir, fixture, fixture, dir);
    return system(cmd);
}

#endif
