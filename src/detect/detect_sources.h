/* detect.py's --source listing (LoadImages, v7.0): the source is resolved to
 * an absolute path, then
 *   - containing '*': a glob, sorted ('*', '?' and [...] per path component,
 *     '**' as a whole component matches any number of directories, names
 *     starting with '.' only when the pattern component does);
 *   - a directory: its entries matching '*.*', sorted (not recursive);
 *   - a file: itself;
 *   - anything else: "<path> does not exist".
 * Of the files found, those with an image extension (bmp dng jpeg jpg mpo png
 * tif tiff webp pfm, any case) are kept, in that order; videos (asf avi gif
 * m4v mkv mov mp4 mpeg mpg ts wmv) are counted but not supported here. */
#ifndef YV5_DETECT_SOURCES_H
#define YV5_DETECT_SOURCES_H

#include <stddef.h>

#include "core/error.h"
#include "data/strlist.h"

/* 1 when the name's extension (after the last '.') is an image format YOLOv5 reads. */
int detect_is_image_name(const char *path);
int detect_is_video_name(const char *path);

/* Fills images (absolute paths, in YOLOv5's order). *videos (may be NULL)
 * gets the number of video files found. Fails when the source does not exist
 * or holds no image (message names the path and the supported formats). */
int detect_list_sources(const char *source, StrList *images, size_t *videos, Error *e);

#endif
