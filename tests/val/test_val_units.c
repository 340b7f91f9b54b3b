/* Small pieces of the val/detect commands: Path.stem, the option parser,
 * increment_path for the output directory. */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#include "val/cli_opts.h"
#include "val/path_stem.h"
#include "val/save_dir.h"

static void stems(void)
{
    const char *cases[][2] = {
        {"/a/b/000123.jpg", "000123"}, {"x.tar.gz", "x.tar"}, {".hidden", ".hidden"}, {"a.", "a."},
        {"dir.d/file", "file"},        {"plain", "plain"},    {"/a/b.jpg/", "b"},        {"..jpg", "."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[64];
        path_stem(cases[i][0], out, sizeof out);
        CHECK(!strcmp(out, cases[i][1]), "stem(%s) = %s, want %s", cases[i][0], out, cases[i][1]);
    }
}

typedef struct {
    const char *s;
    int img[2], n_img, flag, n;
    double x;
} Parsed;

static int parse(Parsed *p, Error *e, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->n = 7;
    const CliOpt opts[] = {
        {"--name|--alias", CLI_STRING, &p->s, 0, 0, 0, NULL},
        {"--img|--imgsz", CLI_INT_LIST, p->img, 1, 100, 2, &p->n_img},
        {"--flag", CLI_FLAG, &p->flag, 0, 0, 0, NULL},
        {"--n", CLI_INT, &p->n, -5, 5, 0, NULL},
        {"--x", CLI_DOUBLE, &p->x, 0, 1, 0, NULL},
    };
    return cli_parse(argc, argv, opts, 5, e);
}

static void option_parser(void)
{
    Parsed p;
    Error e;
    char *ok1[] = {"cmd", "--alias", "abc", "--img", "10", "20", "--flag", "--n=-3", "--x", "0.25"};
    CHECK(parse(&p, &e, 10, ok1) == 0, "%s", e.msg);
    CHECK(p.s && !strcmp(p.s, "abc") && p.n_img == 2 && p.img[0] == 10 && p.img[1] == 20 && p.flag && p.n == -3 &&
              p.x == 0.25,
          "values");
    char *ok2[] = {"cmd", "--imgsz=64", "--n", "-2"};
    CHECK(parse(&p, &e, 4, ok2) == 0 && p.n_img == 1 && p.img[0] == 64 && p.n == -2 && p.s == NULL, "defaults kept");

    struct {
        int argc;
        char *argv[4];
        const char *want;
    } bad[] = {
        {2, {"cmd", "--nope"}, "unknown option '--nope'"},
        {2, {"cmd", "stray"}, "unexpected argument 'stray'"},
        {2, {"cmd", "--name"}, "--name needs a value"},
        {3, {"cmd", "--name", "--flag"}, "--name needs a value"},
        {3, {"cmd", "--n", "x"}, "--n: 'x' is not an integer"},
        {3, {"cmd", "--n", "9"}, "--n: 9 is out of range [-5, 5]"},
        {3, {"cmd", "--x", "1.5"}, "--x: 1.5 is out of range [0, 1]"},
        {3, {"cmd", "--x", "nan"}, "--x: 'nan' is not a number"},
        {4, {"cmd", "--img", "1", "2"}, NULL},
        {2, {"cmd", "--flag=1"}, "--flag takes no value"},
        {2, {"cmd", "--name="}, "--name needs a non-empty value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(&p, &e, bad[i].argc, bad[i].argv);
        if (!bad[i].want) {
            CHECK(rc == 0, "case %zu: %s", i, e.msg);
            continue;
        }
        CHECK(rc == -1 && strstr(e.msg, bad[i].want), "case %zu: rc %d msg '%s', want '%s'", i, rc, rc ? e.msg : "",
              bad[i].want);
    }
    char *three[] = {"cmd", "--img", "1", "2", "3"};
    CHECK(parse(&p, &e, 5, three) == -1 && strstr(e.msg, "--img takes at most 2 values"), "%s", e.msg);
    char *help[] = {"cmd", "--n", "bad", "-h"};
    CHECK(parse(&p, &e, 4, help) == 1, "help wins");
}

static void increment_path(void)
{
    char root[] = "/tmp/yv5_savedir_XXXXXX";
    CHECK(mkdtemp(root) != NULL, "temp dir");
    char out[512], want[512];
    Error e;
    CHECK(save_dir_create(root, "exp", 0, 0, out, sizeof out, &e) == 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s/exp", root);
    CHECK(!strcmp(out, want), "%s", out);
    CHECK(save_dir_create(root, "exp", 0, 1, out, sizeof out, &e) == 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s/exp2", root);
    CHECK(!strcmp(out, want), "%s", out);
    struct stat st;
    snprintf(want, sizeof want, "%s/exp2/labels", root);
    CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode), "labels/ created");
    CHECK(save_dir_create(root, "exp", 0, 0, out, sizeof out, &e) == 0 && strstr(out, "/exp3"), "%s", out);
    CHECK(save_dir_create(root, "exp", 1, 0, out, sizeof out, &e) == 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s/exp", root);
    CHECK(!strcmp(out, want), "exist_ok reuses: %s", out);
    /* a file in the way of the directory */
    snprintf(want, sizeof want, "%s/file", root);
    FILE *f = fopen(want, "w");
    if (f) fclose(f);
    CHECK(save_dir_create(root, "file", 1, 0, out, sizeof out, &e) == -1, "file in the way");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "rm");
}

TEST_MAIN(TEST_ENTRY(stems), TEST_ENTRY(option_parser), TEST_ENTRY(increment_path))
