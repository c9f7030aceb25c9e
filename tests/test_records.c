/*  test_records.c: the run / version / audit codecs: round trips, and each
    class of decode error with its code and the key named in the message.

    Bad inputs are made by re-packing a good record with one change (a key
    dropped, added, repeated or given another value), so each case differs
    from a valid record in exactly the way its name says.
*/
#include "records.h"
#include "testing.h"

#include <msgpack.h>

static void s_fill_run(run_t *run)
{
    memset(run, 0, sizeof *run);
    run->id = 42;
    run->state = RUN_RUNNING;
    snprintf(run->source, sizeof run->source, "synthetic:1000:7");
    snprintf(run->reason, sizeof run->reason, "schedule");
    run->coalesced = 2;
    run->created_ms = 1764136800123;
    run->started_ms = 1764136800200;
    snprintf(run->dataset_hash, sizeof run->dataset_hash, "%064d", 7);
    run->version = 3;
    run->promoted = true;
    snprintf(run->outcome, sizeof run->outcome, "promoted v3");
    run_task_t *t = run_add_task(run, "extract", NULL);
    t->state = TASK_DONE;
    t->attempts = 1;
    t->ended_ms = -5; //  negative integers survive
    t = run_add_task(run, "train", "forest");
    t->state = TASK_FAILED;
    t->attempts = 3;
    t->retry_at_ms = 1764136900000;
    snprintf(t->worker, sizeof t->worker, "host:123");
    snprintf(t->error, sizeof t->error, "out of memory");
}

static void test_run_round_trip_with_tasks(void)
{
    run_t run, back;
    s_fill_run(&run);
    CHECK_STR(run.tasks[0].task_id, "42-extract");
    CHECK_STR(run.tasks[1].task_id, "42-train-forest");
    uint8_t *bytes;
    size_t len;
    CHECK_INT(run_encode(&run, &bytes, &len), 0);
    mlops_err_t err;
    int rc = run_decode(bytes, len, &back, &err);
    free(bytes);
    CHECK_INT(rc, 0);
    CHECK_INT(back.id, 42);
    CHECK_INT(back.state, RUN_RUNNING);
    CHECK_STR(back.source, run.source);
    CHECK_STR(back.reason, "schedule");
    CHECK_INT(back.coalesced, 2);
    CHECK_INT(back.created_ms, 1764136800123);
    CHECK_INT(back.started_ms, 1764136800200);
    CHECK_INT(back.ended_ms, 0);
    CHECK_STR(back.dataset_hash, run.dataset_hash);
    CHECK_INT(back.version, 3);
    CHECK(back.promoted);
    CHECK_STR(back.outcome, "promoted v3");
    CHECK_STR(back.error, "");
    CHECK_INT(back.n_tasks, 2);
    CHECK(memcmp(back.tasks, run.tasks, 2 * sizeof *run.tasks) == 0);
    run_t copy;
    CHECK_INT(run_copy(&copy, &back), 0);
    CHECK(copy.tasks != back.tasks);
    CHECK_STR(copy.tasks[1].error, "out of memory");
    run_clear(&copy);
    run_clear(&back);
    run_clear(&run);
    CHECK(run.tasks == NULL && run.n_tasks == 0);
}

static void test_run_add_task_stops_at_limit(void)
{
    run_t run = {.id = 1};
    for (int i = 0; i < RUN_TASKS_MAX; i++)
        CHECK(run_add_task(&run, "train", "logreg") != NULL);
    CHECK(run_add_task(&run, "train", "logreg") == NULL);
    CHECK_INT(run.n_tasks, RUN_TASKS_MAX);
    run_clear(&run);
}

static void test_version_and_audit_round_trip(void)
{
    version_t v = {.version = 5, .run_id = 9, .artifact_len = 1234, .stage = VERSION_PRODUCTION,
                   .created_ms = 77};
    snprintf(v.family, sizeof v.family, "logreg");
    snprintf(v.params, sizeof v.params, "{\"c\":1.0}");
    snprintf(v.reason, sizeof v.reason, "beats v4");
    hash_sha256_hex("model", 5, v.sha256);
    v.metrics = (metrics_t){0.81, 0.79, 0.7, 0.74, 0.87, 0.43, 50, 13, 95, 21};
    uint8_t *bytes;
    size_t len;
    CHECK_INT(version_encode(&v, &bytes, &len), 0);
    version_t vb;
    mlops_err_t err;
    int rc = version_decode(bytes, len, &vb, &err);
    free(bytes);
    CHECK_INT(rc, 0);
    CHECK(memcmp(&v, &vb, sizeof v) == 0);

    audit_t a = {.seq = 3, .ts_ms = 99, .version = 5, .previous = 4};
    snprintf(a.action, sizeof a.action, "rollback");
    snprintf(a.reason, sizeof a.reason, "bad auc");
    CHECK_INT(audit_encode(&a, &bytes, &len), 0);
    audit_t ab;
    rc = audit_decode(bytes, len, &ab, &err);
    free(bytes);
    CHECK_INT(rc, 0);
    CHECK(memcmp(&a, &ab, sizeof a) == 0);
}

static void test_enum_names(void)
{
    CHECK_STR(run_state_name(RUN_SUCCEEDED), "succeeded");
    CHECK_STR(task_state_name(TASK_PENDING), "pending");
    CHECK_STR(version_stage_name(VERSION_PRODUCTION), "production");
    CHECK(run_state_name((run_state_t)9) == NULL);
    CHECK(version_stage_name((version_stage_t)-1) == NULL);
}

//  Checks that o is a map whose keys are exactly keys (space-separated), in
//  that order: the tables of PROTOCOL.md section 11.
static bool s_keys_are(const msgpack_object *o, const char *keys)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return false;
    const char *k = keys;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        size_t n = strcspn(k, " ");
        const msgpack_object *key = &o->via.map.ptr[i].key;
        if (n == 0 || key->type != MSGPACK_OBJECT_STR || key->via.str.size != n
            || memcmp(key->via.str.ptr, k, n) != 0) {
            fprintf(stderr, "  key %u: want \"%.*s\"\n", i, (int)n, k);
            return false;
        }
        k += n + (k[n] == ' ');
    }
    return *k == '\0';
}

static const msgpack_object *s_value(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (map->via.map.ptr[i].key.via.str.size == strlen(key)
            && !memcmp(map->via.map.ptr[i].key.via.str.ptr, key, strlen(key)))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static bool s_str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s)
           && !memcmp(o->via.str.ptr, s, o->via.str.size);
}

//  The encoding seen from outside: the keys and order PROTOCOL.md gives,
//  enum names as str, ints in their shortest form.
static void test_encoding_matches_the_spec(void)
{
    run_t run;
    s_fill_run(&run);
    version_t v = {.version = 1, .stage = VERSION_ARCHIVED};
    audit_t a = {.seq = 1};
    uint8_t *rb, *vb, *ab;
    size_t rlen, vlen, alen;
    CHECK_INT(run_encode(&run, &rb, &rlen), 0);
    run_clear(&run);
    CHECK_INT(version_encode(&v, &vb, &vlen), 0);
    CHECK_INT(audit_encode(&a, &ab, &alen), 0);
    //  msgpack-c points into the bytes for strings: free them after the objects.
    msgpack_unpacked r, ver, au;
    msgpack_unpacked_init(&r);
    msgpack_unpacked_init(&ver);
    msgpack_unpacked_init(&au);
    size_t off = 0, voff = 0, aoff = 0;
    msgpack_unpack_next(&r, (const char *)rb, rlen, &off);
    msgpack_unpack_next(&ver, (const char *)vb, vlen, &voff);
    msgpack_unpack_next(&au, (const char *)ab, alen, &aoff);
    const msgpack_object *tasks = s_value(&r.data, "tasks");
    bool ok = s_keys_are(&r.data, "id state source reason coalesced created_ms started_ms "
                                  "ended_ms dataset_hash version promoted outcome error tasks")
              && tasks && tasks->type == MSGPACK_OBJECT_ARRAY && tasks->via.array.size == 2
              && s_keys_are(&tasks->via.array.ptr[0], "task_id stage family state attempts "
                                                      "started_ms ended_ms retry_at_ms worker error")
              && s_str_is(s_value(&r.data, "state"), "running")
              && s_str_is(s_value(&tasks->via.array.ptr[1], "state"), "failed")
              && s_keys_are(&ver.data, "version run_id dataset_hash family params metrics sha256 "
                                       "artifact_len stage reason created_ms")
              && s_keys_are(s_value(&ver.data, "metrics"), "accuracy precision recall f1 auc "
                                                           "log_loss tp fp tn fn")
              && s_str_is(s_value(&ver.data, "stage"), "archived")
              && s_keys_are(&au.data, "seq ts_ms action version previous reason");
    //  {"seq": 1, ...}: fixmap of 6, fixstr "seq", positive fixint 1.
    bool shortest = alen > 6 && ab[0] == 0x86 && ab[1] == 0xa3 && ab[5] == 0x01;
    msgpack_unpacked_destroy(&r);
    msgpack_unpacked_destroy(&ver);
    msgpack_unpacked_destroy(&au);
    free(rb);
    free(vb);
    free(ab);
    CHECK(ok);
    CHECK(shortest);
}

//  --- building bad inputs --------------------------------------------------

typedef enum { M_DROP, M_SET, M_ADD, M_REPEAT } s_mode_t;

typedef struct {
    const char *path;              //  "reason", "tasks.1.state", "metrics.auc"
    s_mode_t mode;                 //  what to do at that key
    void (*pack)(msgpack_packer *pk); //  the new value (M_SET, M_ADD)
} s_mutation_t;

static bool s_key_is(const msgpack_object *k, const char *name, size_t n)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && !memcmp(k->via.str.ptr, name, n);
}

//  Re-packs o, applying m at the path rest (dot-separated; numbers index arrays).
static void s_repack(msgpack_packer *pk, const msgpack_object *o, const char *rest,
                     const s_mutation_t *m)
{
    const char *dot = rest ? strchr(rest, '.') : NULL;
    size_t n = rest ? (dot ? (size_t)(dot - rest) : strlen(rest)) : 0;
    const char *next = dot ? dot + 1 : NULL;
    if (!rest) {
        msgpack_pack_object(pk, *o);
    } else if (o->type == MSGPACK_OBJECT_ARRAY) {
        uint32_t idx = (uint32_t)atoi(rest);
        msgpack_pack_array(pk, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            s_repack(pk, &o->via.array.ptr[i], i == idx ? next : NULL, m);
    } else {
        uint32_t size = o->via.map.size;
        bool leaf = next == NULL;
        if (leaf)
            size += m->mode == M_DROP ? -1 : m->mode == M_SET ? 0 : 1;
        msgpack_pack_map(pk, size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            bool hit = s_key_is(&kv->key, rest, n);
            if (hit && leaf && m->mode == M_DROP)
                continue;
            msgpack_pack_object(pk, kv->key);
            if (hit && leaf && m->mode == M_SET)
                m->pack(pk);
            else
                s_repack(pk, &kv->val, hit ? next : NULL, m);
            if (hit && leaf && m->mode == M_REPEAT) {
                msgpack_pack_object(pk, kv->key);
                msgpack_pack_object(pk, kv->val);
            }
        }
        if (leaf && m->mode == M_ADD) {
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, rest, n);
            m->pack(pk);
        }
    }
}

//  Encodes the sample run or version with m applied into sbuf.
static void s_mutated(bool version, const s_mutation_t *m, msgpack_sbuffer *sbuf)
{
    uint8_t *bytes;
    size_t len;
    if (version) {
        version_t v = {.version = 1, .stage = VERSION_STAGING};
        version_encode(&v, &bytes, &len);
    } else {
        run_t run;
        s_fill_run(&run);
        run_encode(&run, &bytes, &len);
        run_clear(&run);
    }
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    msgpack_unpack_next(&msg, (const char *)bytes, len, &off);
    msgpack_sbuffer_init(sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    s_repack(&pk, &msg.data, m->path, m);
    msgpack_unpacked_destroy(&msg);
    free(bytes);
}

//  Decodes the mutated record; returns the code and leaves the message in err.
static int s_decode_mutated(bool version, const s_mutation_t *m, mlops_err_t *err)
{
    msgpack_sbuffer sbuf;
    s_mutated(version, m, &sbuf);
    int rc;
    if (version) {
        version_t v;
        rc = version_decode((uint8_t *)sbuf.data, sbuf.size, &v, err);
    } else {
        run_t run;
        rc = run_decode((uint8_t *)sbuf.data, sbuf.size, &run, err);
        run_clear(&run);
    }
    msgpack_sbuffer_destroy(&sbuf);
    return rc;
}

static void s_pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}
static void s_pack_sleeping(msgpack_packer *pk) { s_pack_str(pk, "sleeping"); }
static void s_pack_bogus(msgpack_packer *pk) { s_pack_str(pk, "bogus"); }
static void s_pack_7(msgpack_packer *pk) { msgpack_pack_int(pk, 7); }
static void s_pack_minus1(msgpack_packer *pk) { msgpack_pack_int(pk, -1); }
static void s_pack_huge(msgpack_packer *pk) { msgpack_pack_int64(pk, (int64_t)1 << 40); }
static void s_pack_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void s_pack_long(msgpack_packer *pk)
{
    char s[301];
    memset(s, 'x', 300);
    s[300] = '\0';
    s_pack_str(pk, s);
}
static void s_pack_nul(msgpack_packer *pk)
{
    msgpack_pack_str(pk, 3);
    msgpack_pack_str_body(pk, "a\0b", 3);
}
static void s_pack_65_tasks(msgpack_packer *pk)
{
    msgpack_pack_array(pk, RUN_TASKS_MAX + 1);
    for (int i = 0; i < RUN_TASKS_MAX + 1; i++)
        msgpack_pack_map(pk, 0);
}

typedef struct {
    bool version;        //  mutate the sample version, else the sample run
    s_mutation_t m;      //  the change
    int code;            //  expected code
    const char *msg;     //  expected in the message
} s_case_t;

static void test_decode_rejects_each_error_class(void)
{
    static const s_case_t cases[] = {
        {false, {"source", M_DROP, NULL}, MLOPS_EPROTO, "run.source: missing"},
        {false, {"bogus", M_ADD, s_pack_7}, MLOPS_EPROTO, "run: unknown key \"bogus\""},
        {false, {"id", M_REPEAT, NULL}, MLOPS_EPROTO, "run.id: key repeated"},
        {false, {"id", M_SET, s_pack_bogus}, MLOPS_EPROTO, "run.id: expected integer, got string"},
        {false, {"id", M_SET, s_pack_minus1}, MLOPS_EPROTO, "run.id: negative integer"},
        {false, {"coalesced", M_SET, s_pack_huge}, MLOPS_EPROTO, "run.coalesced: integer out of range"},
        {false, {"promoted", M_SET, s_pack_nil}, MLOPS_EPROTO, "run.promoted: expected bool, got nil"},
        {false, {"reason", M_SET, s_pack_long}, MLOPS_EPROTO,
         "run.reason: string of 300 bytes exceeds the limit of 255"},
        {false, {"outcome", M_SET, s_pack_nul}, MLOPS_EPROTO, "run.outcome: string contains a NUL"},
        {false, {"state", M_SET, s_pack_sleeping}, MLOPS_EPROTO, "run.state: unknown value \"sleeping\""},
        {false, {"tasks", M_SET, s_pack_65_tasks}, MLOPS_ETOOBIG, "run.tasks: 65 entries exceed the limit of 64"},
        {false, {"tasks", M_SET, s_pack_7}, MLOPS_EPROTO, "run.tasks: expected array, got integer"},
        {false, {"tasks.1.state", M_SET, s_pack_bogus}, MLOPS_EPROTO, "run.tasks[1].state: unknown value \"bogus\""},
        {false, {"tasks.0.worker", M_DROP, NULL}, MLOPS_EPROTO, "run.tasks[0].worker: missing"},
        {true, {"metrics.auc", M_SET, s_pack_7}, MLOPS_EPROTO, "version.metrics.auc: expected float, got integer"},
        {true, {"stage", M_SET, s_pack_bogus}, MLOPS_EPROTO, "version.stage: unknown value \"bogus\""},
        {true, {"metrics", M_SET, s_pack_nil}, MLOPS_EPROTO, "version.metrics: expected map, got nil"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mlops_err_t err;
        mlops_err_clear(&err);
        CHECK_INT(s_decode_mutated(cases[i].version, &cases[i].m, &err), cases[i].code);
        CHECK_CONTAINS(err.msg, cases[i].msg);
    }
}

static void test_decode_rejects_bad_framing(void)
{
    run_t run, back;
    s_fill_run(&run);
    uint8_t *bytes;
    size_t len;
    CHECK_INT(run_encode(&run, &bytes, &len), 0);
    run_clear(&run);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, bytes, len);
    longer[len] = 0xc0;
    mlops_err_t err;
    int rc_trailing = run_decode(longer, len + 1, &back, &err);
    char msg_trailing[MLOPS_ERRMSG_MAX];
    snprintf(msg_trailing, sizeof msg_trailing, "%s", err.msg);
    int rc_trunc = run_decode(bytes, len - 3, &back, &err);
    free(longer);
    free(bytes);
    CHECK_INT(rc_trailing, MLOPS_EPROTO);
    CHECK_CONTAINS(msg_trailing, "run: 1 trailing bytes");
    CHECK_INT(rc_trunc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "run: msgpack");
    CHECK(back.tasks == NULL);

    CHECK_INT(run_decode(NULL, 0, &back, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "run: msgpack truncated at byte 0");
    //  4 billion elements claimed in 5 bytes: refused before any allocation.
    static const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK_INT(run_decode(bomb, sizeof bomb, &back, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "run: msgpack length at byte 0 runs past the end");
    static const uint8_t strbomb[] = {0x81, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    CHECK_INT(run_decode(strbomb, sizeof strbomb, &back, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "run: msgpack length at byte 1 runs past the end");
    static const uint8_t deep[] = {0x81, 0xa5, 't', 'a', 's', 'k', 's', 0x91, 0x91, 0x91, 0x91, 0x90};
    CHECK_INT(run_decode(deep, sizeof deep, &back, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "run: msgpack nested deeper than 4");
    static const uint8_t c1[] = {0xc1};
    CHECK_INT(audit_decode(c1, 1, &(audit_t){0}, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "audit: msgpack: bad or unsupported type 0xc1 at byte 0");
    static const uint8_t arr[] = {0x90};
    CHECK_INT(version_decode(arr, 1, &(version_t){0}, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "version: expected map, got array");
    static const uint8_t intkey[] = {0x81, 0x01, 0x02};
    CHECK_INT(audit_decode(intkey, sizeof intkey, &(audit_t){0}, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "audit: key 0 is not a string (integer)");
}

//  Every proper prefix of a record is refused; seeded random byte changes
//  are refused or decode to something that encodes again, never a crash
//  (ASan watches the reads).
static void test_decode_survives_truncation_and_corruption(void)
{
    run_t run, back;
    s_fill_run(&run);
    uint8_t *bytes;
    size_t len;
    CHECK_INT(run_encode(&run, &bytes, &len), 0);
    run_clear(&run);
    mlops_err_t err;
    size_t prefix_ok = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); //  exact size: ASan sees any overread
        memcpy(copy, bytes, cut);
        mlops_err_clear(&err);
        int rc = run_decode(copy, cut, &back, &err);
        free(copy);
        prefix_ok += rc == MLOPS_EPROTO && err.msg[0] != '\0' && back.tasks == NULL;
    }
    unsigned seed = 12345;
    size_t odd = 0, accepted = 0;
    for (int i = 0; i < 3000; i++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, bytes, len);
        for (int flips = 1 + (int)(rand_r(&seed) % 3); flips > 0; flips--)
            copy[rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
        int rc = run_decode(copy, len, &back, &err);
        free(copy);
        if (rc == 0) {
            uint8_t *again;
            size_t again_len;
            accepted++;
            odd += run_encode(&back, &again, &again_len) != 0;
            free(again);
        } else
            odd += (rc != MLOPS_EPROTO && rc != MLOPS_ETOOBIG) || back.tasks != NULL;
        run_clear(&back);
    }
    free(bytes);
    CHECK_INT(prefix_ok, len);
    CHECK_INT(odd, 0);
    CHECK(accepted < 3000);
}

//  The seeds in fuzz/corpus/records were packed by Python's msgpack from
//  dicts in the key order of PROTOCOL.md section 11: they decode, and the C
//  encoder gives back the very same bytes (the spec's interop claim).
static void test_python_packed_records_are_byte_identical(void)
{
    static const char *names[] = {"run-empty", "run-tasks", "version", "audit"};
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "fuzz/corpus/records/%s.msgpack", names[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            fprintf(stderr, "  cannot open %s (tests run from the repo root)\n", path);
        CHECK(f != NULL);
        static uint8_t buf[4096];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        CHECK(len > 1 && buf[0] <= 2);
        mlops_err_t err;
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc;
        if (buf[0] == 0) {
            run_t run;
            rc = run_decode(buf + 1, len - 1, &run, &err);
            if (rc == 0)
                run_encode(&run, &out, &out_len);
            run_clear(&run);
        } else if (buf[0] == 1) {
            version_t v;
            rc = version_decode(buf + 1, len - 1, &v, &err);
            if (rc == 0)
                version_encode(&v, &out, &out_len);
        } else {
            audit_t a;
            rc = audit_decode(buf + 1, len - 1, &a, &err);
            if (rc == 0)
                audit_encode(&a, &out, &out_len);
        }
        if (rc)
            fprintf(stderr, "  %s: %s\n", path, err.msg);
        CHECK_INT(rc, 0);
        bool same = out_len == len - 1 && memcmp(out, buf + 1, out_len) == 0;
        free(out);
        CHECK(same);
    }
}

int main(void)
{
    RUN(test_run_round_trip_with_tasks);
    RUN(test_run_add_task_stops_at_limit);
    RUN(test_version_and_audit_round_trip);
    RUN(test_enum_names);
    RUN(test_encoding_matches_the_spec);
    RUN(test_decode_rejects_each_error_class);
    RUN(test_decode_rejects_bad_framing);
    RUN(test_decode_survives_truncation_and_corruption);
    RUN(test_python_packed_records_are_byte_identical);
    return TEST_REPORT("test_records");
}
