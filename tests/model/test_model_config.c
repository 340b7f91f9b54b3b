/* Model YAML parsing, state_dict layout, FLOPs and module counts against the
 * numbers in spec §1.3-1.4 and §9.2 (cross-checked against YOLOv5 v7.0's own
 * parse_model / state_dict on PyTorch 1.13). Run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/flops.h"
#include "model/model_config.h"
#include "model/param_table.h"
#include "test.h"

static const char *const variants[5] = {"n", "s", "m", "l", "x"};

static int load(const char *path, int nc, ModelConfig *cfg, ParamTable *t)
{
    Error err = {{0}};
    if (model_config_load(path, nc, cfg, &err)) {
        printf("    %s: %s\n", path, err.msg);
        return -1;
    }
    if (t && param_table_build(cfg, t, &err)) {
        printf("    %s: %s\n", path, err.msg);
        model_config_free(cfg);
        return -1;
    }
    return 0;
}

static int load_variant(int v, ModelConfig *cfg, ParamTable *t)
{
    char path[64];
    snprintf(path, sizeof path, "models/yolov5%s.yaml", variants[v]);
    return load(path, 0, cfg, t);
}

static void test_param_counts(void)
{
    static const size_t params[5] = {1872157, 7235389, 21190557, 46563709, 86749405};
    static const size_t fused[5] = {1867405, 7225885, 21172173, 46533693, 86705005};
    static const int units[5] = {57, 57, 79, 101, 123};
    static const int modules[5] = {214, 214, 291, 368, 445};
    for (int v = 0; v < 5; v++) {
        ModelConfig cfg;
        ParamTable t;
        if (load_variant(v, &cfg, &t)) {
            CHECK(0, "yolov5%s did not load", variants[v]);
            continue;
        }
        CHECK(t.n_params == params[v], "yolov5%s params %zu want %zu", variants[v], t.n_params, params[v]);
        CHECK(t.n_params_fused == fused[v], "yolov5%s fused %zu want %zu", variants[v], t.n_params_fused, fused[v]);
        CHECK(t.n_units == units[v], "yolov5%s units %d want %d", variants[v], t.n_units, units[v]);
        CHECK(model_module_count(&cfg) == modules[v], "yolov5%s modules %d want %d", variants[v],
              model_module_count(&cfg), modules[v]);
        size_t sum = 0;
        for (int i = 0; i < t.n_layers; i++) sum += t.layers[i].n_params;
        CHECK(sum == t.n_params, "yolov5%s per-layer params sum %zu", variants[v], sum);
        CHECK(t.n_entries == 6 * units[v] + 7, "yolov5%s entries %d", variants[v], t.n_entries);
        param_table_free(&t);
        model_config_free(&cfg);
    }
}

static void test_gflops(void)
{
    /* Ops at 32x32 (conv MACs + BN outputs) counted with hooks on the real
     * v7.0 models; GFLOPs = 2 * ops / 1e9 * 20 * 20 at 640. */
    static const double ops32[5] = {5614720, 20601088, 61203840, 136425984, 257080960};
    static const double readme[5] = {4.5, 16.5, 49.0, 109.1, 205.7};
    static const double spec2[5] = {4.49, 16.48, 48.96, 109.14, 205.66};
    for (int v = 0; v < 5; v++) {
        ModelConfig cfg;
        if (load_variant(v, &cfg, NULL)) {
            CHECK(0, "yolov5%s did not load", variants[v]);
            continue;
        }
        double ops = 0;
        Error err;
        CHECK(model_ops_at(&cfg, 32, 32, NULL, &ops, &err) == 0, "ops_at failed");
        CHECK(ops == ops32[v], "yolov5%s ops at 32: %.0f want %.0f", variants[v], ops, ops32[v]);
        CHECK(model_profile_size(&cfg) == 32, "profile size");
        double g = model_gflops(&cfg, 640, 640);
        char text[32], want[32];
        snprintf(text, sizeof text, "%.1f", g);
        snprintf(want, sizeof want, "%.1f", readme[v]);
        CHECK(!strcmp(text, want), "yolov5%s GFLOPs %s want %s", variants[v], text, want);
        CHECK_CLOSE(g, spec2[v], 0.005, 0);
        CHECK_CLOSE(model_gflops(&cfg, 1280, 1280), 4 * g, 1e-9, 1e-12);
        CHECK_CLOSE(model_gflops(&cfg, 320, 640), g / 2, 1e-9, 1e-12);
        /* Exact scaling: counting at 640 directly gives the same figure. */
        double ops640;
        CHECK(model_ops_at(&cfg, 640, 640, NULL, &ops640, &err) == 0, "ops at 640");
        CHECK_CLOSE(2 * ops640 / 1e9, g, 1e-9, 1e-12);
        model_config_free(&cfg);
    }
}

/* Spec §1.3 rows for yolov5n; yolov5s doubles every channel count. */
typedef struct {
    ModuleKind kind;
    int c_in, c_out, n, k, s, shortcut;
    size_t params_n, params_s;
} Row;

static const Row table[25] = {
    {MODULE_CONV, 3, 16, 1, 6, 2, 0, 1760, 3520},
    {MODULE_CONV, 16, 32, 1, 3, 2, 0, 4672, 18560},
    {MODULE_C3, 32, 32, 1, 0, 0, 1, 4800, 18816},
    {MODULE_CONV, 32, 64, 1, 3, 2, 0, 18560, 73984},
    {MODULE_C3, 64, 64, 2, 0, 0, 1, 29184, 115712},
    {MODULE_CONV, 64, 128, 1, 3, 2, 0, 73984, 295424},
    {MODULE_C3, 128, 128, 3, 0, 0, 1, 156928, 625152},
    {MODULE_CONV, 128, 256, 1, 3, 2, 0, 295424, 1180672},
    {MODULE_C3, 256, 256, 1, 0, 0, 1, 296448, 1182720},
    {MODULE_SPPF, 256, 256, 1, 5, 0, 0, 164608, 656896},
    {MODULE_CONV, 256, 128, 1, 1, 1, 0, 33024, 131584},
    {MODULE_UPSAMPLE, 128, 128, 1, 0, 0, 0, 0, 0},
    {MODULE_CONCAT, 128, 256, 1, 0, 0, 0, 0, 0},
    {MODULE_C3, 256, 128, 1, 0, 0, 0, 90880, 361984},
    {MODULE_CONV, 128, 64, 1, 1, 1, 0, 8320, 33024},
    {MODULE_UPSAMPLE, 64, 64, 1, 0, 0, 0, 0, 0},
    {MODULE_CONCAT, 64, 128, 1, 0, 0, 0, 0, 0},
    {MODULE_C3, 128, 64, 1, 0, 0, 0, 22912, 90880},
    {MODULE_CONV, 64, 64, 1, 3, 2, 0, 36992, 147712},
    {MODULE_CONCAT, 64, 128, 1, 0, 0, 0, 0, 0},
    {MODULE_C3, 128, 128, 1, 0, 0, 0, 74496, 296448},
    {MODULE_CONV, 128, 128, 1, 3, 2, 0, 147712, 590336},
    {MODULE_CONCAT, 128, 256, 1, 0, 0, 0, 0, 0},
    {MODULE_C3, 256, 256, 1, 0, 0, 0, 296448, 1182720},
    {MODULE_DETECT, 64, 0, 1, 0, 0, 0, 115005, 229245},
};

static void check_table(int v)
{
    ModelConfig cfg;
    ParamTable t;
    if (load_variant(v, &cfg, &t)) {
        CHECK(0, "load failed");
        return;
    }
    int scale = v == 0 ? 1 : 2;
    CHECK(cfg.n_layers == 25, "layers %d", cfg.n_layers);
    for (int i = 0; i < 25 && i < cfg.n_layers; i++) {
        const Row *r = &table[i];
        const ModelLayer *L = &cfg.layers[i];
        int c_in = i == 0 ? 3 : r->c_in * scale;
        CHECK(L->kind == r->kind, "layer %d kind %d", i, L->kind);
        CHECK(L->index == i, "layer %d index", i);
        CHECK(L->c_in == c_in, "layer %d c_in %d want %d", i, L->c_in, c_in);
        CHECK(L->c_out == r->c_out * scale, "layer %d c_out %d want %d", i, L->c_out, r->c_out * scale);
        CHECK(L->depth == r->n, "layer %d n %d want %d", i, L->depth, r->n);
        size_t want_params = v == 0 ? r->params_n : r->params_s;
        CHECK(t.layers[i].n_params == want_params, "layer %d params %zu want %zu", i, t.layers[i].n_params,
              want_params);
        if (r->kind == MODULE_CONV) {
            CHECK(L->conv.k == r->k && L->conv.stride == r->s, "layer %d k %d s %d", i, L->conv.k, L->conv.stride);
            CHECK(L->conv.pad == (i == 0 ? 2 : r->k / 2), "layer %d pad %d", i, L->conv.pad);
            CHECK(L->conv.act == 1, "layer %d act", i);
        }
        if (r->kind == MODULE_C3) {
            CHECK(L->c3.n == r->n && L->c3.shortcut == r->shortcut, "layer %d c3 n %d shortcut %d", i, L->c3.n,
                  L->c3.shortcut);
            CHECK(L->c3.hidden == r->c_out * scale / 2, "layer %d hidden %d", i, L->c3.hidden);
        }
        if (r->kind == MODULE_SPPF) CHECK(L->sppf.k == 5 && L->sppf.hidden == 128 * scale, "SPPF k/hidden");
        if (r->kind == MODULE_UPSAMPLE) CHECK(L->upsample.scale == 2, "upsample scale");
        if (r->kind == MODULE_CONCAT) CHECK(L->n_inputs == 2 && L->inputs[0] == i - 1, "concat inputs");
    }
    /* `from` of the joins and the head. */
    CHECK(cfg.layers[12].inputs[1] == 6 && cfg.layers[16].inputs[1] == 4, "concat 12/16 sources");
    CHECK(cfg.layers[19].inputs[1] == 14 && cfg.layers[22].inputs[1] == 10, "concat 19/22 sources");
    CHECK(cfg.layers[12].from[0] == -1 && cfg.layers[0].inputs[0] == -1, "from -1 kept, layer 0 reads the image");
    const ModelLayer *D = &cfg.layers[24];
    CHECK(D->n_inputs == 3 && D->inputs[0] == 17 && D->inputs[1] == 20 && D->inputs[2] == 23, "detect from");
    CHECK(D->in_ch[0] == 64 * scale && D->in_ch[1] == 128 * scale && D->in_ch[2] == 256 * scale, "detect ch");
    CHECK(D->detect.nc == 80 && D->detect.na == 3 && D->detect.nl == 3 && D->detect.no == 85, "detect sizes");
    CHECK(cfg.detect_layer == 24, "detect layer");
    CHECK(cfg.nl == 3 && cfg.na == 3 && !cfg.anchors_placeholder, "anchors nl/na");
    CHECK(cfg.anchors[2][4] == 373 && cfg.anchors[2][5] == 326 && cfg.anchors[0][0] == 10, "anchor pixels");
    CHECK(cfg.stride[0] == 8 && cfg.stride[1] == 16 && cfg.stride[2] == 32, "strides %g %g %g", cfg.stride[0],
          cfg.stride[1], cfg.stride[2]);
    CHECK(cfg.ch_in == 3 && cfg.nc == 80 && cfg.nc_yaml == 80, "ch/nc");
    CHECK(!strcmp(cfg.name, v == 0 ? "YOLOv5n" : "YOLOv5s"), "name %s", cfg.name);
    CHECK(!strcmp(cfg.layers[0].args_text, v == 0 ? "[3, 16, 6, 2, 2]" : "[3, 32, 6, 2, 2]"), "args %s",
          cfg.layers[0].args_text);
    CHECK(!strcmp(cfg.layers[13].args_text, v == 0 ? "[256, 128, 1, False]" : "[512, 256, 1, False]"), "args %s",
          cfg.layers[13].args_text);
    CHECK(!strcmp(cfg.layers[11].args_text, "[None, 2, 'nearest']"), "args %s", cfg.layers[11].args_text);
    CHECK(!strcmp(cfg.layers[12].args_text, "[1]"), "args %s", cfg.layers[12].args_text);
    CHECK(!strcmp(cfg.layers[24].type_name, "models.yolo.Detect"), "type %s", cfg.layers[24].type_name);
    CHECK(!strcmp(cfg.layers[11].type_name, "torch.nn.modules.upsampling.Upsample"), "type");
    param_table_free(&t);
    model_config_free(&cfg);
}

static void test_yolov5n_table(void) { check_table(0); }
static void test_yolov5s_table(void) { check_table(1); }

static void test_other_depths(void)
{
    /* gd 0.67: 3->2, 6->4, 9->6; gd 1.0: unchanged; gd 1.33: 3->4, 6->8, 9->12. */
    static const int want[5][4] = {{1, 2, 3, 1}, {1, 2, 3, 1}, {2, 4, 6, 2}, {3, 6, 9, 3}, {4, 8, 12, 4}};
    for (int v = 0; v < 5; v++) {
        ModelConfig cfg;
        if (load_variant(v, &cfg, NULL)) {
            CHECK(0, "load");
            continue;
        }
        CHECK(cfg.layers[2].depth == want[v][0] && cfg.layers[4].depth == want[v][1] &&
                  cfg.layers[6].depth == want[v][2] && cfg.layers[8].depth == want[v][3] &&
                  cfg.layers[13].depth == want[v][3],
              "yolov5%s depths %d %d %d %d", variants[v], cfg.layers[2].depth, cfg.layers[4].depth,
              cfg.layers[6].depth, cfg.layers[8].depth);
        model_config_free(&cfg);
    }
}

static void test_save_list(void)
{
    static const int want[7] = {4, 6, 10, 14, 17, 20, 23};
    for (int v = 0; v < 5; v++) {
        ModelConfig cfg;
        if (load_variant(v, &cfg, NULL)) {
            CHECK(0, "load");
            continue;
        }
        CHECK(cfg.n_save == 7, "save count %d", cfg.n_save);
        for (int j = 0; j < 7 && j < cfg.n_save; j++) CHECK(cfg.save[j] == want[j], "save[%d] = %d", j, cfg.save[j]);
        model_config_free(&cfg);
    }
}

static void check_entry(const ParamTable *t, int index, const char *key, int ndim, int d0, int d1, int d2, int d3,
                        EntryKind kind, int group)
{
    if (index >= t->n_entries) {
        CHECK(0, "entry %d out of range", index);
        return;
    }
    const ParamEntry *e = &t->entries[index];
    int dims[4] = {d0, d1, d2, d3};
    CHECK(!strcmp(e->key, key), "entry %d key %s want %s", index, e->key, key);
    CHECK(e->ndim == ndim, "%s ndim %d", key, e->ndim);
    for (int d = 0; d < ndim; d++) CHECK(e->shape[d] == dims[d], "%s dim %d = %d want %d", key, d, e->shape[d], dims[d]);
    CHECK(e->kind == kind && e->group == group, "%s kind %d group %d", key, e->kind, e->group);
    CHECK(param_table_find(t, key) == index, "find %s", key);
}

static void test_state_dict_keys(void)
{
    ModelConfig cfg;
    ParamTable t;
    if (load("models/yolov5n.yaml", 0, &cfg, &t)) {
        CHECK(0, "load");
        return;
    }
    CHECK(t.n_entries == 349, "entries %d", t.n_entries);
    CHECK(t.n_param_tensors == 177 && t.n_buffer_tensors == 172, "tensors %d + %d", t.n_param_tensors,
          t.n_buffer_tensors);
    CHECK(t.group_tensors[PARAM_GROUP_DECAY] == 60 && t.group_tensors[PARAM_GROUP_BN_WEIGHT] == 57 &&
              t.group_tensors[PARAM_GROUP_BIAS] == 60,
          "groups %d %d %d", t.group_tensors[0], t.group_tensors[1], t.group_tensors[2]);
    CHECK(t.group_numel[0] + t.group_numel[1] + t.group_numel[2] == t.n_params, "group numel sum");
    CHECK(t.n_counters == 57, "counters %zu", t.n_counters);
    /* running mean + var per BN channel (params - fused params = BN channels), plus 18 anchor floats */
    CHECK(t.n_buffers == 2 * (t.n_params - t.n_params_fused) + 18 && t.n_buffers == 9522, "buffers %zu", t.n_buffers);

    check_entry(&t, 0, "model.0.conv.weight", 4, 16, 3, 6, 6, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 1, "model.0.bn.weight", 1, 16, 0, 0, 0, ENTRY_PARAM, PARAM_GROUP_BN_WEIGHT);
    check_entry(&t, 2, "model.0.bn.bias", 1, 16, 0, 0, 0, ENTRY_PARAM, PARAM_GROUP_BIAS);
    check_entry(&t, 3, "model.0.bn.running_mean", 1, 16, 0, 0, 0, ENTRY_BUFFER, PARAM_GROUP_NONE);
    check_entry(&t, 4, "model.0.bn.running_var", 1, 16, 0, 0, 0, ENTRY_BUFFER, PARAM_GROUP_NONE);
    check_entry(&t, 5, "model.0.bn.num_batches_tracked", 0, 0, 0, 0, 0, ENTRY_COUNTER, PARAM_GROUP_NONE);
    check_entry(&t, 6 * 2, "model.2.cv1.conv.weight", 4, 16, 32, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 6 * 4, "model.2.cv3.conv.weight", 4, 32, 32, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 6 * 5, "model.2.m.0.cv1.conv.weight", 4, 16, 16, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 6 * 6, "model.2.m.0.cv2.conv.weight", 4, 16, 16, 3, 3, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 6 * 14, "model.4.m.1.cv2.conv.weight", 4, 32, 32, 3, 3, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 6 * 32 + 2, "model.9.cv2.bn.bias", 1, 256, 0, 0, 0, ENTRY_PARAM, PARAM_GROUP_BIAS);
    check_entry(&t, 6 * 33, "model.10.conv.weight", 4, 128, 256, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 6 * 34, "model.13.cv1.conv.weight", 4, 64, 256, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 6 * 56 + 4, "model.23.m.0.cv2.bn.running_var", 1, 128, 0, 0, 0, ENTRY_BUFFER, PARAM_GROUP_NONE);
    check_entry(&t, 342, "model.24.anchors", 3, 3, 3, 2, 0, ENTRY_BUFFER, PARAM_GROUP_NONE);
    check_entry(&t, 343, "model.24.m.0.weight", 4, 255, 64, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 344, "model.24.m.0.bias", 1, 255, 0, 0, 0, ENTRY_PARAM, PARAM_GROUP_BIAS);
    check_entry(&t, 346, "model.24.m.1.bias", 1, 255, 0, 0, 0, ENTRY_PARAM, PARAM_GROUP_BIAS);
    check_entry(&t, 347, "model.24.m.2.weight", 4, 255, 256, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 348, "model.24.m.2.bias", 1, 255, 0, 0, 0, ENTRY_PARAM, PARAM_GROUP_BIAS);
    CHECK(param_table_find(&t, "model.24.grid") == -1, "no grid entry");

    /* Every Conv-unit prefix expands to the same six suffixes, in order. */
    static const char *const suffix[6] = {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                          "bn.running_var", "bn.num_batches_tracked"};
    int bad_suffix = 0;
    for (int i = 0; i < 342; i++) {
        const char *key = t.entries[i].key;
        size_t kl = strlen(key), sl = strlen(suffix[i % 6]);
        if (kl < sl || strcmp(key + kl - sl, suffix[i % 6])) bad_suffix++;
    }
    CHECK(bad_suffix == 0, "%d entries with the wrong suffix", bad_suffix);

    /* Blocks are packed in state_dict order. */
    size_t next[3] = {0, 0, 0};
    int packed = 1;
    for (int i = 0; i < t.n_entries; i++) {
        const ParamEntry *e = &t.entries[i];
        packed &= e->offset == next[e->kind];
        next[e->kind] += e->numel;
    }
    CHECK(packed, "offsets are not packed in order");
    CHECK(next[ENTRY_PARAM] == t.n_params && next[ENTRY_BUFFER] == t.n_buffers && next[ENTRY_COUNTER] == 57,
          "block sizes");
    CHECK(t.entries[348].offset == t.n_params - 255, "last bias offset");

    char shape[64];
    param_entry_shape_str(&t.entries[0], shape, sizeof shape);
    CHECK(!strcmp(shape, "(16, 3, 6, 6)"), "shape %s", shape);
    param_entry_shape_str(&t.entries[344], shape, sizeof shape);
    CHECK(!strcmp(shape, "(255,)"), "shape %s", shape);
    param_entry_shape_str(&t.entries[5], shape, sizeof shape);
    CHECK(!strcmp(shape, "()"), "shape %s", shape);
    param_table_free(&t);
    model_config_free(&cfg);
}

static void test_unit_structure(void)
{
    ModelConfig cfg;
    ParamTable t;
    if (load("models/yolov5n.yaml", 0, &cfg, &t)) {
        CHECK(0, "load");
        return;
    }
    /* Units match their entries. */
    int mismatched = 0;
    for (int u = 0; u < t.n_units; u++) {
        const ConvUnit *cu = &t.units[u];
        const ParamEntry *e = &t.entries[cu->entry];
        mismatched += e->offset != cu->weight || e[1].offset != cu->gamma || e[2].offset != cu->beta ||
                      e[3].offset != cu->running_mean || e[4].offset != cu->running_var ||
                      e[5].offset != cu->num_batches_tracked || e->shape[0] != cu->c_out ||
                      e->shape[1] != cu->c_in || e->shape[2] != cu->k;
    }
    CHECK(mismatched == 0, "%d units disagree with their entries", mismatched);

    const ConvUnit *c0 = layer_unit(&t, 0, 0);
    CHECK(c0->c_in == 3 && c0->c_out == 16 && c0->k == 6 && c0->stride == 2 && c0->pad == 2 && c0->act == 1,
          "layer 0 unit");
    CHECK(c0->weight == 0 && c0->gamma == 16 * 3 * 36 && c0->beta == c0->gamma + 16, "layer 0 offsets");
    CHECK(c0->running_mean == 0 && c0->running_var == 16 && c0->num_batches_tracked == 0, "layer 0 buffers");

    CHECK(t.layers[4].n_units == 3 + 2 * 2, "C3 layer 4 units %d", t.layers[4].n_units);
    const ConvUnit *cv1 = layer_unit(&t, 4, C3_CV1), *cv2 = layer_unit(&t, 4, C3_CV2), *cv3 = layer_unit(&t, 4, C3_CV3);
    CHECK(cv1->c_in == 64 && cv1->c_out == 32 && cv1->k == 1, "C3 cv1");
    CHECK(cv2->c_in == 64 && cv2->c_out == 32 && cv2->k == 1, "C3 cv2");
    CHECK(cv3->c_in == 64 && cv3->c_out == 64 && cv3->k == 1, "C3 cv3");
    const ConvUnit *b1 = c3_bottleneck_cv1(&t, 4, 1), *b2 = c3_bottleneck_cv2(&t, 4, 1);
    CHECK(b1->c_in == 32 && b1->c_out == 32 && b1->k == 1 && b1->pad == 0, "bottleneck cv1");
    CHECK(b2->c_in == 32 && b2->c_out == 32 && b2->k == 3 && b2->pad == 1 && b2->stride == 1, "bottleneck cv2");
    CHECK(!strcmp(t.entries[b2->entry].key, "model.4.m.1.cv2.conv.weight"), "bottleneck key %s",
          t.entries[b2->entry].key);

    const ConvUnit *s1 = layer_unit(&t, 9, SPPF_CV1), *s2 = layer_unit(&t, 9, SPPF_CV2);
    CHECK(t.layers[9].n_units == 2 && s1->c_in == 256 && s1->c_out == 128 && s2->c_in == 512 && s2->c_out == 256,
          "SPPF units");
    CHECK(t.layers[11].n_units == 0 && t.layers[12].n_units == 0 && t.layers[11].n_params == 0, "no-param layers");

    const DetectParams *d = &t.detect;
    CHECK(d->nl == 3 && d->na == 3 && d->no == 85, "detect dims");
    CHECK(d->anchors == t.entries[342].offset && d->anchors == t.n_buffers - 18, "anchors offset");
    CHECK(d->head[0].c_in == 64 && d->head[1].c_in == 128 && d->head[2].c_in == 256, "head c_in");
    CHECK(d->head[0].weight == t.entries[343].offset && d->head[0].bias == t.entries[344].offset &&
              d->head[2].bias == t.entries[348].offset,
          "head offsets");
    param_table_free(&t);
    model_config_free(&cfg);
}

static void test_nc_override(void)
{
    ModelConfig cfg;
    ParamTable t;
    if (load("models/yolov5n.yaml", 3, &cfg, &t)) {
        CHECK(0, "load");
        return;
    }
    CHECK(cfg.nc == 3 && cfg.nc_yaml == 80, "nc %d yaml %d", cfg.nc, cfg.nc_yaml);
    CHECK(cfg.layers[24].detect.nc == 3 && cfg.layers[24].detect.no == 8, "detect nc/no");
    CHECK(t.n_params == 1767976, "params %zu", t.n_params);
    check_entry(&t, 343, "model.24.m.0.weight", 4, 24, 64, 1, 1, ENTRY_PARAM, PARAM_GROUP_DECAY);
    check_entry(&t, 348, "model.24.m.2.bias", 1, 24, 0, 0, 0, ENTRY_PARAM, PARAM_GROUP_BIAS);
    CHECK(!strncmp(cfg.layers[24].args_text, "[3, [[10, 13", 12), "args %s", cfg.layers[24].args_text);
    CHECK(t.layers[0].n_params == 1760, "backbone unchanged");
    param_table_free(&t);
    model_config_free(&cfg);

    if (load("models/yolov5s.yaml", 1, &cfg, &t)) {
        CHECK(0, "load");
        return;
    }
    CHECK(t.n_params == 7022326, "yolov5s nc=1 params %zu", t.n_params);
    param_table_free(&t);
    model_config_free(&cfg);
}

static void test_half_even_depth(void)
{
    ModelConfig cfg;
    ParamTable t;
    if (load("tests/fixtures/model/variant_half_even.yaml", 0, &cfg, &t)) {
        CHECK(0, "load");
        return;
    }
    /* 3*0.5 = 1.5 -> 2, 5*0.5 = 2.5 -> 2, 7*0.5 = 3.5 -> 4, 9*0.5 = 4.5 -> 4 */
    CHECK(cfg.layers[1].depth == 2 && cfg.layers[3].depth == 2 && cfg.layers[5].depth == 4 &&
              cfg.layers[7].depth == 4,
          "depths %d %d %d %d", cfg.layers[1].depth, cfg.layers[3].depth, cfg.layers[5].depth, cfg.layers[7].depth);
    CHECK(cfg.layers[1].number == 3 && cfg.layers[7].number == 9, "numbers as written");
    CHECK(cfg.layers[7].c3.n == 4 && t.layers[7].n_units == 3 + 8, "C3 bottlenecks");
    CHECK(cfg.nl == 2 && cfg.stride[0] == 8 && cfg.stride[1] == 16, "two levels %d %g %g", cfg.nl, cfg.stride[0],
          cfg.stride[1]);
    CHECK(t.n_params == 117990, "params %zu", t.n_params);
    CHECK(model_module_count(&cfg) == 155, "modules %d", model_module_count(&cfg));
    CHECK(cfg.n_save == 2 && cfg.save[0] == 5 && cfg.save[1] == 8, "save");
    param_table_free(&t);
    model_config_free(&cfg);
}

static void test_variant_features(void)
{
    ModelConfig cfg;
    ParamTable t;
    if (load("tests/fixtures/model/variant_features.yaml", 0, &cfg, &t)) {
        CHECK(0, "load");
        return;
    }
    CHECK(cfg.ch_in == 1 && cfg.layers[0].c_in == 1, "ch 1");
    CHECK(cfg.anchors_placeholder == 1 && cfg.na == 2 && cfg.nl == 3, "placeholder anchors");
    CHECK(cfg.anchors[1][0] == 0 && cfg.anchors[1][3] == 3, "placeholder values");
    const ModelLayer *L = cfg.layers;
    CHECK(L[0].conv.pad == 1 && L[0].conv.act == 0 && L[0].conv.stride == 1, "conv None pad, act False");
    CHECK(!strcmp(L[0].args_text, "[1, 16, 3, 1, None, 1, 1, False]"), "args %s", L[0].args_text);
    CHECK(L[2].depth == 3 && L[2].c3.hidden == 8 && L[2].c3.shortcut == 1, "C3 e=0.25: n %d hidden %d", L[2].depth,
          L[2].c3.hidden);
    CHECK(!strcmp(L[2].args_text, "[32, 32, 3, True, 1, 0.25]"), "args %s", L[2].args_text);
    CHECK(L[6].sppf.k == 3, "SPPF k");
    CHECK(!strcmp(L[7].args_text, "[None, 2, 'nearest']"), "args %s", L[7].args_text);
    CHECK(L[8].n_inputs == 3 && L[8].inputs[0] == 7 && L[8].inputs[1] == 4 && L[8].inputs[2] == 3 &&
              L[8].from[2] == -5 && L[8].c_out == 128 + 64 + 64,
          "3-input concat");
    CHECK(L[9].c_out == 14, "output-count conv unscaled: %d", L[9].c_out);
    CHECK(L[10].inputs[0] == 2 && L[10].from[0] == 2 && L[10].c_in == 32, "absolute from");
    CHECK(!strcmp(L[11].args_text, "[2, [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]], [14, 32, 128]]"), "args %s",
          L[11].args_text);
    static const int save[6] = {2, 3, 4, 6, 9, 10};
    CHECK(cfg.n_save == 6, "save count %d", cfg.n_save);
    for (int j = 0; j < 6 && j < cfg.n_save; j++) CHECK(cfg.save[j] == save[j], "save[%d] %d", j, cfg.save[j]);
    CHECK(cfg.stride[0] == 4 && cfg.stride[1] == 4 && cfg.stride[2] == 8, "strides");
    CHECK(t.n_params == 189882, "params %zu", t.n_params);
    CHECK(model_module_count(&cfg) == 87, "modules %d", model_module_count(&cfg));
    CHECK_CLOSE(model_gflops(&cfg, 640, 640), 8.6, 0.05, 0);
    param_table_free(&t);
    model_config_free(&cfg);
}

static void test_anchor_order(void)
{
    ModelConfig cfg;
    float grid[MODEL_MAX_LEVELS * MODEL_MAX_ANCHORS * 2];
    if (load("models/yolov5n.yaml", 0, &cfg, NULL)) {
        CHECK(0, "load");
        return;
    }
    static const float want[18] = {1.25f, 1.625f, 2.0f,   3.75f,   4.125f, 2.875f,  1.875f,  3.8125f, 3.875f,
                                   2.8125f, 3.6875f, 7.4375f, 3.625f, 2.8125f, 4.875f, 6.1875f, 11.65625f, 10.1875f};
    CHECK(model_config_anchors_grid(&cfg, grid) == 0, "standard anchors are not reversed");
    CHECK_ARRAYS_CLOSE("yolov5n anchors in grid units", grid, want, 18, 0, 0);
    model_config_free(&cfg);

    if (load("tests/fixtures/model/variant_anchors.yaml", 0, &cfg, NULL)) {
        CHECK(0, "load");
        return;
    }
    /* Levels listed large-to-small get reversed (YOLOv5's check_anchor_order). */
    static const float flipped[24] = {1.25f,    1.625f,  2.0f,  3.75f,   4.125f, 2.875f,  0.6875f,   0.875f,
                                      1.875f,   3.8125f, 3.875f, 2.8125f, 3.6875f, 7.4375f, 2.5f,      2.5f,
                                      3.640625f, 2.8125f, 4.875f, 6.1875f, 11.65625f, 10.1953125f, 6.25f, 6.25f};
    CHECK(cfg.na == 4 && cfg.nl == 3, "4 anchors x 3 levels");
    CHECK(model_config_anchors_grid(&cfg, grid) == 1, "reversed");
    CHECK_ARRAYS_CLOSE("reversed anchors", grid, flipped, 24, 1e-6, 0);
    CHECK(cfg.layers[0].c_out == 8 && cfg.layers[9].c_out == 104, "width 0.1 rounding %d %d", cfg.layers[0].c_out,
          cfg.layers[9].c_out);
    CHECK(!strncmp(cfg.layers[10].args_text, "[80, [[116.5, 90, 156, 198, 373, 326.25, 200, 200], ", 52), "args %s",
          cfg.layers[10].args_text);
    model_config_free(&cfg);
}

static void test_spatial(void)
{
    ModelConfig cfg;
    if (load("models/yolov5n.yaml", 0, &cfg, NULL)) {
        CHECK(0, "load");
        return;
    }
    int h[25], w[25];
    Error err = {{0}};
    CHECK(model_config_spatial(&cfg, 640, 480, h, w, &err) == 0, "640x480: %s", err.msg);
    CHECK(h[0] == 320 && w[0] == 240 && h[17] == 80 && w[17] == 60 && h[20] == 40 && h[23] == 20 && w[23] == 15,
          "sizes");
    CHECK(h[11] == 40 && h[9] == 20, "upsample / sppf sizes");
    CHECK(model_config_spatial(&cfg, 650, 640, h, w, &err) == -1, "650 must fail (odd size at stride 16)");
    CHECK(strstr(err.msg, "Concat") != NULL && strstr(err.msg, "layer 12") != NULL, "message: %s", err.msg);
    CHECK(model_config_spatial(&cfg, 2, 2, h, w, &err) == -1, "tiny input fails");
    double ops;
    CHECK(model_ops_at(&cfg, 100, 100, NULL, &ops, &err) == -1, "ops at a bad size fails");
    model_config_free(&cfg);
}

static void test_parse_string(void)
{
    FILE *f = fopen("models/yolov5s.yaml", "rb");
    CHECK(f != NULL, "open yolov5s.yaml");
    if (!f) return;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    ModelConfig cfg;
    Error err = {{0}};
    CHECK(model_config_parse_string(text, "configs/mine.yaml", 0, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.name, "mine") && !strcmp(cfg.source, "configs/mine.yaml"), "name %s", cfg.name);
    CHECK(cfg.yaml_text && !strcmp(cfg.yaml_text, text), "raw text kept");
    CHECK(cfg.layers[24].in_ch[2] == 512, "resolved");
    model_config_free(&cfg);
    CHECK(cfg.layers == NULL && cfg.yaml_text == NULL, "free clears");

    CHECK(model_config_parse_string(text, NULL, 5, &cfg, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(cfg.name, "Model") && cfg.nc == 5 && cfg.layers[24].detect.no == 10, "unnamed, nc 5");
    model_config_free(&cfg);

    /* JSON (as stored in weights metadata) is YAML too; quoted names evaluate like bare ones. */
    const char *json = "{\"nc\": 2, \"depth_multiple\": 0.33, \"width_multiple\": 0.25, \"anchors\": [[10, 13, 16, 30]],"
                       " \"backbone\": [[-1, 1, \"Conv\", [64, 3, 2]], [-1, 3, \"C3\", [64, false]]],"
                       " \"head\": [[-1, 1, \"nn.Upsample\", [\"None\", 2, \"nearest\"]],"
                       " [[2], 1, \"Detect\", [\"nc\", \"anchors\"]]]}";
    CHECK(model_config_parse_string(json, "meta", 0, &cfg, &err) == 0, "%s", err.msg);
    CHECK(cfg.n_layers == 4 && cfg.layers[1].c3.shortcut == 0 && cfg.layers[3].detect.nc == 2 && cfg.na == 2,
          "json model");
    CHECK(!strcmp(cfg.layers[2].args_text, "[None, 2, 'nearest']"), "args %s", cfg.layers[2].args_text);
    model_config_free(&cfg);

    /* YAML 1.1 scalars as PyYAML types them: yes is a bool, '2' a string that evaluates to 2. */
    const char *yaml = "nc: 1\ndepth_multiple: 1\nwidth_multiple: 1.0\nanchors: [[5,6]]\n"
                       "backbone: [[-1, 1, Conv, [8, '3', 2, ~]], [-1, 1, C3, [8, yes, 1, 1.0]]]\n"
                       "head: [[[1], 1, Detect, [nc, anchors]]]\n";
    CHECK(model_config_parse_string(yaml, "y11", 0, &cfg, &err) == 0, "%s", err.msg);
    CHECK(cfg.layers[0].conv.k == 3 && cfg.layers[0].conv.pad == 1, "quoted number evaluates");
    CHECK(!strcmp(cfg.layers[0].args_text, "[3, 8, 3, 2, None]"), "args %s", cfg.layers[0].args_text);
    CHECK(cfg.layers[1].c3.shortcut == 1 && cfg.layers[1].c3.hidden == 8, "yes is True, e 1.0");
    CHECK(!strcmp(cfg.layers[1].args_text, "[8, 8, 1, True, 1, 1.0]"), "args %s", cfg.layers[1].args_text);
    model_config_free(&cfg);

    /* Errors from a string name the given source and the line. */
    const char *bad = "nc: 80\ndepth_multiple: 0.33\nwidth_multiple: 0.25\nanchors: 3\n"
                      "backbone: [[-1, 1, Conv, [16, 3]],\n  [-1, 1, Bogus, [1]]]\nhead: []\n";
    CHECK(model_config_parse_string(bad, "inline.yaml", 0, &cfg, &err) == -1, "bad string");
    CHECK(strstr(err.msg, "inline.yaml:6:") && strstr(err.msg, "unknown module 'Bogus'"), "message: %s", err.msg);
    CHECK(cfg.layers == NULL && cfg.yaml_text == NULL, "left empty on failure");
}

/* Each bad fixture fails with the file, the line and the reason in the message. */
static void test_error_fixtures(void)
{
    static const struct {
        const char *file;
        int line;
        const char *reason;
    } cases[] = {
        {"bad_unknown_module", 10, "layer 2: unknown module 'Focus'"},
        {"bad_from_out_of_range", 10, "'from' 7 is out of range"},
        {"bad_from_forward", 9, "'from' 2 is not an earlier layer (forward reference)"},
        {"bad_from_before_start", 10, "'from' -5 points before layer 0"},
        {"bad_from_type", 13, "'from' entries must be integer layer indices, got 'x'"},
        {"bad_from_list_for_conv", 9, "must be a single layer index"},
        {"bad_from_int_for_concat", 11, "'from' must be a list of layer indices for Concat"},
        {"bad_arg_type", 9, "layer 1 (Conv): kernel size k must be an integer, got a float '3.5'"},
        {"bad_arg_bool", 10, "layer 2 (C3): shortcut must be True or False"},
        {"bad_arg_count", 11, "layer 3 (SPPF): takes 1 to 2 arguments [c2, k], got 3"},
        {"bad_arg_empty", 9, "takes 1 to 7 arguments"},
        {"bad_arg_eval", 9, "cannot evaluate argument 'nc*2'"},
        {"bad_args_not_list", 9, "args must be a list"},
        {"bad_groups", 9, "groups g=2 not supported"},
        {"bad_upsample_scale", 11, "scale_factor must be 2"},
        {"bad_upsample_mode", 11, "mode must be 'nearest', got 'bilinear'"},
        {"bad_row_length", 9, "a row must be [from, number, module, args]"},
        {"bad_number", 10, "number must be an integer, got 'three'"},
        {"bad_number_zero", 10, "number must be in [1, 1000], got 0"},
        {"bad_repeat_conv", 9, "not supported"},
        {"bad_missing_nc", 2, "missing key 'nc'"},
        {"bad_missing_head", 2, "missing key 'head'"},
        {"bad_missing_anchors", 2, "missing key 'anchors'"},
        {"bad_multiple", 3, "'depth_multiple' must be a number, got 'small'"},
        {"bad_width_zero", 4, "'width_multiple' must be in (0, 1000]"},
        {"bad_nc", 2, "'nc' must be in [1, 1000000], got -3"},
        {"bad_detect_not_last", 13, "Detect must be the last layer"},
        {"bad_no_detect", 13, "the last layer must be Detect"},
        {"bad_detect_nc", 13, "Detect nc=3 differs from the model's nc=80"},
        {"bad_detect_levels", 13, "Detect has 2 inputs but its anchors have 1 level"},
        {"bad_detect_args", 13, "takes 2 arguments [nc, anchors], got 3"},
        {"bad_anchors_odd", 6, "anchors level 0 must hold w,h pairs"},
        {"bad_anchors_ragged", 7, "anchors level 1 has 2 anchors but level 0 has 3"},
        {"bad_anchors_value", 6, "anchors level 0 entry 5 must be a number, got 'big'"},
        {"bad_concat_sizes", 11, "layer 3 (Concat): inputs differ in size"},
        {"bad_activation", 7, "activation 'nn.LeakyReLU(0.1)' not supported"},
        {"bad_module_module", 9, "module must be a name"},
        {"bad_syntax", 12, "YAML syntax error"},
        {"bad_not_mapping", 2, "the document must be a mapping"},
        {"bad_empty", 1, "empty document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128], where[160];
        snprintf(path, sizeof path, "tests/fixtures/model/%s.yaml", cases[i].file);
        snprintf(where, sizeof where, "%s:%d: ", path, cases[i].line);
        ModelConfig cfg;
        Error err = {{0}};
        int rc = model_config_load(path, 0, &cfg, &err);
        CHECK(rc == -1, "%s parsed", path);
        CHECK(strstr(err.msg, where) == err.msg, "%s: message lacks '%s': %s", cases[i].file, where, err.msg);
        CHECK(strstr(err.msg, cases[i].reason) != NULL, "%s: message lacks '%s': %s", cases[i].file, cases[i].reason,
              err.msg);
        CHECK(cfg.layers == NULL && cfg.save == NULL && cfg.yaml_text == NULL, "%s: config not left empty",
              cases[i].file);
        if (rc == 0) model_config_free(&cfg);
    }
    ModelConfig cfg;
    Error err = {{0}};
    CHECK(model_config_load("tests/fixtures/model/no_such_file.yaml", 0, &cfg, &err) == -1, "missing file");
    CHECK(strstr(err.msg, "no_such_file.yaml") && strstr(err.msg, "cannot open"), "message: %s", err.msg);
}

TEST_MAIN(TEST_ENTRY(test_param_counts), TEST_ENTRY(test_gflops), TEST_ENTRY(test_yolov5n_table),
          TEST_ENTRY(test_yolov5s_table), TEST_ENTRY(test_other_depths), TEST_ENTRY(test_save_list),
          TEST_ENTRY(test_state_dict_keys), TEST_ENTRY(test_unit_structure), TEST_ENTRY(test_nc_override),
          TEST_ENTRY(test_half_even_depth), TEST_ENTRY(test_variant_features), TEST_ENTRY(test_anchor_order),
          TEST_ENTRY(test_spatial), TEST_ENTRY(test_parse_string), TEST_ENTRY(test_error_fixtures))
