/* A tiny test harness. Each test binary defines test functions, lists them in
 * TEST_MAIN, and prints one line per test ("ok - name" or "FAIL - name") and a
 * final "RESULT <passed> <failed>" line that tests/run.sh adds up. A test fails
 * when any CHECK in it fails; the first few failing checks are printed with
 * their file, line and values. */
#ifndef YV5_TEST_H
#define YV5_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int failed_checks;
    int checks;
} TestState;

static TestState test_state_;

#define TEST_REPORT_LIMIT 8

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        test_state_.checks++;                                                                 \
        if (!(cond)) {                                                                        \
            if (test_state_.failed_checks++ < TEST_REPORT_LIMIT) {                            \
                fprintf(stdout, "    %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
                fprintf(stdout, __VA_ARGS__);                                                 \
                fputc('\n', stdout);                                                          \
            }                                                                                 \
        }                                                                                     \
    } while (0)

/* |got - want| <= atol + rtol * |want|, and NaN never passes. */
static inline int test_close(double got, double want, double atol, double rtol)
{
    if (isnan(got) || isnan(want)) return 0;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

#define CHECK_CLOSE(got, want, atol, rtol)                                                 \
    CHECK(test_close((got), (want), (atol), (rtol)), "got %.9g want %.9g (atol %g rtol %g)", \
          (double)(got), (double)(want), (double)(atol), (double)(rtol))

/* Compares two float arrays element by element; reports the worst element. */
static inline int test_arrays_close(const char *what, const float *got, const float *want,
                                    size_t count, double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < count; i++) {
        double g = got[i], w = want[i];
        double excess = fabs(g - w) - (atol + rtol * fabs(w));
        if (isnan(g) != isnan(w) || (!isnan(w) && excess > 0)) {
            bad++;
            if (isnan(g) || excess > worst_excess) {
                worst_excess = isnan(g) ? INFINITY : excess;
                worst = i;
            }
        }
    }
    if (bad) {
        fprintf(stdout, "    %s: %zu of %zu elements differ; worst [%zu] got %.9g want %.9g (atol %g rtol %g)\n",
                what, bad, count, worst, (double)got[worst], (double)want[worst], atol, rtol);
    }
    return bad == 0;
}

#define CHECK_ARRAYS_CLOSE(what, got, want, count, atol, rtol) \
    CHECK(test_arrays_close((what), (got), (want), (count), (atol), (rtol)), "%s", (what))

typedef struct {
    const char *name;
    void (*fn)(void);
} TestCase;

#define TEST_ENTRY(fn) {#fn, fn}

/* Runs the listed tests (or only those whose name contains argv[1]). */
static inline int test_run_all(const TestCase *cases, int count, int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < count; i++) {
        if (argc > 1 && !strstr(cases[i].name, argv[1])) continue;
        test_state_.failed_checks = 0;
        test_state_.checks = 0;
        cases[i].fn();
        if (test_state_.failed_checks == 0 && test_state_.checks > 0) {
            printf("ok - %s (%d checks)\n", cases[i].name, test_state_.checks);
            passed++;
        } else {
            if (test_state_.checks == 0) printf("    test made no checks\n");
            printf("FAIL - %s (%d of %d checks failed)\n", cases[i].name,
                   test_state_.failed_checks, test_state_.checks);
            failed++;
        }
        fflush(stdout);
    }
    printf("RESULT %d %d\n", passed, failed);
    return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                 \
    int main(int argc, char **argv)                                                    \
    {                                                                                  \
        static const TestCase cases_[] = {__VA_ARGS__};                                \
        return test_run_all(cases_, (int)(sizeof cases_ / sizeof cases_[0]), argc, argv); \
    }

#endif
