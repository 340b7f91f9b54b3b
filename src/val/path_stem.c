/* Path(p).stem (path_stem.h). */
#include "val/path_stem.h"

#include <stdio.h>
#include <string.h>

void path_stem(const char *path, char *out, size_t cap)
{
    /* pathlib ignores trailing slashes: "a/b.jpg/" names b.jpg */
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t len = end - start;
    size_t dot = len;
    for (size_t i = len; i-- > 0;)
        if (path[start + i] == '.') {
            if (i > 0 && i < len - 1) dot = i;
            break;
        }
    snprintf(out, cap, "%.*s", (int)dot, path + start);
}
