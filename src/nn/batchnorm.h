/* BatchNorm2d with PyTorch semantics: training mode normalises with the batch
 * mean and biased variance and updates the running statistics as
 *     running = (1 - momentum) * running + momentum * batch_stat
 * with the unbiased variance (M/(M-1), M = n*h*w) for running_var. Eval mode
 * uses the running statistics. YOLOv5: eps 1e-3, momentum 0.03. */
#ifndef YV5_BATCHNORM_H
#define YV5_BATCHNORM_H

typedef struct {
    int c;
    float eps, momentum;
} BatchNorm;

/* x, y: (n, c, hw). Writes save_mean and save_invstd (c each: batch mean and
 * 1/sqrt(biased var + eps)) for the backward pass and updates running_mean /
 * running_var in place (skipped when they are NULL). y may alias x. */
void batchnorm_forward_train(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                             const float *beta, float *running_mean, float *running_var, float *y,
                             float *save_mean, float *save_invstd);
void batchnorm_forward_eval(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float *y);
/* Training-mode backward. dx += ..., dgamma += ..., dbeta += ... (each skipped when NULL). */
void batchnorm_backward(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                        const float *save_mean, const float *save_invstd, const float *dy,
                        float *dx, float *dgamma, float *dbeta);

#endif
