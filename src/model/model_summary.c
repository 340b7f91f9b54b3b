#include "model/model_summary.h"

void model_print_layer_table(const ModelConfig *cfg, const ParamTable *t, FILE *out)
{
    fprintf(out, "\n%3s%18s%3s%10s  %-40s%-30s\n", "", "from", "n", "params", "module", "arguments");
    for (int i = 0; i < cfg->n_layers; i++) {
        const ModelLayer *L = &cfg->layers[i];
        char from[160];
        if (L->kind == MODULE_CONCAT || L->kind == MODULE_DETECT) {
            size_t len = 0;
            from[len++] = '[';
            for (int j = 0; j < L->n_inputs; j++)
                len += (size_t)snprintf(from + len, sizeof from - len, j ? ", %d" : "%d", L->from[j]);
            snprintf(from + len, sizeof from - len, "]");
        } else {
            snprintf(from, sizeof from, "%d", L->from[0]);
        }
        fprintf(out, "%3d%18s%3d%10zu  %-40s%-30s\n", i, from, L->depth, t->layers[i].n_params, L->type_name,
                L->args_text);
    }
}
