/* detect.py's annotated image: each detection's box in its class colour with
 * a "name 0.87" label (Annotator.box_label; hide_labels: box only,
 * hide_conf: the name only), drawn lowest score first so the best boxes end
 * on top, and the image written next to the input's name in the same format
 * (JPEG quality 95 as cv2.imwrite, PNG, BMP; other formats as JPEG with
 * ".jpg" appended). The font is our 5x7 bitmap (draw/draw.h), not OpenCV's
 * Hershey font, so pixels differ from YOLOv5's pictures. */
#ifndef YV5_DETECT_ANNOTATE_H
#define YV5_DETECT_ANNOTATE_H

#include "core/error.h"
#include "data/image.h"

typedef struct {
    int line_width;      /* box outline, pixels (>= 1) */
    int hide_labels, hide_conf;
    const char *const *names; /* nc names (NULL: class numbers) */
    int nc;
} AnnotateOptions;

/* Draws n detection rows (x1, y1, x2, y2, conf, cls; original pixels,
 * descending score) on img. */
void detect_annotate(ImageU8 *img, const float *det, int n, const AnnotateOptions *o);

/* The label of one detection into buf: "name 0.87", "name" or "". */
void detect_label_text(const AnnotateOptions *o, int cls, float conf, char *buf, size_t cap);

/* Where detect writes the annotated copy of input_path inside dir (malloc'd):
 * dir/<name> for .jpg/.jpeg/.png/.bmp, dir/<name>.jpg otherwise. */
char *detect_output_image_path(const char *dir, const char *input_path);

/* Writes img to path in the format its extension names (JPEG otherwise). */
int detect_write_image(const ImageU8 *img, const char *path, Error *e);

#endif
