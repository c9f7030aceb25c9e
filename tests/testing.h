/*  testing.h: the assertion helpers of the C unit tests.

    Each test is a function; main() runs them with RUN(name). A failed CHECK
    prints file:line and both values, marks the test failed and returns from
    it. The binary prints one line per test and a closing
    "<binary>: N passed, N failed" that tests/run.sh adds up.
    Tests never build with NDEBUG.
*/
#ifndef MLOPS_TESTING_H
#define MLOPS_TESTING_H

#ifdef NDEBUG
#error "tests must not be built with NDEBUG"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_now;
static int t_passed, t_failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            t_failed_now = 1;                                                    \
            return;                                                              \
        }                                                                        \
    } while (0)

#define CHECK_INT(a, b)                                                          \
    do {                                                                         \
        long long _a = (long long)(a), _b = (long long)(b);                      \
        if (_a != _b) {                                                          \
            fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, _a, _b);                                             \
            t_failed_now = 1;                                                    \
            return;                                                              \
        }                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *_a = (a), *_b = (b);                                         \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                 \
            fprintf(stderr, "  %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__,     \
                    __LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");   \
            t_failed_now = 1;                                                    \
            return;                                                              \
        }                                                                        \
    } while (0)

//  True when haystack contains needle; prints both otherwise.
#define CHECK_CONTAINS(haystack, needle)                                         \
    do {                                                                         \
        const char *_h = (haystack), *_n = (needle);                             \
        if (!_h || !strstr(_h, _n)) {                                            \
            fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, \
                    __LINE__, _h ? _h : "(null)", _n);                           \
            t_failed_now = 1;                                                    \
            return;                                                              \
        }                                                                        \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                    \
    do {                                                                         \
        double _a = (a), _b = (b);                                               \
        if (!(fabs(_a - _b) <= (tol))) {                                         \
            fprintf(stderr, "  %s:%d: %s ~ %s: %.9g vs %.9g (tol %g)\n", __FILE__, \
                    __LINE__, #a, #b, _a, _b, (double)(tol));                    \
            t_failed_now = 1;                                                    \
            return;                                                              \
        }                                                                        \
    } while (0)

#define RUN(fn)                                                                  \
    do {                                                                         \
        t_failed_now = 0;                                                        \
        fn();                                                                    \
        if (t_failed_now) {                                                      \
            t_failed++;                                                          \
            printf("FAIL %s\n", #fn);                                            \
        } else {                                                                 \
            t_passed++;                                                          \
            printf("ok   %s\n", #fn);                                            \
        }                                                                        \
        fflush(stdout);                                                          \
    } while (0)

//  Prints the closing line and returns the exit code for main.
#define TEST_REPORT(name)                                                        \
    (printf("%s: %d passed, %d failed\n", (name), t_passed, t_failed), t_failed ? 1 : 0)

//  Path of the real Titanic file, or NULL when it is absent (tests skip).
static inline const char *testing_titanic_path(void)
{
    const char *env = getenv("MLOPS_TITANIC");
    const char *path = env ? env : "../shared/data/titanic.csv";
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fclose(f);
    return path;
}

#endif
