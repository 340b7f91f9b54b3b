/* The last step of a sample (spec §5.11): the HWC RGB uint8 image becomes
 * CHW RGB float32 in [0, 1] (byte / 255, division rounded as float32, the
 * same as torch's img.float() / 255), and label rows become target rows
 * (image index in the batch, class, cx, cy, w, h). The reference flips BGR
 * to RGB here; our images are RGB already. */
#ifndef YV5_AUG_COLLATE_H
#define YV5_AUG_COLLATE_H

#include "augment/boxes.h"
#include "augment/image_ops.h"

/* dst (3·H·W floats) := img as CHW RGB / 255. */
void aug_to_chw_float(const ImageU8 *img, float *dst);
/* dst (6·labels->n floats) := rows (batch_index, class, cx, cy, w, h). */
void aug_targets(const AugBoxes *labels, int batch_index, float *dst);

#endif
