#include "core/error.h"
#include "test.h"

static void set_and_prefix(void)
{
    Error e;
    CHECK(err_set(&e, "bad value %d", 7) == -1, "err_set must return -1");
    CHECK(!strcmp(e.msg, "bad value 7"), "got '%s'", e.msg);
    CHECK(err_prefix(&e, "file %s", "a.yaml") == -1, "err_prefix must return -1");
    CHECK(!strcmp(e.msg, "file a.yaml: bad value 7"), "got '%s'", e.msg);
    CHECK(err_set(NULL, "ignored") == -1 && err_prefix(NULL, "x") == -1, "NULL error must be allowed");
}

static void prefix_truncates_safely(void)
{
    Error e;
    char long_text[2000];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    err_set(&e, "%s", long_text);
    err_prefix(&e, "ctx");
    CHECK(strlen(e.msg) == sizeof e.msg - 1, "length %zu", strlen(e.msg));
    CHECK(!strncmp(e.msg, "ctx: xxx", 8), "got '%.10s'", e.msg);
    err_set(&e, "tail");
    err_prefix(&e, "%s", long_text);
    CHECK(strlen(e.msg) < sizeof e.msg, "unterminated");
}

TEST_MAIN(TEST_ENTRY(set_and_prefix), TEST_ENTRY(prefix_truncates_safely))
