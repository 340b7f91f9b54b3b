/* Model YAML (ultralytics schema) -> resolved layer list, exactly as YOLOv5
 * v7.0's parse_model resolves it (spec §1.1-1.2).
 *
 * A ModelConfig is the network's architecture with every number settled:
 * per layer its resolved inputs, channel counts, kernel/stride/padding, C3
 * depth, Detect levels and anchors. It holds no weights: param_table.h lays
 * out the state_dict on top of it, flops.h counts its operations, and the
 * graph builder walks `layers` in index order.
 *
 * Resolution rules (YOLOv5's parse_model):
 *   depth   n' = max(round_half_even(n * depth_multiple), 1) if n > 1, else n;
 *           C3 takes n' as its bottleneck count, every other module must have
 *           n' == 1 (YOLOv5 would stack copies in a Sequential; not supported).
 *   width   c2' = ceil(c2 * width_multiple / 8) * 8 for Conv / C3 / SPPF,
 *           unless c2 == na * (nc + 5) (an output conv, left as written).
 *   Concat  c_out = sum of its inputs' channels; Detect gets its inputs'
 *           channel list; nn.Upsample and Concat keep the spatial layout.
 *   from    -1 = previous layer (the image for layer 0); k >= 0 = layer k's
 *           output (must be an earlier layer); other negatives count back
 *           from the current layer as Python indexing does; lists for
 *           Concat/Detect keep their order.
 *   args    strings are evaluated as Python names: nc, anchors, None, True,
 *           False, quoted strings ('nearest'), numeric literals; any other
 *           bare name stays a string (Python's NameError is ignored there).
 *
 * Memory: model_config_load / _parse_string fill a caller-provided
 * ModelConfig that owns its heap parts (layers, save, yaml_text); release
 * with model_config_free. On failure the config is left empty (freeing it is
 * harmless) and the Error says "file:line: [layer i (Module): ]reason".
 *
 * Not supported (each is a clear error): modules other than the six above,
 * repeats of non-C3 modules, groups/dilation != 1, Upsample other than x2
 * nearest, a YAML `activation` other than SiLU, Detect anywhere but last. */
#ifndef YV5_MODEL_CONFIG_H
#define YV5_MODEL_CONFIG_H

#include "core/error.h"

#define MODEL_MAX_INPUTS 8   /* inputs of one layer (Concat / Detect `from` lists) */
#define MODEL_MAX_LEVELS 8   /* Detect levels */
#define MODEL_MAX_ANCHORS 16 /* anchors per level */

typedef enum {
    MODULE_CONV,     /* Conv2d (no bias) -> BatchNorm2d -> SiLU */
    MODULE_C3,       /* CSP block: cv1, cv2, n bottlenecks on cv1's branch, cv3 */
    MODULE_SPPF,     /* cv1 -> three chained k x k max-pools -> concat(4) -> cv2 */
    MODULE_UPSAMPLE, /* nn.Upsample(None, 2, 'nearest') */
    MODULE_CONCAT,   /* channel concatenation of the `from` list, in order */
    MODULE_DETECT,   /* one 1x1 Conv2d with bias per level -> na*(nc+5) channels */
} ModuleKind;

/* One resolved row of backbone + head. Only the sub-struct of its kind is
 * meaningful; the others are zero. */
typedef struct {
    int index;  /* position in backbone+head, 0-based; also the state_dict "model.<index>" */
    ModuleKind kind;
    int line;   /* 1-based line of the row in the YAML, for messages */
    const char *type_name; /* as YOLOv5 prints it, e.g. "models.common.Conv" */

    /* `from` as written (-1, absolute or negative-relative) and resolved to
     * absolute layer indices; inputs[i] == -1 means the network input image
     * (only possible for layer 0). */
    int n_inputs;
    int from[MODEL_MAX_INPUTS];
    int inputs[MODEL_MAX_INPUTS];

    int number; /* `number` as written */
    int depth;  /* resolved repeat count n' (the "n" column YOLOv5 prints) */

    /* Channels: c_in is the channel count of inputs[0] (for Concat/Detect see
     * in_ch); c_out is what this layer produces (0 for Detect, whose outputs
     * are the per-level heads). */
    int c_in, c_out;
    int in_ch[MODEL_MAX_INPUTS]; /* channels of each input, in `from` order */

    struct {
        int k, stride, pad; /* pad already resolved (autopad k/2 when None) */
        int act;            /* 1 = SiLU, 0 = identity (act=False) */
    } conv;
    struct {
        int n;        /* bottlenecks inside the C3 (= depth) */
        int shortcut; /* residual add in each bottleneck */
        int hidden;   /* c_ = int(c_out * e), e = 0.5 unless given */
    } c3;
    struct {
        int k;      /* max-pool kernel; stride 1, pad k/2 */
        int hidden; /* c_ = c_in / 2 */
    } sppf;
    struct {
        int scale; /* nearest, integer factor (2) */
    } upsample;
    struct {
        int dim; /* always 1 (channels) */
    } concat;
    struct {
        int nc, na, nl; /* classes, anchors per level, levels (= n_inputs) */
        int no;         /* outputs per anchor = nc + 5; each head conv has na*no channels */
    } detect;

    /* Constructor arguments as YOLOv5 prints them, e.g. "[3, 16, 6, 2, 2]",
     * "[None, 2, 'nearest']", "[80, [[10, 13, ...], ...], [64, 128, 256]]". */
    char args_text[512];
} ModelLayer;

typedef struct {
    char source[512]; /* file path or the name given to model_config_parse_string */
    char name[128];   /* summary name: the source's stem with "yolov5" -> "YOLOv5" ("Model" if none) */
    char *yaml_text;  /* the YAML exactly as read (owned; goes into checkpoint metadata) */

    int nc;           /* classes in effect (the override if one was given) */
    int nc_yaml;      /* nc as written in the YAML */
    double depth_multiple, width_multiple;
    int ch_in;        /* input image channels (YAML `ch`, default 3) */

    /* Anchors of the Detect layer, in input pixels as written in the YAML:
     * level l, anchor a: w = anchors[l][2a], h = anchors[l][2a+1]. When the
     * YAML gives an int (anchors per level) instead of lists, YOLOv5 puts the
     * placeholder values 0, 1, ..., 2na-1 on every level: those are stored and
     * anchors_placeholder is set, so AutoAnchor knows it must replace them. */
    int nl, na;
    float anchors[MODEL_MAX_LEVELS][2 * MODEL_MAX_ANCHORS];
    int anchors_placeholder;

    int n_layers;
    ModelLayer *layers; /* owned; layers[n_layers - 1] is the Detect layer */
    int detect_layer;   /* = n_layers - 1 */

    /* Layers whose outputs must be kept for a later layer other than the next
     * one (YOLOv5's `save` list): sorted ascending, without duplicates. */
    int n_save;
    int *save; /* owned */

    /* Stride of each Detect level, measured as YOLOv5 does: input size 256
     * divided by the level's feature height (8, 16, 32 for the standard models). */
    float stride[MODEL_MAX_LEVELS];
} ModelConfig;

/* Reads and resolves a model YAML file. nc_override > 0 replaces the YAML's
 * nc (as a dataset's nc does in training). Errors name the file, the line and
 * the reason: "models/x.yaml:12: layer 3: unknown module 'Foo' ...". */
int model_config_load(const char *path, int nc_override, ModelConfig *cfg, Error *err);
/* Same from YAML text; source_name (may be NULL) is used in messages and for
 * the summary name. */
int model_config_parse_string(const char *text, const char *source_name, int nc_override,
                              ModelConfig *cfg, Error *err);
void model_config_free(ModelConfig *cfg);

/* Output spatial size of every layer for an input of in_h x in_w (Detect's
 * entries get the size of its first level). out_h/out_w hold n_layers ints.
 * Fails when the size is too small for a convolution or the inputs of a
 * Concat disagree (e.g. an image side that is not a multiple of the largest
 * stride), naming the layer. */
int model_config_spatial(const ModelConfig *cfg, int in_h, int in_w, int *out_h, int *out_w,
                         Error *err);

/* Initial value of the Detect `anchors` buffer, (nl, na, 2) floats in grid
 * units: the YAML anchors with YOLOv5's check_anchor_order applied (levels
 * reversed when mean anchor area runs opposite to stride) and each level
 * divided by its stride. Returns 1 when the levels were reversed (YOLOv5
 * logs "AutoAnchor: Reversing anchor order"), else 0. */
int model_config_anchors_grid(const ModelConfig *cfg, float *out);

/* The model definition (the YAML as a JSON object, with "nc" set to the
 * classes in effect), as ultralytics keeps it in model.yaml: what weights
 * files carry in their `model_yaml` metadata. JSON is YAML, so the text
 * parses back with model_config_parse_string. Caller frees with free();
 * NULL on failure. */
char *model_config_definition_json(const ModelConfig *cfg, Error *err);

const char *module_kind_name(ModuleKind kind); /* "Conv", "C3", ... as in the YAML */

#endif
