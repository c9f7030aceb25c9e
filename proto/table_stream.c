/*  table_stream.c: see table_stream.h. The keys and header widths are
    msgpack-c's, as in table_encode, so the bytes agree. */
#include "table_stream.h"

#include <msgpack.h>
#include <string.h>

typedef struct {
    table_write_fn *write;
    void *arg;
    int rc;                //  first error of write
} s_out_t;

static int s_write_fn(void *data, const char *buf, size_t len)
{
    s_out_t *out = data;
    if (out->rc == 0)
        out->rc = out->write(out->arg, buf, len);
    return out->rc ? -1 : 0;
}

static int s_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

//  A packer writing through write; s_done gives the first error.
static void s_begin(s_out_t *out, msgpack_packer *pk, table_write_fn *write, void *arg)
{
    *out = (s_out_t){write, arg, 0};
    msgpack_packer_init(pk, out, s_write_fn);
}

static int s_done(const s_out_t *out, int failed)
{
    return out->rc ? out->rc : failed ? MLOPS_ENOMEM : 0;
}

int table_stream_head(table_write_fn *write, void *arg, uint64_t n_rows, size_t n_cols)
{
    s_out_t out;
    msgpack_packer pk;
    s_begin(&out, &pk, write, arg);
    int failed = msgpack_pack_map(&pk, 3) || s_str(&pk, "version") || msgpack_pack_uint32(&pk, 1)
              || s_str(&pk, "rows") || msgpack_pack_uint64(&pk, n_rows)
              || s_str(&pk, "columns") || msgpack_pack_array(&pk, n_cols);
    return s_done(&out, failed);
}

int table_stream_column(table_write_fn *write, void *arg, const char *name, table_kind_t kind,
                        uint64_t n_rows)
{
    const char *kinds[] = {"", "number", "category", "text"};
    s_out_t out;
    msgpack_packer pk;
    s_begin(&out, &pk, write, arg);
    int failed = msgpack_pack_map(&pk, kind == TABLE_NUMBER ? 4 : 5) || s_str(&pk, "name")
              || s_str(&pk, name) || s_str(&pk, "kind") || s_str(&pk, kinds[kind])
              || s_str(&pk, "missing") || msgpack_pack_bin(&pk, (n_rows + 7) / 8);
    return s_done(&out, failed);
}

int table_stream_values(table_write_fn *write, void *arg, uint64_t n_rows)
{
    s_out_t out;
    msgpack_packer pk;
    s_begin(&out, &pk, write, arg);
    int failed = s_str(&pk, "values") || msgpack_pack_bin(&pk, 8 * n_rows);
    return s_done(&out, failed);
}

int table_stream_levels(table_write_fn *write, void *arg, char *const *levels, size_t n_levels,
                        uint64_t n_rows)
{
    s_out_t out;
    msgpack_packer pk;
    s_begin(&out, &pk, write, arg);
    int failed = s_str(&pk, "levels") || msgpack_pack_array(&pk, n_levels);
    for (size_t l = 0; l < n_levels && !failed; l++)
        failed = s_str(&pk, levels[l]);
    failed = failed || s_str(&pk, "codes") || msgpack_pack_bin(&pk, 4 * n_rows);
    return s_done(&out, failed);
}

void table_stream_number(uint8_t out[8], double v, bool missing)
{
    uint64_t bits = TABLE_NAN_BITS;
    if (!missing)
        memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(bits >> (8 * i));
}

void table_stream_code(uint8_t out[4], uint32_t code, bool missing)
{
    if (missing)
        code = 0;
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(code >> (8 * i));
}
