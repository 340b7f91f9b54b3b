/* Operation counts and module counts (see flops.h). */
#include "model/flops.h"

#include <stdlib.h>

/* Conv2d + BatchNorm2d on an output of h x w: MACs plus one op per BN output. */
static double conv_unit_ops(double h, double w, int c_in, int c_out, int k)
{
    double out = h * w * c_out;
    return out * c_in * k * k + out;
}

int model_ops_at(const ModelConfig *cfg, int in_h, int in_w, double *layer_ops, double *total, Error *err)
{
    int n = cfg->n_layers;
    int *hw = malloc(sizeof(int) * 2 * (size_t)n);
    if (!hw) return err_set(err, "flops: out of memory");
    int *out_h = hw, *out_w = hw + n;
    if (model_config_spatial(cfg, in_h, in_w, out_h, out_w, err)) {
        free(hw);
        return err_prefix(err, "flops at %dx%d", in_h, in_w);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const ModelLayer *L = &cfg->layers[i];
        double h = out_h[i], w = out_w[i], ops = 0;
        switch (L->kind) {
        case MODULE_CONV: ops = conv_unit_ops(h, w, L->c_in, L->c_out, L->conv.k); break;
        case MODULE_C3: {
            int c_ = L->c3.hidden;
            ops = 2 * conv_unit_ops(h, w, L->c_in, c_, 1) + conv_unit_ops(h, w, 2 * c_, L->c_out, 1);
            ops += L->c3.n * (conv_unit_ops(h, w, c_, c_, 1) + conv_unit_ops(h, w, c_, c_, 3));
            break;
        }
        case MODULE_SPPF: {
            int c_ = L->sppf.hidden;
            ops = conv_unit_ops(h, w, L->c_in, c_, 1) + conv_unit_ops(h, w, 4 * c_, L->c_out, 1);
            break;
        }
        case MODULE_UPSAMPLE:
        case MODULE_CONCAT: break;
        case MODULE_DETECT:
            for (int l = 0; l < L->n_inputs; l++) {
                int src = L->inputs[l];
                double lh = src < 0 ? in_h : out_h[src], lw = src < 0 ? in_w : out_w[src];
                ops += lh * lw * (double)L->detect.na * L->detect.no * L->in_ch[l]; /* bias not counted */
            }
            break;
        }
        if (layer_ops) layer_ops[i] = ops;
        sum += ops;
    }
    free(hw);
    *total = sum;
    return 0;
}

int model_profile_size(const ModelConfig *cfg)
{
    int s = 32;
    for (int l = 0; l < cfg->nl; l++)
        if ((int)cfg->stride[l] > s) s = (int)cfg->stride[l];
    return s;
}

double model_gflops(const ModelConfig *cfg, int img_h, int img_w)
{
    int s = model_profile_size(cfg);
    double ops;
    if (model_ops_at(cfg, s, s, NULL, &ops, NULL)) return -1;
    return ops / 1e9 * 2 * img_h / s * img_w / s;
}

int model_module_count(const ModelConfig *cfg)
{
    int count = 2, silu = 0; /* DetectionModel, its Sequential */
    for (int i = 0; i < cfg->n_layers; i++) {
        const ModelLayer *L = &cfg->layers[i];
        switch (L->kind) {
        case MODULE_CONV:
            count += L->conv.act ? 3 : 4; /* act=False gets its own nn.Identity */
            silu |= L->conv.act;
            break;
        case MODULE_C3: count += 1 + 3 * 3 + 1 + L->c3.n * (1 + 2 * 3), silu = 1; break;
        case MODULE_SPPF: count += 1 + 2 * 3 + 1, silu = 1; break;
        case MODULE_UPSAMPLE:
        case MODULE_CONCAT: count += 1; break;
        case MODULE_DETECT: count += 2 + L->n_inputs; break;
        }
    }
    return count + silu;
}
