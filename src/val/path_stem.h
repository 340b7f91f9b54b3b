/* Python pathlib's Path(p).stem: the last path component without its suffix,
 * where the suffix starts at the last '.' when that dot is neither the first
 * nor the last character of the name ("a.tar.gz" -> "a.tar", ".bashrc" and
 * "a." unchanged). val.py and detect.py name their txt files and JSON image
 * ids after it. */
#ifndef YV5_PATH_STEM_H
#define YV5_PATH_STEM_H

#include <stddef.h>

/* Writes the stem of path into out (truncated to cap - 1 bytes). */
void path_stem(const char *path, char *out, size_t cap);

#endif
