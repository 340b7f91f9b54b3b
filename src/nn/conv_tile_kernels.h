/* Row kernels of the tiled im2col / col2im (conv_tile.c): the strided copies
 * and accumulations of stride-2 convolutions and the row additions of
 * col2im, per ISA. Each output element is produced by the same single float
 * operation in every version, so all give the same bits. */
#ifndef YV5_CONV_TILE_KERNELS_H
#define YV5_CONV_TILE_KERNELS_H

typedef struct {
    /* dst[i] = src[2*i], i < count */
    void (*gather2)(float *dst, const float *src, int count);
    /* dst[2*i] += src[i], i < count */
    void (*scatter_add2)(float *dst, const float *src, int count);
    /* dst[i] += src[i], i < count */
    void (*add)(float *dst, const float *src, int count);
    /* even[j] = src[2*j], odd[j] = src[2*j + 1] for the count elements of src */
    void (*split2)(float *even, float *odd, const float *src, int count);
} ConvTileKernels;

extern const ConvTileKernels conv_tile_kernels_avx512;

#endif
