/* Weights or checkpoint -> Model (inference_model.h). */
#include "val/inference_model.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"
#include "model/model_config.h"
#include "train/checkpoint.h"

/* The __metadata__ object of a safetensors file, read from its header alone
 * (8-byte length + JSON) so a large file is not read twice; NULL when the
 * file cannot be read or has none. Free with cJSON_Delete(*root). */
static const cJSON *read_metadata(const char *path, cJSON **root)
{
    *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char len_bytes[8];
    if (fread(len_bytes, 1, 8, f) == 8) {
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--) len = (len << 8) | len_bytes[i];
        char *header = len > 0 && len < (100u << 20) ? malloc((size_t)len + 1) : NULL;
        if (header && fread(header, 1, (size_t)len, f) == (size_t)len) {
            header[len] = 0;
            *root = cJSON_Parse(header);
        }
        free(header);
    }
    fclose(f);
    return cJSON_GetObjectItemCaseSensitive(*root, "__metadata__");
}

int inference_is_checkpoint(const char *path)
{
    cJSON *root;
    const cJSON *meta = read_metadata(path, &root);
    int found = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(meta, "checkpoint"));
    cJSON_Delete(root);
    return found;
}

/* --cfg: the network from a YAML, the weights from the file (strictly). */
static int load_with_cfg(const char *path, const char *cfg, Model *m, Error *e)
{
    cJSON *root;
    const cJSON *meta = read_metadata(path, &root);
    const char *nc_text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "nc"));
    int nc = nc_text ? atoi(nc_text) : 0;
    cJSON_Delete(root);
    if (model_create_from_yaml(m, cfg, nc > 0 ? nc : 0, e) != 0) return err_prefix(e, "--cfg");
    if (model_load_weights(m, path, e) != 0) {
        model_free(m);
        memset(m, 0, sizeof *m);
        return -1;
    }
    return 0;
}

/* Names from a JSON list of nc strings (metadata "names"). */
static int set_names_json(Model *m, const char *json, const char *path, Error *e)
{
    cJSON *list = cJSON_Parse(json);
    int n = cJSON_GetArraySize(list), rc = 0;
    if (!cJSON_IsArray(list) || n != m->nc) {
        cJSON_Delete(list);
        return err_set(e, "%s: metadata names is not a list of %d strings", path, m->nc);
    }
    const char **names = calloc((size_t)n + 1, sizeof *names);
    for (int i = 0; names && i < n; i++) {
        names[i] = cJSON_GetStringValue(cJSON_GetArrayItem(list, i));
        if (!names[i]) rc = err_set(e, "%s: metadata names[%d] is not a string", path, i);
    }
    if (!names) rc = err_set(e, "%s: out of memory", path);
    if (rc == 0) rc = model_set_names(m, names, n, e);
    free(names);
    cJSON_Delete(list);
    return rc;
}

/* A training checkpoint: the network from its model_yaml, the EMA weights
 * (its plain keys; raw.*, momentum.*, adam_v.* are the resume state and are
 * not needed here). */
static int load_checkpoint(const char *path, const char *cfg, Model *m, Error *e)
{
    SafeTensors st;
    if (st_read(&st, path, e) != 0) return -1;
    const char *yaml = st_meta(&st, "model_yaml"), *nc_text = st_meta(&st, "nc"), *names = st_meta(&st, "names");
    int nc = nc_text ? atoi(nc_text) : 0, rc = 0;
    ModelConfig mc;
    if (cfg) rc = model_config_load(cfg, nc > 0 ? nc : 0, &mc, e) ? err_prefix(e, "--cfg") : 0;
    else if (!yaml || !*yaml) rc = err_set(e, "%s: no model_yaml metadata: give the model with --cfg", path);
    else if (model_config_parse_string(yaml, path, nc > 0 ? nc : 0, &mc, e) != 0) rc = err_prefix(e, "%s: model_yaml", path);
    if (rc == 0 && model_create(m, &mc, e) != 0) rc = -1;
    int created = rc == 0;
    if (rc == 0 && names) rc = set_names_json(m, names, path, e);
    st_free(&st);
    int copied = 0;
    if (rc == 0 && weights_transfer(m, path, 0, &copied, e) != 0) rc = -1;
    if (rc == 0 && copied != m->table.n_entries)
        rc = err_set(e, "%s: the checkpoint holds %d of the model's %d tensors (under their plain keys, with the "
                        "model's shapes)",
                     path, copied, m->table.n_entries);
    if (rc != 0 && created) {
        model_free(m);
        memset(m, 0, sizeof *m);
    }
    return rc;
}

int inference_model_load(const char *path, const char *cfg, Model *m, Error *e)
{
    memset(m, 0, sizeof *m);
    if (inference_is_checkpoint(path)) return load_checkpoint(path, cfg, m, e);
    return cfg ? load_with_cfg(path, cfg, m, e) : model_create_from_weights(m, path, e);
}
