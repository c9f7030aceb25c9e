/*  test_err.c: the error vocabulary (common/err.h). */
#include "err.h"
#include "testing.h"

#include <errno.h>

static void test_strerror_names_ours_and_errno(void)
{
    CHECK_STR(mlops_strerror(MLOPS_OK), "success");
    CHECK_STR(mlops_strerror(MLOPS_EPROTO), "malformed message");
    CHECK_STR(mlops_strerror(ENOENT), strerror(ENOENT));
    CHECK_STR(mlops_strerror(-1), "unknown error");
}

static void test_err_set_formats_and_returns_code(void)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_STR(mlops_err_text(&err, MLOPS_ECSV), "malformed CSV");
    CHECK_INT(mlops_err_set(&err, MLOPS_ECSV, "line %d: column %s", 7, "Age"), MLOPS_ECSV);
    CHECK_INT(err.code, MLOPS_ECSV);
    CHECK_STR(mlops_err_text(&err, MLOPS_ECSV), "line 7: column Age");
    CHECK_INT(mlops_err_set(NULL, MLOPS_EINVAL, "ignored"), MLOPS_EINVAL);
}

int main(void)
{
    RUN(test_strerror_names_ours_and_errno);
    RUN(test_err_set_formats_and_returns_code);
    return TEST_REPORT("test_err");
}
