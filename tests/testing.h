/*  testing.h: the assertion helpers of the C unit tests.

    Each test is a function; main() runs them with RUN(name). A failed CHECK
    prints file:line and both values, marks the test failed and returns from
    it. The binary prints one line per test and a closing
    "<binary>: N passed, N failed" that tests/run.sh adds up.
    Tests never build with NDEBUG.

    Running one test by name (CZMQ's selftest -t, libuv's runner):

        build/asan/tests/test_msg -t test_cmd_names [-t test_dump_is_json]
        build/asan/tests/test_msg -l             (lists the names, runs nothing)

    The options are read before main() runs (see testing_args_fn), so every
    test binary has them whatever its main looks like; a main that reads its
    own arguments sees them too and ignores what it does not know. A name
    that no RUN matched makes TEST_REPORT print an error and return 2.

    Temporary directories: testing_tmpdir makes a fresh 0700 directory under
    $TMPDIR (default /tmp), testing_rmtree removes one with everything in it.
*/
#ifndef MLOPS_TESTING_H
#define MLOPS_TESTING_H

#ifdef NDEBUG
#error "tests must not be built with NDEBUG"
#endif

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TESTING_SELECT_MAX 64   //  -t options one run takes

static int t_failed_now;
static int t_passed, t_failed;

static struct {
    const char *names[TESTING_SELECT_MAX];  //  the -t NAMEs, in argv order
    bool matched[TESTING_SELECT_MAX];       //  a RUN of that name was reached
    int count;                              //  how many -t were given
    bool list;                              //  -l: print names, run nothing
} t_select;

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

//  Runs the test function fn unless -t names others (or -l lists).
#define RUN(fn) testing_run(#fn, fn)

//  Prints the closing line and returns the exit code for main: 0, 1 when a
//  test failed, 2 when a -t name matched no test.
#define TEST_REPORT(name) testing_report(name)

//  --- selection (-t NAME, -l) --------------------------------------------

#ifdef __GLIBC__
//  Reads -t NAME and -l from the command line, leaving other arguments to
//  main. glibc calls .init_array functions with (argc, argv, envp) before
//  main, which is what lets `int main(void)` test files take the options
//  unchanged; other C libraries would pass nothing, so elsewhere the options
//  are not read at all. A -t without a name is a usage error (exit 2).
static void testing_args_fn(int argc, char **argv, char **envp)
{
    (void)envp;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-l") == 0)
            t_select.list = true;
        else if (strcmp(argv[i], "-t") == 0) {
            if (i + 1 >= argc || t_select.count == TESTING_SELECT_MAX) {
                fprintf(stderr, "%s: -t takes one test name (at most %d -t)\n", argv[0],
                        TESTING_SELECT_MAX);
                exit(2);
            }
            t_select.names[t_select.count++] = argv[++i];
        }
    }
}
__attribute__((section(".init_array"), used))
static void (*const testing_args_init)(int, char **, char **) = testing_args_fn;
#endif

//  True when name is to run; marks the -t it matched.
static inline bool testing_selected(const char *name)
{
    if (t_select.count == 0)
        return true;
    bool hit = false;
    for (int i = 0; i < t_select.count; i++)
        if (strcmp(t_select.names[i], name) == 0)
            hit = t_select.matched[i] = true;
    return hit;
}

static inline void testing_run(const char *name, void (*fn)(void))
{
    if (!testing_selected(name))
        return;
    if (t_select.list) {
        printf("%s\n", name);
        return;
    }
    t_failed_now = 0;
    fn();
    if (t_failed_now) {
        t_failed++;
        printf("FAIL %s\n", name);
    } else {
        t_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

static inline int testing_report(const char *name)
{
    int unknown = 0;
    for (int i = 0; i < t_select.count; i++)
        if (!t_select.matched[i]) {
            fprintf(stderr, "%s: no test named '%s' (-l lists them)\n", name, t_select.names[i]);
            unknown++;
        }
    if (unknown)
        return 2;
    if (t_select.list)
        return 0;
    printf("%s: %d passed, %d failed\n", name, t_passed, t_failed);
    return t_failed ? 1 : 0;
}

//  --- temporary directories ----------------------------------------------

//  Makes a fresh directory $TMPDIR/<prefix>.XXXXXX (mode 0700, mkdtemp's)
//  and writes its path into dir. Returns 0, or -1 with errno set (ENAMETOOLONG
//  when dir_size is too small).
static inline int testing_tmpdir(char *dir, size_t dir_size, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(dir, dir_size, "%s/%s.XXXXXX", base && *base ? base : "/tmp", prefix);
    if (n < 0 || (size_t)n >= dir_size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(dir) ? 0 : -1;
}

static inline int testing_rm_fn(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

//  Removes path and everything under it, symlinks as links (never followed).
//  Returns 0, or -1 with errno set; a missing path is ENOENT.
static inline int testing_rmtree(const char *path)
{
    return nftw(path, testing_rm_fn, 16, FTW_DEPTH | FTW_PHYS);
}

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
