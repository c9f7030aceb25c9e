/*  test_statics.c: gateway/statics.c, the dashboard's files: content
    types, traversal refused, symlinks out refused, files too big, and a
    directory that is not there. */
#include "statics.h"
#include "testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];

static void s_write(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

//  Loads url from the test directory; checks the status and, on 0, the body.
static void s_load(const char *url, int want, const char *text_or_why, const char *type)
{
    char *body = NULL;
    size_t len = 0;
    const char *ct = NULL;
    mlops_err_t err;
    int status = statics_load(s_dir, url, &body, &len, &ct, &err);
    CHECK_INT(status, want);
    if (status == 0) {
        CHECK_INT(len, strlen(text_or_why));
        CHECK(memcmp(body, text_or_why, len) == 0);
        CHECK_STR(ct, type);
    } else
        CHECK_CONTAINS(err.msg, text_or_why);
    free(body);
}

static void test_statics(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/test_statics_dir.XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    char sub[128], outside[128], link[128];
    snprintf(sub, sizeof sub, "%s/sub", s_dir);
    mkdir(sub, 0755);
    s_write("index.html", "<html></html>");
    s_write("app.js", "x = 1;");
    s_write("sub/style.css", "a{}");
    s_write(".secret", "s");
    snprintf(outside, sizeof outside, "%s.outside", s_dir);
    FILE *f = fopen(outside, "w");
    fputs("outside", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/link.js", s_dir);
    CHECK_INT(symlink(outside, link), 0);

    s_load("/", 0, "<html></html>", "text/html; charset=utf-8");
    s_load("/static/app.js", 0, "x = 1;", "text/javascript; charset=utf-8");
    s_load("/static/sub/style.css", 0, "a{}", "text/css; charset=utf-8");
    s_load("/static/index.html", 0, "<html></html>", "text/html; charset=utf-8");
    s_load("/static/nope.js", 404, "not found", NULL);
    s_load("/static/sub", 404, "not found", NULL);
    s_load("/other", 404, "not a static path", NULL);
    s_load("/static/../test_statics_dir", 403, "forbidden", NULL);
    s_load("/static/sub/../app.js", 403, "forbidden", NULL);
    s_load("/static/./app.js", 403, "forbidden", NULL);
    s_load("/static/.secret", 403, "forbidden", NULL);
    s_load("/static//etc/passwd", 403, "forbidden", NULL);
    s_load("/static/", 403, "forbidden", NULL);
    s_load("/static/sub/", 403, "forbidden", NULL);
    s_load("/static/a%2e", 403, "forbidden", NULL);
    s_load("/static/link.js", 403, "outside the static directory", NULL);
    char *body = NULL;
    size_t len = 0;
    const char *ct = NULL;
    mlops_err_t err;
    CHECK_INT(statics_load(NULL, "/", &body, &len, &ct, &err), 404);
    CHECK_CONTAINS(err.msg, "--static DIR");
    CHECK_STR(statics_content_type("a.svg"), "image/svg+xml");
    CHECK_STR(statics_content_type("README"), "application/octet-stream");

    unlink(link);
    unlink(outside);
    char path[256];
    const char *names[] = {"index.html", "app.js", "sub/style.css", ".secret"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", s_dir, names[i]);
        unlink(path);
    }
    rmdir(sub);
    rmdir(s_dir);
}

//  Files the server cannot serve: too big, a directory that is not there.
static void test_statics_refusals(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/test_statics_dir.XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/big.js", s_dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK_INT(fseek(f, STATICS_FILE_MAX_BYTES, SEEK_SET), 0);   //  one byte over, sparse
    fputc('x', f);
    fclose(f);
    s_write("empty.txt", "");
    char *body = NULL;
    size_t len = 0;
    const char *ct = NULL;
    mlops_err_t err;
    CHECK_INT(statics_load(s_dir, "/static/big.js", &body, &len, &ct, &err), 500);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "big.js is over");
    CHECK(body == NULL);
    s_load("/static/empty.txt", 0, "", "text/plain; charset=utf-8");
    CHECK_INT(statics_load("/nonexistent/mlops-statics", "/", &body, &len, &ct, &err), 404);
    CHECK_CONTAINS(err.msg, "is not usable");
    unlink(path);
    snprintf(path, sizeof path, "%s/empty.txt", s_dir);
    unlink(path);
    rmdir(s_dir);
}

int main(void)
{
    RUN(test_statics);
    RUN(test_statics_refusals);
    return TEST_REPORT("test_statics");
}
