/* detect --source listing as detect.py's LoadImages: file, directory (*.*,
 * sorted, not recursive, hidden files skipped), glob with ** and character
 * classes, image/video extension filters, missing paths and empty folders. */
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/fsutil.h"
#include "detect/detect_sources.h"

static char root[256];

static void touch(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
}

static void make_tree(void)
{
    if (root[0]) return;
    snprintf(root, sizeof root, "/tmp/yv5_sources_XXXXXX");
    if (!mkdtemp(root)) {
        root[0] = 0;
        return;
    }
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sub/deeper", root);
    Error e;
    fs_mkdirs(sub, &e);
    snprintf(sub, sizeof sub, "%s/empty", root);
    fs_mkdirs(sub, &e);
    touch("b.jpg");
    touch("a.PNG");
    touch("c.jpeg");
    touch("notes.txt");
    touch("clip.mp4");
    touch(".hidden.jpg");
    touch("noext");
    touch("sub/d.jpg");
    touch("sub/deeper/e.bmp");
    touch("empty/readme.md");
}

/* Returns the listed paths relative to root, joined with ' ', or "ERR: msg". */
static char *list(const char *source_rel, size_t *videos)
{
    static char buf[2048];
    char source[512];
    snprintf(source, sizeof source, "%s/%s", root, source_rel);
    StrList l = {0};
    Error e;
    if (detect_list_sources(source, &l, videos, &e) != 0) {
        snprintf(buf, sizeof buf, "ERR: %s", e.msg);
        return buf;
    }
    size_t len = 0, rl = strlen(root);
    buf[0] = 0;
    for (size_t i = 0; i < l.count; i++) {
        const char *p = l.items[i];
        if (!strncmp(p, root, rl) && p[rl] == '/') p += rl + 1;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "", p);
    }
    strlist_free(&l);
    return buf;
}

static void directory_listing(void)
{
    make_tree();
    CHECK(root[0], "temp dir");
    size_t videos = 0;
    const char *got = list("", &videos);
    /* byte order: upper case first; hidden, non-image and extension-less files left out */
    CHECK(!strcmp(got, "a.PNG b.jpg c.jpeg"), "%s", got);
    CHECK(videos == 1, "videos %zu", videos);
    got = list("sub", NULL);
    CHECK(!strcmp(got, "sub/d.jpg"), "not recursive: %s", got);
}

static void single_file_and_relative_paths(void)
{
    make_tree();
    const char *got = list("sub/d.jpg", NULL);
    CHECK(!strcmp(got, "sub/d.jpg"), "%s", got);
    /* a relative source is resolved against the current directory */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "cwd");
    CHECK(chdir(root) == 0, "chdir");
    StrList l = {0};
    Error e;
    CHECK(detect_list_sources("./sub/../b.jpg", &l, NULL, &e) == 0, "%s", e.msg);
    char want[512];
    char *real_root = fs_resolve(root);
    snprintf(want, sizeof want, "%s/b.jpg", real_root);
    CHECK(l.count == 1 && !strcmp(l.items[0], want), "%s vs %s", l.count ? l.items[0] : "-", want);
    free(real_root);
    strlist_free(&l);
    CHECK(chdir(cwd) == 0, "chdir back");
}

static void globs(void)
{
    make_tree();
    const char *got = list("*.jpg", NULL);
    CHECK(!strcmp(got, "b.jpg"), "%s", got);
    got = list("**/*.jpg", NULL);
    CHECK(!strcmp(got, "b.jpg sub/d.jpg"), "%s", got);
    got = list("**/*", NULL);
    CHECK(!strcmp(got, "a.PNG b.jpg c.jpeg sub/d.jpg sub/deeper/e.bmp"), "%s", got);
    got = list("[ab].*", NULL);
    CHECK(!strcmp(got, "a.PNG b.jpg"), "%s", got);
    got = list("s*/d.jpg", NULL);
    CHECK(!strcmp(got, "sub/d.jpg"), "%s", got);
    got = list(".*.jpg", NULL);
    CHECK(!strcmp(got, ".hidden.jpg"), "a pattern starting with '.' matches hidden files: %s", got);
    got = list("*.gif", NULL);
    CHECK(!strncmp(got, "ERR: No images found in ", 24), "%s", got);
}

static void errors(void)
{
    make_tree();
    const char *got = list("missing.jpg", NULL);
    CHECK(strstr(got, "ERR: ") == got && strstr(got, "missing.jpg does not exist"), "%s", got);
    got = list("empty", NULL);
    CHECK(strstr(got, "ERR: No images found in ") == got && strstr(got, "jpg"), "%s", got);
    got = list("clip.mp4", NULL);
    CHECK(strstr(got, "videos are not supported"), "%s", got);
    StrList l = {0};
    Error e;
    CHECK(detect_list_sources("", &l, NULL, &e) == -1, "empty source");
    CHECK(detect_is_image_name("x.JPG") && detect_is_image_name("a.b.webp") && detect_is_image_name("jpg") /* "jpg".split(".")[-1] */ &&
              !detect_is_image_name("x.jpg.txt") && detect_is_video_name("m.MP4"),
          "extension rules");
}

static void cleanup(void)
{
    CHECK(root[0], "temp dir");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "rm");
}

TEST_MAIN(TEST_ENTRY(directory_listing), TEST_ENTRY(single_file_and_relative_paths), TEST_ENTRY(globs),
          TEST_ENTRY(errors), TEST_ENTRY(cleanup))
