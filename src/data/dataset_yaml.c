/* The data YAML (YOLOv5's keys plus *_annotations), read with libyaml. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "data/dataset.h"
#include "data/fsutil.h"

const char *split_name(SplitKind k)
{
    static const char *names[SPLIT_COUNT] = {"train", "val", "test"};
    return (k >= 0 && k < SPLIT_COUNT) ? names[k] : "?";
}

static int is_null(const yaml_node_t *n)
{
    if (!n) return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *scalar(const yaml_node_t *n)
{
    return (n && n->type == YAML_SCALAR_NODE) ? (const char *)n->data.scalar.value : NULL;
}

static const char *node_kind(const yaml_node_t *n)
{
    if (!n) return "missing";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    return "a scalar";
}

static int parse_int(const char *s, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

/* The path of a train/val/test entry, with YOLOv5's "../" retry for strings. */
static char *resolve_source(const char *root, const char *s, int retry_parent)
{
    char *joined = fs_join(root, s);
    if (!joined) return NULL;
    char *r = fs_resolve(joined);
    free(joined);
    if (r && retry_parent && !strncmp(s, "../", 3) && access(r, F_OK) != 0) {
        char *alt_joined = fs_join(root, s + 3);
        char *alt = alt_joined ? fs_resolve(alt_joined) : NULL;
        free(alt_joined);
        if (alt) {
            free(r);
            r = alt;
        }
    }
    return r;
}

static int load_names(const char *yaml_path, yaml_document_t *doc, yaml_node_t *v, StrList *names, Error *e)
{
    if (v->type == YAML_SEQUENCE_NODE) {
        int i = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
            const char *s = scalar(yaml_document_get_node(doc, *it));
            if (!s || !*s) return err_set(e, "%s: names[%d] is not a non-empty string", yaml_path, i);
            if (strlist_push(names, s)) return err_set(e, "%s: out of memory", yaml_path);
        }
        return 0;
    }
    if (v->type != YAML_MAPPING_NODE)
        return err_set(e, "%s: 'names' is %s; expected a list or a mapping index: name", yaml_path, node_kind(v));
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    char **slot = calloc(n ? n : 1, sizeof *slot);
    if (!slot) return err_set(e, "%s: out of memory", yaml_path);
    int rc = 0;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top && !rc; p++) {
        const char *ks = scalar(yaml_document_get_node(doc, p->key));
        const char *vs = scalar(yaml_document_get_node(doc, p->value));
        long k;
        if (parse_int(ks, &k))
            rc = err_set(e, "%s: names key '%s' is not an integer (use 0: name, 1: name, ...)", yaml_path, ks ? ks : "?");
        else if (k < 0 || (size_t)k >= n)
            rc = err_set(e, "%s: names key %ld is out of range 0..%zu (keys must be 0..nc-1)", yaml_path, k, n - 1);
        else if (slot[k])
            rc = err_set(e, "%s: names key %ld appears twice", yaml_path, k);
        else if (!vs || !*vs)
            rc = err_set(e, "%s: names[%ld] is not a non-empty string", yaml_path, k);
        else if (!(slot[k] = strdup(vs)))
            rc = err_set(e, "%s: out of memory", yaml_path);
    }
    for (size_t i = 0; i < n; i++) {
        if (!rc && strlist_push_owned(names, slot[i])) rc = err_set(e, "%s: out of memory", yaml_path);
        else if (rc) free(slot[i]);
    }
    free(slot);
    return rc;
}

int dataset_config_load(const char *yaml_path, DatasetConfig *cfg, Error *e)
{
    memset(cfg, 0, sizeof *cfg);
    unsigned char *text;
    size_t size;
    if (fs_read_file(yaml_path, &text, &size, e)) return err_prefix(e, "dataset YAML");
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return err_set(e, "%s: cannot initialise the YAML parser", yaml_path);
    }
    yaml_parser_set_input_string(&parser, text, size);
    if (!yaml_parser_load(&parser, &doc)) {
        err_set(e, "%s: YAML error at line %zu, column %zu: %s", yaml_path, parser.problem_mark.line + 1,
                parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        free(text);
        return -1;
    }
    int rc = -1;
    cfg->yaml_path = strdup(yaml_path);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        err_set(e, "%s: expected a mapping of keys (path, train, val, names, ...), found %s", yaml_path,
                root ? node_kind(root) : "an empty document");
        goto done;
    }
    yaml_node_t *val_of[32] = {0};
    static const char *keys[] = {"path", "train", "val", "test", "nc", "names",
                                 "train_annotations", "val_annotations", "test_annotations"};
    enum { K_PATH, K_TRAIN, K_VAL, K_TEST, K_NC, K_NAMES, K_TRAIN_ANN, K_VAL_ANN, K_TEST_ANN, K_COUNT };
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = scalar(yaml_document_get_node(&doc, p->key));
        if (!k) continue;
        for (int i = 0; i < K_COUNT; i++)
            if (!strcmp(k, keys[i])) val_of[i] = yaml_document_get_node(&doc, p->value);
    }
    /* path */
    const char *path = "";
    if (!is_null(val_of[K_PATH])) {
        path = scalar(val_of[K_PATH]);
        if (!path) {
            err_set(e, "%s: 'path' is %s, not a string", yaml_path, node_kind(val_of[K_PATH]));
            goto done;
        }
    }
    cfg->root = fs_resolve(*path ? path : ".");
    if (!cfg->root) {
        err_set(e, "%s: out of memory", yaml_path);
        goto done;
    }
    /* splits */
    for (int s = 0; s < SPLIT_COUNT; s++) {
        yaml_node_t *v = val_of[K_TRAIN + s];
        if (is_null(v)) {
            if (s != SPLIT_TEST) {
                err_set(e, "%s: '%s:' field missing (image folder, list file or list of them, relative to 'path')",
                        yaml_path, split_name((SplitKind)s));
                goto done;
            }
            continue;
        }
        if (v->type == YAML_SCALAR_NODE) {
            char *r = resolve_source(cfg->root, scalar(v), 1);
            if (strlist_push_owned(&cfg->split[s].sources, r)) {
                err_set(e, "%s: out of memory", yaml_path);
                goto done;
            }
        } else if (v->type == YAML_SEQUENCE_NODE) {
            int i = 0;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
                const char *x = scalar(yaml_document_get_node(&doc, *it));
                if (!x || !*x) {
                    err_set(e, "%s: %s[%d] is not a path string", yaml_path, split_name((SplitKind)s), i);
                    goto done;
                }
                if (strlist_push_owned(&cfg->split[s].sources, resolve_source(cfg->root, x, 0))) {
                    err_set(e, "%s: out of memory", yaml_path);
                    goto done;
                }
            }
            if (!i) {
                err_set(e, "%s: '%s' is an empty list", yaml_path, split_name((SplitKind)s));
                goto done;
            }
        } else {
            err_set(e, "%s: '%s' is %s; expected a path or a list of paths", yaml_path, split_name((SplitKind)s),
                    node_kind(v));
            goto done;
        }
        yaml_node_t *ann = val_of[K_TRAIN_ANN + s];
        if (!is_null(ann)) {
            const char *a = scalar(ann);
            if (!a) {
                err_set(e, "%s: '%s_annotations' is %s, not a path", yaml_path, split_name((SplitKind)s),
                        node_kind(ann));
                goto done;
            }
            if (cfg->split[s].sources.count != 1) {
                err_set(e, "%s: '%s_annotations' needs '%s' to be one image folder (file_name is relative to it)",
                        yaml_path, split_name((SplitKind)s), split_name((SplitKind)s));
                goto done;
            }
            char *joined = fs_join(cfg->root, a);
            cfg->split[s].annotations = joined ? fs_resolve(joined) : NULL;
            free(joined);
            if (!cfg->split[s].annotations) {
                err_set(e, "%s: out of memory", yaml_path);
                goto done;
            }
        }
    }
    for (int s = 0; s < SPLIT_COUNT; s++) {
        if (is_null(val_of[K_TRAIN + s]) && !is_null(val_of[K_TRAIN_ANN + s])) {
            err_set(e, "%s: '%s_annotations' is set but '%s' (the image folder) is not", yaml_path,
                    split_name((SplitKind)s), split_name((SplitKind)s));
            goto done;
        }
    }
    /* classes */
    if (!is_null(val_of[K_NAMES]) && load_names(yaml_path, &doc, val_of[K_NAMES], &cfg->names, e)) goto done;
    long nc = 0;
    if (!is_null(val_of[K_NC])) {
        if (parse_int(scalar(val_of[K_NC]), &nc) || nc <= 0 || nc > 100000) {
            err_set(e, "%s: 'nc' must be a positive integer", yaml_path);
            goto done;
        }
        if (cfg->names.count && (size_t)nc != cfg->names.count) {
            err_set(e, "%s: 'nc' is %ld but 'names' has %zu entries", yaml_path, nc, cfg->names.count);
            goto done;
        }
    }
    cfg->nc = cfg->names.count ? (int)cfg->names.count : (int)nc;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        if (cfg->split[s].sources.count && !cfg->split[s].annotations && !cfg->names.count) {
            err_set(e, "%s: 'names' missing: the %s split uses YOLO txt labels, which carry no class names",
                    yaml_path, split_name((SplitKind)s));
            goto done;
        }
    }
    rc = 0;
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    if (rc) dataset_config_free(cfg);
    return rc;
}

void dataset_config_free(DatasetConfig *cfg)
{
    free(cfg->yaml_path);
    free(cfg->root);
    for (int s = 0; s < SPLIT_COUNT; s++) {
        strlist_free(&cfg->split[s].sources);
        free(cfg->split[s].annotations);
    }
    strlist_free(&cfg->names);
    memset(cfg, 0, sizeof *cfg);
}
