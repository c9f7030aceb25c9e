/*  records.c: the durable records (runs, model versions, audit entries) and
    their msgpack codec.

    Each record is described once, as a table of fields (key, kind, offset in
    the struct), and one encoder and one decoder walk the tables. That keeps
    the keys on the wire equal to the struct field names by construction and
    makes every record as strict as every other: the decoder refuses a
    missing, repeated or unknown key, a wrong type, a string that does not fit
    its field, an enum name it does not know, and trailing bytes, naming the
    key ("run.tasks[2].stage") in the message.

    Before msgpack-c builds the object tree, mpcheck walks the bytes once and
    checks every array and map count against the bytes left, so a 5-byte
    input claiming 4 billion elements fails with a message instead of asking
    msgpack-c's zone for gigabytes.
*/
#include "records.h"
#include "log.h"
#include "mpcheck.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  --- enum names --------------------------------------------------------

static const char *const s_run_states[] = {"queued", "running", "succeeded", "failed"};
static const char *const s_task_states[] = {"pending", "running", "done", "failed"};
static const char *const s_version_stages[] = {"none", "staging", "production", "archived"};
#define RECORD_DEPTH_MAX 4 //  run > tasks > task > value
#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

//  Enum fields are read and written as int (S_ENUM below).
_Static_assert(sizeof(run_state_t) == sizeof(int), "enum size");
_Static_assert(sizeof(task_state_t) == sizeof(int), "enum size");
_Static_assert(sizeof(version_stage_t) == sizeof(int), "enum size");

static const char *s_enum_name(const char *const *names, size_t n, int value)
{
    return value >= 0 && (size_t)value < n ? names[value] : NULL;
}

const char *run_state_name(run_state_t s)
{
    return s_enum_name(s_run_states, S_COUNT(s_run_states), (int)s);
}

const char *task_state_name(task_state_t s)
{
    return s_enum_name(s_task_states, S_COUNT(s_task_states), (int)s);
}

const char *version_stage_name(version_stage_t s)
{
    return s_enum_name(s_version_stages, S_COUNT(s_version_stages), (int)s);
}

//  --- run helpers --------------------------------------------------------

void run_clear(run_t *run)
{
    if (!run)
        return;
    free(run->tasks);
    memset(run, 0, sizeof *run);
}

int run_copy(run_t *dst, const run_t *src)
{
    assert(src && dst && src->n_tasks <= RUN_TASKS_MAX);
    run_task_t *tasks = NULL;
    if (src->n_tasks > 0) {
        tasks = malloc(src->n_tasks * sizeof *tasks);
        if (!tasks)
            return MLOPS_ENOMEM;
        memcpy(tasks, src->tasks, src->n_tasks * sizeof *tasks);
    }
    *dst = *src;
    dst->tasks = tasks;
    return 0;
}

//  Copies src into a fixed field of size bytes, truncating, always NUL-ended.
static void s_copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

//  snprintf that may truncate on purpose (task ids, key paths in messages);
//  going through vsnprintf keeps -Wformat-truncation quiet about it.
static void s_format(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_format(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

run_task_t *run_add_task(run_t *run, const char *stage, const char *family)
{
    if (run->n_tasks >= RUN_TASKS_MAX)
        return NULL;
    run_task_t *tasks = realloc(run->tasks, (run->n_tasks + 1) * sizeof *tasks);
    if (!tasks)
        return NULL;
    run->tasks = tasks;
    run_task_t *task = &tasks[run->n_tasks++];
    memset(task, 0, sizeof *task);
    s_copy_text(task->stage, sizeof task->stage, stage);
    s_copy_text(task->family, sizeof task->family, family);
    if (family && *family)
        s_format(task->task_id, sizeof task->task_id, "%llu-%s-%s",
                 (unsigned long long)run->id, task->stage, task->family);
    else
        s_format(task->task_id, sizeof task->task_id, "%llu-%s",
                 (unsigned long long)run->id, task->stage);
    return task;
}

//  --- field tables -------------------------------------------------------

typedef enum {
    S_U64,    //  uint64_t, positive integer
    S_I64,    //  int64_t, any integer
    S_I32,    //  int32_t, integer in range
    S_BOOL,   //  bool
    S_DOUBLE, //  double, float32 or float64
    S_TEXT,   //  char[size], string shorter than size with no NUL
    S_ENUM,   //  enum (int-sized), string from names
    S_MAP,    //  nested struct, map described by sub
    S_TASKS,  //  run_t.tasks / n_tasks, array of task maps
} s_kind_t;

typedef struct s_table s_table_t;

typedef struct {
    const char *key;          //  key on the wire = struct field name
    s_kind_t kind;            //  how it is packed
    size_t offset;            //  offsetof in the struct
    size_t size;              //  bytes of the field (S_TEXT: buffer size)
    const char *const *names; //  S_ENUM: names by value
    size_t n_names;           //  S_ENUM: how many
    const s_table_t *sub;     //  S_MAP: the nested record
} s_field_t;

struct s_table {
    const char *name;         //  record name for messages ("run")
    const s_field_t *fields;  //  in wire order
    size_t n_fields;          //  at most 32 (a seen-mask is a uint32_t)
};

#define F(st, fld, kind) {#fld, kind, offsetof(st, fld), sizeof(((st *)0)->fld), NULL, 0, NULL}
#define F_ENUM(st, fld, names) \
    {#fld, S_ENUM, offsetof(st, fld), sizeof(((st *)0)->fld), names, S_COUNT(names), NULL}
#define F_MAP(st, fld, sub) {#fld, S_MAP, offsetof(st, fld), sizeof(((st *)0)->fld), NULL, 0, &sub}
#define TABLE(name, fields) {name, fields, S_COUNT(fields)}

static const s_field_t s_task_fields[] = {
    F(run_task_t, task_id, S_TEXT),
    F(run_task_t, stage, S_TEXT),
    F(run_task_t, family, S_TEXT),
    F_ENUM(run_task_t, state, s_task_states),
    F(run_task_t, attempts, S_I32),
    F(run_task_t, started_ms, S_I64),
    F(run_task_t, ended_ms, S_I64),
    F(run_task_t, retry_at_ms, S_I64),
    F(run_task_t, worker, S_TEXT),
    F(run_task_t, error, S_TEXT),
};
static const s_table_t s_task_table = TABLE("task", s_task_fields);

static const s_field_t s_run_fields[] = {
    F(run_t, id, S_U64),
    F_ENUM(run_t, state, s_run_states),
    F(run_t, source, S_TEXT),
    F(run_t, reason, S_TEXT),
    F(run_t, coalesced, S_I32),
    F(run_t, created_ms, S_I64),
    F(run_t, started_ms, S_I64),
    F(run_t, ended_ms, S_I64),
    F(run_t, dataset_hash, S_TEXT),
    F(run_t, version, S_U64),
    F(run_t, promoted, S_BOOL),
    F(run_t, outcome, S_TEXT),
    F(run_t, error, S_TEXT),
    {"tasks", S_TASKS, offsetof(run_t, tasks), sizeof(run_task_t *), NULL, 0, NULL},
};
static const s_table_t s_run_table = TABLE("run", s_run_fields);

static const s_field_t s_metrics_fields[] = {
    F(metrics_t, accuracy, S_DOUBLE),
    F(metrics_t, precision, S_DOUBLE),
    F(metrics_t, recall, S_DOUBLE),
    F(metrics_t, f1, S_DOUBLE),
    F(metrics_t, auc, S_DOUBLE),
    F(metrics_t, log_loss, S_DOUBLE),
    F(metrics_t, tp, S_I64),
    F(metrics_t, fp, S_I64),
    F(metrics_t, tn, S_I64),
    F(metrics_t, fn, S_I64),
};
static const s_table_t s_metrics_table = TABLE("metrics", s_metrics_fields);

static const s_field_t s_version_fields[] = {
    F(version_t, version, S_U64),
    F(version_t, run_id, S_U64),
    F(version_t, dataset_hash, S_TEXT),
    F(version_t, family, S_TEXT),
    F(version_t, params, S_TEXT),
    F_MAP(version_t, metrics, s_metrics_table),
    F(version_t, sha256, S_TEXT),
    F(version_t, artifact_len, S_U64),
    F_ENUM(version_t, stage, s_version_stages),
    F(version_t, reason, S_TEXT),
    F(version_t, created_ms, S_I64),
};
static const s_table_t s_version_table = TABLE("version", s_version_fields);

static const s_field_t s_audit_fields[] = {
    F(audit_t, seq, S_U64),
    F(audit_t, ts_ms, S_I64),
    F(audit_t, action, S_TEXT),
    F(audit_t, version, S_U64),
    F(audit_t, previous, S_U64),
    F(audit_t, reason, S_TEXT),
};
static const s_table_t s_audit_table = TABLE("audit", s_audit_fields);

//  --- encoding -----------------------------------------------------------

static void s_pack_text(msgpack_packer *pk, const char *s, size_t size)
{
    size_t n = strnlen(s, size - 1);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void s_pack_table(msgpack_packer *pk, const s_table_t *t, const void *rec);

static void s_pack_field(msgpack_packer *pk, const s_field_t *f, const void *rec)
{
    const char *p = (const char *)rec + f->offset;
    int64_t i64;
    uint64_t u64;
    int32_t i32;
    int e;
    double d;
    bool b;
    switch (f->kind) {
    case S_U64: memcpy(&u64, p, sizeof u64); msgpack_pack_uint64(pk, u64); break;
    case S_I64: memcpy(&i64, p, sizeof i64); msgpack_pack_int64(pk, i64); break;
    case S_I32: memcpy(&i32, p, sizeof i32); msgpack_pack_int32(pk, i32); break;
    case S_DOUBLE: memcpy(&d, p, sizeof d); msgpack_pack_double(pk, d); break;
    case S_BOOL:
        memcpy(&b, p, sizeof b);
        b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case S_TEXT: s_pack_text(pk, p, f->size); break;
    case S_ENUM: {
        memcpy(&e, p, sizeof e);
        const char *name = s_enum_name(f->names, f->n_names, e);
        //  An out-of-range value is our bug; encode something decodable.
        s_pack_text(pk, name ? name : f->names[0], RECORD_NAME_MAX);
        break;
    }
    case S_MAP: s_pack_table(pk, f->sub, p); break;
    case S_TASKS: {
        const run_t *run = rec;
        msgpack_pack_array(pk, run->n_tasks);
        for (size_t i = 0; i < run->n_tasks; i++)
            s_pack_table(pk, &s_task_table, &run->tasks[i]);
        break;
    }
    }
}

static void s_pack_table(msgpack_packer *pk, const s_table_t *t, const void *rec)
{
    msgpack_pack_map(pk, t->n_fields);
    for (size_t i = 0; i < t->n_fields; i++) {
        size_t klen = strlen(t->fields[i].key);
        msgpack_pack_str(pk, klen);
        msgpack_pack_str_body(pk, t->fields[i].key, klen);
        s_pack_field(pk, &t->fields[i], rec);
    }
}

//  An sbuffer that remembers a failed write, so the packing code can ignore
//  each pack call's result and the encoder checks once at the end.
typedef struct {
    msgpack_sbuffer sbuf; //  the bytes
    bool failed;          //  a realloc failed: the bytes are incomplete
} s_buffer_t;

static int s_buffer_write_fn(void *data, const char *buf, size_t len)
{
    s_buffer_t *b = data;
    if (!b->failed && msgpack_sbuffer_write(&b->sbuf, buf, len) != 0)
        b->failed = true;
    return b->failed ? -1 : 0;
}

//  Encodes rec into a malloc'd buffer the caller frees.
static int s_encode(const s_table_t *t, const void *rec, uint8_t **out, size_t *out_len)
{
    s_buffer_t b = {.failed = false};
    msgpack_sbuffer_init(&b.sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, s_buffer_write_fn);
    s_pack_table(&pk, t, rec);
    if (b.failed) {
        msgpack_sbuffer_destroy(&b.sbuf);
        return MLOPS_ENOMEM;
    }
    *out_len = b.sbuf.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&b.sbuf);
    return 0;
}

int run_encode(const run_t *run, uint8_t **out, size_t *out_len)
{
    return s_encode(&s_run_table, run, out, out_len);
}

int version_encode(const version_t *v, uint8_t **out, size_t *out_len)
{
    return s_encode(&s_version_table, v, out, out_len);
}

int audit_encode(const audit_t *a, uint8_t **out, size_t *out_len)
{
    return s_encode(&s_audit_table, a, out, out_len);
}

//  --- decoding -----------------------------------------------------------

static const char *s_type_name(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "string";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "bin";
    default: return "ext";
    }
}

static int s_wrong_type(const char *path, const char *want, const msgpack_object *o,
                        mlops_err_t *err)
{
    return mlops_err_set(err, MLOPS_EPROTO, "%s: expected %s, got %s", path, want,
                         s_type_name(o->type));
}

static int s_decode_table(const s_table_t *t, const msgpack_object *o, void *rec,
                          const char *path, mlops_err_t *err);

//  Reads an integer object into *v as int64 (range-checked) or uint64.
static int s_get_int(const msgpack_object *o, const char *path, int64_t lo, int64_t hi,
                     int64_t *v, mlops_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= lo) {
        *v = o->via.i64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)hi) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: integer out of range [%lld, %lld]", path,
                             (long long)lo, (long long)hi);
    return s_wrong_type(path, "integer", o, err);
}

static int s_decode_text(const msgpack_object *o, char *dst, size_t size, const char *path,
                         mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_wrong_type(path, "string", o, err);
    if (o->via.str.size >= size)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: string of %u bytes exceeds the limit of %zu",
                             path, o->via.str.size, size - 1);
    if (memchr(o->via.str.ptr, '\0', o->via.str.size))
        return mlops_err_set(err, MLOPS_EPROTO, "%s: string contains a NUL byte", path);
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

static int s_decode_enum(const s_field_t *f, const msgpack_object *o, char *p, const char *path,
                         mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_wrong_type(path, "string", o, err);
    for (size_t i = 0; i < f->n_names; i++) {
        if (strlen(f->names[i]) == o->via.str.size
            && memcmp(f->names[i], o->via.str.ptr, o->via.str.size) == 0) {
            int e = (int)i;
            memcpy(p, &e, sizeof e);
            return 0;
        }
    }
    char sample[40];
    log_sanitize(o->via.str.ptr, o->via.str.size, sample, sizeof sample);
    return mlops_err_set(err, MLOPS_EPROTO, "%s: unknown value \"%s\"", path, sample);
}

static int s_decode_tasks(const msgpack_object *o, run_t *run, const char *path,
                          mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_wrong_type(path, "array", o, err);
    if (o->via.array.size > RUN_TASKS_MAX)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s: %u tasks exceed the limit of %d", path,
                             o->via.array.size, RUN_TASKS_MAX);
    if (o->via.array.size == 0)
        return 0;
    run->tasks = calloc(o->via.array.size, sizeof *run->tasks);
    if (!run->tasks)
        return mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory", path);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        char sub[96];
        s_format(sub, sizeof sub, "%s[%u]", path, i);
        int rc = s_decode_table(&s_task_table, &o->via.array.ptr[i], &run->tasks[i], sub, err);
        if (rc)
            return rc;
        run->n_tasks = i + 1;
    }
    return 0;
}

static int s_decode_field(const s_field_t *f, const msgpack_object *o, void *rec,
                          const char *path, mlops_err_t *err)
{
    char *p = (char *)rec + f->offset;
    int64_t v;
    int rc = 0;
    switch (f->kind) {
    case S_U64:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER
                       ? mlops_err_set(err, MLOPS_EPROTO, "%s: negative integer", path)
                       : s_wrong_type(path, "integer", o, err);
        memcpy(p, &o->via.u64, sizeof(uint64_t));
        return 0;
    case S_I64:
        if (!(rc = s_get_int(o, path, INT64_MIN, INT64_MAX, &v, err)))
            memcpy(p, &v, sizeof v);
        return rc;
    case S_I32:
        if (!(rc = s_get_int(o, path, INT32_MIN, INT32_MAX, &v, err))) {
            int32_t i32 = (int32_t)v;
            memcpy(p, &i32, sizeof i32);
        }
        return rc;
    case S_DOUBLE:
        if (o->type != MSGPACK_OBJECT_FLOAT32 && o->type != MSGPACK_OBJECT_FLOAT64)
            return s_wrong_type(path, "float", o, err);
        memcpy(p, &o->via.f64, sizeof(double));
        return 0;
    case S_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return s_wrong_type(path, "bool", o, err);
        memcpy(p, &o->via.boolean, sizeof(bool));
        return 0;
    case S_TEXT: return s_decode_text(o, p, f->size, path, err);
    case S_ENUM: return s_decode_enum(f, o, p, path, err);
    case S_MAP: return s_decode_table(f->sub, o, p, path, err);
    case S_TASKS: return s_decode_tasks(o, rec, path, err);
    }
    return 0;
}

//  Writes "path.key" into out, truncating; memcpy rather than snprintf
//  because it runs for every key decoded, error or not.
static void s_join(char *out, size_t size, const char *path, const char *key)
{
    size_t p = strnlen(path, size - 1), k = strnlen(key, size - 1 - p - (p < size - 1));
    memcpy(out, path, p);
    if (p < size - 1) {
        out[p++] = '.';
        memcpy(out + p, key, k);
        p += k;
    }
    out[p] = '\0';
}

//  Finds the field named by a key object, or returns -1.
static int s_find_field(const s_table_t *t, const msgpack_object *key)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        const char *k = t->fields[i].key;
        if (strlen(k) == key->via.str.size && memcmp(k, key->via.str.ptr, key->via.str.size) == 0)
            return (int)i;
    }
    return -1;
}

static int s_decode_table(const s_table_t *t, const msgpack_object *o, void *rec,
                          const char *path, mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_wrong_type(path, "map", o, err);
    uint32_t seen = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return mlops_err_set(err, MLOPS_EPROTO, "%s: key %u is not a string (%s)", path, i,
                                 s_type_name(kv->key.type));
        int idx = s_find_field(t, &kv->key);
        char sub[128];
        if (idx < 0) {
            char sample[40];
            log_sanitize(kv->key.via.str.ptr, kv->key.via.str.size, sample, sizeof sample);
            return mlops_err_set(err, MLOPS_EPROTO, "%s: unknown key \"%s\"", path, sample);
        }
        s_join(sub, sizeof sub, path, t->fields[idx].key);
        if (seen & (1u << idx))
            return mlops_err_set(err, MLOPS_EPROTO, "%s: key repeated", sub);
        seen |= 1u << idx;
        int rc = s_decode_field(&t->fields[idx], &kv->val, rec, sub, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < t->n_fields; i++)
        if (!(seen & (1u << i)))
            return mlops_err_set(err, MLOPS_EPROTO, "%s.%s: missing", path, t->fields[i].key);
    return 0;
}

//  Decodes data as one record of table t into rec (zeroed first).
static int s_decode(const s_table_t *t, const uint8_t *data, size_t len, void *rec,
                    size_t rec_size, mlops_err_t *err)
{
    memset(rec, 0, rec_size);
    size_t end = 0;
    int rc = mpcheck_object(data, len, RECORD_DEPTH_MAX, &end, err);
    if (rc) {
        char why[MLOPS_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", mlops_err_text(err, rc));
        return mlops_err_set(err, rc, "%s: %.400s", t->name, why);
    }
    if (end != len)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: %zu trailing bytes after byte %zu", t->name,
                             len - end, end);
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&msg, (const char *)data, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory", t->name);
    else if (ur != MSGPACK_UNPACK_SUCCESS)
        rc = mlops_err_set(err, MLOPS_EPROTO, "%s: not valid msgpack (nesting too deep?)",
                           t->name);
    else
        rc = s_decode_table(t, &msg.data, rec, t->name, err);
    msgpack_unpacked_destroy(&msg);
    return rc;
}

int run_decode(const uint8_t *data, size_t len, run_t *out, mlops_err_t *err)
{
    int rc = s_decode(&s_run_table, data, len, out, sizeof *out, err);
    if (rc)
        run_clear(out);
    return rc;
}

int version_decode(const uint8_t *data, size_t len, version_t *out, mlops_err_t *err)
{
    return s_decode(&s_version_table, data, len, out, sizeof *out, err);
}

int audit_decode(const uint8_t *data, size_t len, audit_t *out, mlops_err_t *err)
{
    return s_decode(&s_audit_table, data, len, out, sizeof *out, err);
}
