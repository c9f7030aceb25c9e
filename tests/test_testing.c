/*  test_testing.c: the test helpers of testing.h that are code, not
    macros: the temporary directory (fresh, 0700, a clear error when the
    name does not fit) and the recursive remove (nested files, a symlink
    removed as a link, a missing path named). The -t / -l options are
    tested from outside, by tests/test_c_runner.py running this binary. */
#include "testing.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_touch(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static void test_tmpdir_is_fresh_and_private(void)
{
    char a[256], b[256];
    CHECK_INT(testing_tmpdir(a, sizeof a, "test_testing"), 0);
    CHECK_INT(testing_tmpdir(b, sizeof b, "test_testing"), 0);
    CHECK(strcmp(a, b) != 0);
    CHECK_CONTAINS(a, "/test_testing.");
    struct stat st;
    CHECK_INT(stat(a, &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_INT(st.st_mode & 0777, 0700);
    CHECK_INT(testing_rmtree(a), 0);
    CHECK_INT(testing_rmtree(b), 0);
}

static void test_tmpdir_refuses_a_short_buffer(void)
{
    char dir[64], prefix[80];
    memset(prefix, 'x', sizeof prefix - 1);     //  built at run time: a name
    prefix[sizeof prefix - 1] = '\0';           //  too long for dir
    errno = 0;
    CHECK_INT(testing_tmpdir(dir, sizeof dir, prefix), -1);
    CHECK_INT(errno, ENAMETOOLONG);
}

static void test_rmtree_removes_everything_but_follows_no_link(void)
{
    char dir[256], keep[256], sub[300], link[300], kept[300];
    CHECK_INT(testing_tmpdir(dir, sizeof dir, "test_testing"), 0);
    CHECK_INT(testing_tmpdir(keep, sizeof keep, "test_testing_keep"), 0);
    s_touch(keep, "precious");
    snprintf(sub, sizeof sub, "%s/a", dir);
    CHECK_INT(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    CHECK_INT(mkdir(sub, 0700), 0);
    s_touch(sub, "file");
    s_touch(dir, "top");
    snprintf(link, sizeof link, "%s/a/out", dir);
    CHECK_INT(symlink(keep, link), 0);
    CHECK_INT(testing_rmtree(dir), 0);
    CHECK_INT(access(dir, F_OK), -1);
    snprintf(kept, sizeof kept, "%s/precious", keep);
    CHECK_INT(access(kept, F_OK), 0);
    CHECK_INT(testing_rmtree(keep), 0);
}

static void test_rmtree_of_a_missing_path_is_enoent(void)
{
    errno = 0;
    CHECK_INT(testing_rmtree("/nonexistent/test_testing/x"), -1);
    CHECK_INT(errno, ENOENT);
}

int main(void)
{
    RUN(test_tmpdir_is_fresh_and_private);
    RUN(test_tmpdir_refuses_a_short_buffer);
    RUN(test_rmtree_removes_everything_but_follows_no_link);
    RUN(test_rmtree_of_a_missing_path_is_enoent);
    return TEST_REPORT("test_testing");
}
