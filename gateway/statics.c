/*  statics.c: see statics.h. */
#include "statics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *statics_content_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".png", "image/png"},                 {".ico", "image/x-icon"},
        {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

//  True when rel (relative to the directory) is a plain path: segments of
//  [A-Za-z0-9._-], none empty, none starting with '.' (so no "..", no ".",
//  no hidden file).
static bool s_plain(const char *rel)
{
    if (!*rel)
        return false;
    for (const char *seg = rel; *seg; ) {
        if (*seg == '.' || *seg == '/')
            return false;
        const char *p = seg;
        for (; *p && *p != '/'; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
                  || *p == '.' || *p == '_' || *p == '-'))
                return false;
        seg = *p ? p + 1 : p;
        if (*p && !*seg)
            return false;   //  trailing slash
    }
    return true;
}

//  Reads the regular file fd (under the size limit) into *body.
static int s_read(int fd, const char *rel, char **body, size_t *len, mlops_err_t *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        mlops_err_set(err, MLOPS_EINVAL, "not found: /static/%s", rel);
        return 404;
    }
    if ((unsigned long long)st.st_size > STATICS_FILE_MAX_BYTES) {
        mlops_err_set(err, MLOPS_ETOOBIG, "%s is over %u bytes", rel, STATICS_FILE_MAX_BYTES);
        return 500;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %s", rel);
        return 500;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n <= 0) {
            free(buf);
            mlops_err_set(err, n < 0 ? errno : MLOPS_EINVAL, "cannot read %s", rel);
            return 500;
        }
        got += (size_t)n;
    }
    *body = buf;
    *len = size;
    return 0;
}

int statics_load(const char *dir, const char *url, char **body, size_t *len,
                 const char **content_type, mlops_err_t *err)
{
    const char *rel = strcmp(url, "/") == 0 ? "index.html"
                    : strncmp(url, "/static/", 8) == 0 ? url + 8 : NULL;
    if (!rel || !dir) {
        mlops_err_set(err, MLOPS_EINVAL, rel ? "the dashboard's files were not found: start the "
                      "gateway with --static DIR" : "not a static path");
        return 404;
    }
    if (!s_plain(rel)) {
        mlops_err_set(err, MLOPS_EINVAL, "forbidden path: /static/ serves plain file names only");
        return 403;
    }
    char root[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
    if (!realpath(dir, root) || snprintf(path, sizeof path, "%s/%s", root, rel) >= (int)sizeof path) {
        mlops_err_set(err, MLOPS_EINVAL, "the dashboard's directory %s is not usable", dir);
        return 404;
    }
    size_t root_len = strlen(root);
    if (!realpath(path, real)) {
        mlops_err_set(err, MLOPS_EINVAL, "not found: %s", url);
        return 404;
    }
    if (strncmp(real, root, root_len) != 0 || real[root_len] != '/') {
        mlops_err_set(err, MLOPS_EINVAL, "forbidden path: %s leads outside the static directory", url);
        return 403;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mlops_err_set(err, errno, "not found: %s", url);
        return 404;
    }
    int status = s_read(fd, rel, body, len, err);
    close(fd);
    if (status == 0)
        *content_type = statics_content_type(rel);
    return status;
}
