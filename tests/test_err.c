/*  test_err.c: the error vocabulary and the log sanitiser. */
#include "err.h"
#include "hash.h"
#include "log.h"
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

static void test_log_sanitize_masks_and_truncates(void)
{
    char out[8];
    CHECK_STR(log_sanitize("a\nb\x01", 4, out, sizeof out), "a?b?");
    CHECK_STR(log_sanitize("0123456789", 10, out, sizeof out), "0123...");
}

static void test_sha256_known_answer(void)
{
    char hex[HASH_HEX_LEN + 1];
    hash_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    RUN(test_strerror_names_ours_and_errno);
    RUN(test_err_set_formats_and_returns_code);
    RUN(test_log_sanitize_masks_and_truncates);
    RUN(test_sha256_known_answer);
    return TEST_REPORT("test_err");
}
