/*  blob_cache.c: see blob_cache.h. */
#include "blob_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_io.h"
#include "hash.h"
#include "log.h"
#include "vec.h"

struct blob_cache {
    char dir[PATH_MAX - 80];      //  leaves room for a file name
    uint64_t max_bytes;           //  limit of the files' total
};

//  One file, for eviction.
typedef struct {
    char name[HASH_HEX_LEN + 1];
    uint64_t bytes;
    struct timespec mtime;
} s_entry_t;

blob_cache_t *blob_cache_new(const char *dir, uint64_t max_bytes, mlops_err_t *err)
{
    blob_cache_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    self->max_bytes = max_bytes ? max_bytes : BLOB_CACHE_BYTES_DEFAULT;
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || access(dir, W_OK | X_OK) != 0) {
        mlops_err_set(err, errno, "cache directory %s: %s", dir, strerror(errno));
        free(self);
        return NULL;
    }
    return self;
}

void blob_cache_destroy(blob_cache_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

static int s_read_file(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return MLOPS_ENOTFOUND;
    }
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t done = 0;
    while (buf && done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    if (!buf || done != (size_t)st.st_size) {
        free(buf);
        return buf ? MLOPS_ENOTFOUND : MLOPS_ENOMEM;
    }
    *data = buf;
    *len = done;
    return 0;
}

//  A cached file's bytes against its name: a damaged file is removed.
static int s_check(const char *path, const char *hash, const uint8_t *data, size_t len,
                   mlops_err_t *err)
{
    char got[HASH_HEX_LEN + 1];
    hash_sha256_hex(data, len, got);
    if (strcmp(got, hash) != 0) {
        log_warning("cache: %s fails its hash (%zu bytes): removed, to be fetched again", path, len);
        unlink(path);
        return mlops_err_set(err, MLOPS_ENOTFOUND, "cached %.12s was damaged", hash);
    }
    utimensat(AT_FDCWD, path, NULL, 0);   //  recency, for eviction
    return 0;
}

int blob_cache_get(blob_cache_t *self, const char *hash, uint8_t **data, size_t *len,
                   mlops_err_t *err)
{
    if (!data_hash_valid(hash))
        return mlops_err_set(err, MLOPS_ENOTFOUND, "'%.70s' is not a blob name", hash);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", self->dir, hash);
    int rc = s_read_file(path, data, len);
    if (rc)
        return mlops_err_set(err, rc, rc == MLOPS_ENOMEM ? "out of memory" : "%.12s is not cached",
                             hash);
    if ((rc = s_check(path, hash, *data, *len, err)) != 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int blob_cache_map(blob_cache_t *self, const char *hash, const uint8_t **data, size_t *len,
                   mlops_err_t *err)
{
    if (!data_hash_valid(hash))
        return mlops_err_set(err, MLOPS_ENOTFOUND, "'%.70s' is not a blob name", hash);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", self->dir, hash);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {   //  mmap refuses 0 bytes
        if (fd >= 0)
            close(fd);
        return mlops_err_set(err, MLOPS_ENOTFOUND, "%.12s is not cached", hash);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return mlops_err_set(err, e, "cache: cannot map %s: %s", path, strerror(e));
    int rc = s_check(path, hash, p, (size_t)st.st_size, err);
    if (rc) {
        munmap(p, (size_t)st.st_size);
        return rc;
    }
    *data = p, *len = (size_t)st.st_size;
    return 0;
}

void blob_cache_unmap(const uint8_t *data, size_t len)
{
    if (data)
        munmap((void *)data, len);
}

static int s_by_age(const void *a, const void *b)
{
    const struct timespec *x = &((const s_entry_t *)a)->mtime, *y = &((const s_entry_t *)b)->mtime;
    return x->tv_sec != y->tv_sec ? (x->tv_sec < y->tv_sec ? -1 : 1)
                                  : (x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec);
}

//  Removes the least recently used files until `incoming` more bytes fit.
static void s_evict(blob_cache_t *self, uint64_t incoming)
{
    DIR *d = opendir(self->dir);
    if (!d)
        return;
    VEC(s_entry_t) files = {0};
    uint64_t total = 0;
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        if (!data_hash_valid(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0) != 0
            || vec_reserve(&files, 1) != 0)
            continue;
        s_entry_t *f = &files.at[files.len++];
        memcpy(f->name, e->d_name, sizeof f->name);   //  a valid name is exactly that long
        f->bytes = (uint64_t)st.st_size;
        f->mtime = st.st_mtim;
        total += f->bytes;
    }
    if (files.len)
        qsort(files.at, files.len, sizeof *files.at, s_by_age);
    for (size_t i = 0; i < files.len && total + incoming > self->max_bytes; i++)
        if (unlinkat(dirfd(d), files.at[i].name, 0) == 0)
            total -= files.at[i].bytes;
    closedir(d);
    vec_free(&files);
}

int blob_cache_put(blob_cache_t *self, const char *hash, const uint8_t *data, size_t len,
                   mlops_err_t *err)
{
    if (!data_hash_valid(hash))
        return mlops_err_set(err, MLOPS_EINVAL, "'%.70s' is not a blob name", hash);
    if (len > self->max_bytes)
        return 0;
    s_evict(self, len);
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", self->dir, hash);
    snprintf(tmp, sizeof tmp, "%s/.%s.%d", self->dir, hash, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    int rc = fd < 0 || done != len ? errno ? errno : EIO : 0;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = errno;
    if (rc) {
        unlink(tmp);
        return mlops_err_set(err, rc, "cache: cannot keep %.12s in %s: %s", hash, self->dir,
                             strerror(rc));
    }
    return 0;
}

int blob_cache_fetch(blob_cache_t *self, data_client_t *client, const char *hash, uint8_t **data,
                     size_t *len, mlops_err_t *err)
{
    mlops_err_t miss;
    mlops_err_clear(&miss);
    if (self && blob_cache_get(self, hash, data, len, &miss) == 0)
        return 0;
    if (miss.code == MLOPS_ENOMEM)
        return mlops_err_set(err, MLOPS_ENOMEM, "%s", miss.msg);
    int rc = data_client_fetch(client, hash, data, len, err);
    mlops_err_t keep;
    if (rc == 0 && self && blob_cache_put(self, hash, *data, *len, &keep) != 0)
        log_warning("%s", keep.msg);
    return rc;
}
