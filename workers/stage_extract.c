/*  stage_extract.c: the extract stage. The source is read on the worker's
    host, so a CSV path names a file there (the broker never opens it); the
    table is uploaded to the data service and the output names it. A stored
    dataset (dataset:HASH) is fetched, checked and named again.

    A source comes from whoever may trigger a run, so a path is read only
    when it resolves (symlinks and .. followed) under one of the worker's
    data roots (stage_extract_configure), is a regular file (not a FIFO,
    a device, /proc), and is no larger than the byte cap; it is opened
    non-blocking and read in chunks that stop at SIGTERM and at a deadline.
    A CSV is streamed (ml/csv_stream.h): read twice in chunks, encoded
    into an unlinked temporary file and uploaded from it, so extract's
    memory is bounded by the chunk, not the file. A synthetic source is
    streamed the same way (synth_stream: rows drawn a chunk at a time into
    a spill file); a stored dataset is fetched and checked in memory.
    A CSV error that would quote the file (a cell, a header name) keeps
    only its line number: run records are readable by anyone with read
    access. */
#include "progress.h"
#include "stages.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv_stream.h"
#include "extract_feedback.h"
#include "table_spill.h"
#include "log.h"
#include "synth.h"
#include "table.h"

#define S_READ_DEADLINE_MSEC (5 * 60 * 1000) //  a source that reads slower than this is refused

static struct {
    char *roots[STAGE_EXTRACT_ROOTS_MAX]; //  resolved directories, owned
    size_t n_roots;
    size_t max_bytes;                     //  0 = STAGE_EXTRACT_MAX_BYTES
} s_policy;

int stage_extract_configure(const char *const *roots, size_t n_roots, size_t max_bytes,
                            mlops_err_t *err)
{
    if (n_roots > STAGE_EXTRACT_ROOTS_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "--data-root: at most %d", STAGE_EXTRACT_ROOTS_MAX);
    stage_extract_configure_clear();
    for (size_t i = 0; i < n_roots; i++) {
        char resolved[PATH_MAX];
        struct stat st;
        if (!realpath(roots[i], resolved) || stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
            return mlops_err_set(err, MLOPS_EINVAL, "--data-root %s is not a directory", roots[i]);
        if (!(s_policy.roots[s_policy.n_roots++] = strdup(resolved)))
            return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    s_policy.max_bytes = max_bytes;
    return 0;
}

void stage_extract_configure_clear(void)
{
    for (size_t i = 0; i < s_policy.n_roots; i++)
        free(s_policy.roots[i]);
    memset(&s_policy, 0, sizeof s_policy);
}

//  True when resolved lies in one of the roots.
static bool s_under_root(const char *resolved)
{
    for (size_t i = 0; i < s_policy.n_roots; i++) {
        const char *root = s_policy.roots[i];
        size_t len = strlen(root);
        if (strcmp(root, "/") == 0 || (strncmp(resolved, root, len) == 0 && resolved[len] == '/'))
            return true;
    }
    return false;
}

//  True under the kernel's pseudo file systems, which no root may open up.
static bool s_pseudo(const char *resolved)
{
    const char *pseudo[] = {"/proc/", "/sys/", "/dev/"};
    for (size_t i = 0; i < sizeof pseudo / sizeof pseudo[0]; i++)
        if (strncmp(resolved, pseudo[i], strlen(pseudo[i])) == 0)
            return true;
    return false;
}

//  Opens source under the rules at the top of this file; *fd and *size on
//  success. Returns 0, errno, MLOPS_EINVAL (outside the roots, no roots,
//  not a regular file) or MLOPS_ETOOBIG, with err naming the rule.
static int s_open_source(const char *source, int *fd, size_t *size, mlops_err_t *err)
{
    size_t cap = s_policy.max_bytes ? s_policy.max_bytes : STAGE_EXTRACT_MAX_BYTES;
    char resolved[PATH_MAX];
    if (s_policy.n_roots == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "extract: %s: this worker reads no files: start "
                             "it with --data-root DIR (synthetic is always allowed)", source);
    if (!realpath(source, resolved))
        return mlops_err_set(err, errno, "extract: %s: %s", source, strerror(errno));
    if (!s_under_root(resolved) || s_pseudo(resolved))
        return mlops_err_set(err, MLOPS_EINVAL, "extract: %s is outside this worker's data roots "
                             "(--data-root): refused", source);
    *fd = open(resolved, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0)
        return mlops_err_set(err, errno, "extract: %s: %s", source, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = mlops_err_set(err, MLOPS_EINVAL, "extract: %s is not a regular file (a FIFO, a "
                           "device or a directory): refused", source);
    else if ((uint64_t)st.st_size > cap)
        rc = mlops_err_set(err, MLOPS_ETOOBIG, "extract: %s is %lld bytes, over the limit of %zu "
                           "(--max-source-bytes)", source, (long long)st.st_size, cap);
    if (rc) {
        close(*fd);
        return rc;
    }
    *size = (size_t)st.st_size;
    return 0;
}

//  Between chunks of the CSV: stop at a cancel, at SIGTERM and at the deadline, and
//  report the bytes read; the file is read twice (csv_stream.h), so the
//  count runs to twice its size, a pass being found by the offset going back.
typedef struct {
    const char *source;
    int64_t deadline;     //  zclock_mono
    int fd;               //  the CSV, for its offset
    int64_t size;         //  its size in bytes
    int64_t last;         //  the offset at the previous check
    int64_t passes;       //  passes finished
} s_check_t;

static int s_check_fn(void *arg, mlops_err_t *err)
{
    s_check_t *check = arg;
    if (progress_cancelled())   //  the broker gave up on this attempt (agent.h)
        return mlops_err_set(err, MLOPS_ECANCELED, "cancelled");
    if (zsys_interrupted || zclock_mono() > check->deadline)
        return mlops_err_set(err, MLOPS_ETIMEOUT, "%s",
                             zsys_interrupted ? "interrupted" : "read too slow: refused");
    int64_t at = (int64_t)lseek(check->fd, 0, SEEK_CUR);
    if (at >= 0) {
        if (at < check->last)
            check->passes++;
        check->last = at;
        int64_t done = check->passes * check->size + at, total = 2 * check->size;
        progress_report(done < total ? done : total, total, "bytes");
    }
    return 0;
}

//  A CSV error for the run record: the loader's message when it quotes
//  nothing of the file, else its line number only.
static int s_csv_error(const char *source, const mlops_err_t *sub, mlops_err_t *err)
{
    const char *why = mlops_err_text(sub, sub->code);
    int code = sub->code ? sub->code : MLOPS_ECSV;
    if (!strchr(why, '\'') && !strchr(why, '"') && !strstr(why, ", column "))
        return mlops_err_set(err, code, "extract: %s: %s", source, why);
    size_t line = 0;
    if (sscanf(why, "line %zu", &line) == 1)
        return mlops_err_set(err, code, "extract: %s: line %zu is malformed (the detail quotes "
                             "the file, so it is not kept here; `mlops train --source` on the "
                             "worker's host shows it)", source, line);
    return mlops_err_set(err, code, "extract: %s: not a CSV this loader reads", source);
}

//  Uploads the len bytes of fd from a read-only mapping, so they are paged
//  in from the file as they are sent rather than held.
static int s_upload_file(stage_data_t *d, int fd, stage_ref_t *ref, mlops_err_t *err)
{
    off_t len = lseek(fd, 0, SEEK_END);
    void *bytes = len > 0 ? mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (bytes == MAP_FAILED)
        return mlops_err_set(err, errno ? errno : MLOPS_EINVAL, "extract: the encoded table: %s",
                             strerror(errno ? errno : EINVAL));
    int rc = stage_upload(d, "extract", "table", bytes, (size_t)len, ref, err);
    munmap(bytes, (size_t)len);
    return rc;
}

//  A CSV path under the rules at the top of this file, streamed
//  (ml/csv_stream.h): encoded into an unlinked temporary file, then
//  uploaded from it, so extract's memory does not grow with the file.
static int s_extract_file(stage_data_t *d, const char *source, stage_ref_t *ref, mlops_err_t *err)
{
    int fd = -1, out = -1;
    size_t size = 0, rows = 0, cols = 0;
    if (s_open_source(source, &fd, &size, err))
        return err->code;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    s_check_t check = {source, zclock_mono() + S_READ_DEADLINE_MSEC, fd, (int64_t)size, 0, 0};
    struct stat st;
    int rc = (out = table_spill_temp(&sub)) < 0 ? sub.code : 0;
    if (rc == 0)
        rc = csv_stream_encode(fd, out, s_check_fn, &check, &rows, &cols, &sub);
    if (rc)
        s_csv_error(source, &sub, err);
    else if (fstat(fd, &st) != 0 || (size_t)st.st_size != size)   //  it grew since it was opened
        rc = mlops_err_set(err, MLOPS_ETOOBIG, "extract: %s changed while read: refused", source);
    close(fd);
    if (rc == 0) {
        log_info("extract: streamed %zu rows, %zu columns", rows, cols);
        progress_report((int64_t)rows, (int64_t)rows, "rows");
        rc = s_upload_file(d, out, ref, err);
    }
    if (out >= 0)
        close(out);
    return rc;
}

//  A synthetic source, streamed (synth_stream) into an unlinked temporary
//  file and uploaded from it: the same bytes, hence the same dataset
//  version, as the table synth_generate builds.
static int s_extract_synthetic(stage_data_t *d, const char *source, stage_ref_t *ref,
                               mlops_err_t *err)
{
    size_t rows;
    uint64_t seed;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int out = -1;
    int rc = synth_parse_spec(source, &rows, &seed, &sub);
    if (rc == 0)
        rc = (out = table_spill_temp(&sub)) < 0 ? sub.code : synth_stream(rows, seed, out, 0, &sub);
    if (rc)
        mlops_err_set(err, rc, "extract: cannot read '%.200s': %s", source, mlops_err_text(&sub, rc));
    else
        rc = s_upload_file(d, out, ref, err);
    if (out >= 0)
        close(out);
    return rc;
}

//  True when source names the synthetic generator ("synthetic" or
//  "synthetic:..."); its spec is then checked by synth_parse_spec.
static bool s_is_synthetic(const char *source)
{
    return strncmp(source, "synthetic", 9) == 0 && (source[9] == '\0' || source[9] == ':');
}

//  A stored dataset, fetched, checked and uploaded again (named again).
static int s_extract_dataset(stage_data_t *d, const stage_extract_in_t *in, stage_ref_t *ref,
                             mlops_err_t *err)
{
    table_t *table = stage_table_fetch(d, "extract", &in->dataset, err);
    if (!table)
        return err->code ? err->code : MLOPS_ECSV;
    progress_report((int64_t)table->n_rows, (int64_t)table->n_rows, "rows");
    if (table->n_rows == 0) {
        table_destroy(&table);
        return mlops_err_set(err, MLOPS_ECSV, "extract: '%.200s' has no rows", in->source);
    }
    //  the table's name is the sha256 of its canonical encoding: the
    //  dataset version (table_hash), computed again by the data service
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = table_encode(table, &bytes, &len);
    table_destroy(&table);
    if (rc)
        return mlops_err_set(err, rc, "extract: cannot encode the table: %s", mlops_strerror(rc));
    rc = stage_upload(d, "extract", "table", bytes, len, ref, err);
    free(bytes);
    return rc;
}

int stage_extract_run(void *arg, const uint8_t *input, size_t input_len, uint8_t **output,
                      size_t *output_len, mlops_err_t *err)
{
    stage_extract_in_t in;
    mlops_err_t sub;
    int rc = stage_extract_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "extract: bad input: %s", mlops_err_text(&sub, rc));
    if (extract_feedback_wanted(&in))   //  csv:PATH, BASE+feedback (extract_feedback.h)
        return extract_feedback_run(arg, &in, output, output_len, err);
    stage_extract_out_t out = {0};
    if (in.dataset.hash[0])
        rc = s_extract_dataset(arg, &in, &out.table, err);
    else if (s_is_synthetic(in.source))
        rc = s_extract_synthetic(arg, in.source, &out.table, err);
    else
        rc = s_extract_file(arg, in.source, &out.table, err);
    if (rc == 0 && (rc = stage_extract_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "extract: cannot encode the output");
    return rc;
}
