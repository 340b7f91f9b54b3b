/* Model size figures as YOLOv5 v7.0's model summary reports them (spec §1.4):
 * operation counts in thop's convention, the GFLOPs figure, and the "layers"
 * count (the number of torch modules in the training model).
 *
 * Operations of one forward pass: one per convolution multiply-accumulate
 * (output elements x c_in x k x k) plus one per BatchNorm output element;
 * SiLU, pooling, upsampling, concatenation and the residual adds count zero,
 * as thop counts them. YOLOv5 profiles at S x S with S = max(largest stride,
 * 32), doubles the count and scales it by (img_h / S) * (img_w / S). */
#ifndef YV5_FLOPS_H
#define YV5_FLOPS_H

#include "core/error.h"
#include "model/model_config.h"

/* Operations for an in_h x in_w input: per layer into layer_ops (n_layers
 * doubles; may be NULL) and their sum into *total. Fails (naming the layer)
 * when the size does not fit the network. */
int model_ops_at(const ModelConfig *cfg, int in_h, int in_w, double *layer_ops, double *total, Error *err);

/* The size YOLOv5 profiles at: max(int(largest Detect stride), 32). */
int model_profile_size(const ModelConfig *cfg);

/* GFLOPs exactly as the summary line computes them for an img_h x img_w
 * image: 2 * ops(S x S) / 1e9 * (img_h / S) * (img_w / S). -1 when the
 * profile size does not fit the network (YOLOv5 then omits the figure). */
double model_gflops(const ModelConfig *cfg, int img_h, int img_w);

/* Number of torch modules in the unfused training model, the "layers" of
 * YOLOv5's summary (214 for yolov5n/s): the model, its Sequential, each Conv
 * (3: Conv, Conv2d, BatchNorm2d), each C3 / Bottleneck / SPPF container and
 * its parts, Upsample, Concat, Detect with its ModuleList and convs, plus the
 * single SiLU instance all Convs share. */
int model_module_count(const ModelConfig *cfg);

#endif
