/*  data_io.c: the MLOPS-DATA/1 header codec (data_io.h), one fields table
    (fields.h) so the wire shape and the struct agree by construction. */
#include "data_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fields.h"

static const char *const s_cmd_names[DATA_CMD_COUNT] = {"GET", "CHUNK", "PUT", "ACK", "STORED",
                                                        "ERROR"};

static const fields_spec_t s_header[] = {
    FIELD_I64(data_header_t, v),
    FIELD_ENUM(data_header_t, cmd, s_cmd_names),
    FIELD_STR(data_header_t, hash),
    FIELD_U64(data_header_t, offset),
    FIELD_U64(data_header_t, size),
    FIELD_U64(data_header_t, total),
    FIELD_STR(data_header_t, code),
    FIELD_STR(data_header_t, error),
};

static const fields_table_t s_table = FIELDS_TABLE("data", data_header_t, s_header);

const char *data_cmd_name(data_cmd_t cmd)
{
    return (int)cmd >= 0 && cmd < DATA_CMD_COUNT ? s_cmd_names[cmd] : NULL;
}

int data_hash_valid(const char *s)
{
    if (strlen(s) != HASH_HEX_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

int data_header_encode(const data_header_t *h, uint8_t **out, size_t *out_len)
{
    return fields_encode(&s_table, h, out, out_len);
}

int data_header_decode(const uint8_t *data, size_t len, data_header_t *h, mlops_err_t *err)
{
    if (len > DATA_HEADER_MAX_BYTES)
        return mlops_err_set(err, MLOPS_EPROTO, "data header of %zu bytes, more than %d", len,
                             DATA_HEADER_MAX_BYTES);
    int rc = fields_decode(&s_table, data, len, h, err);
    if (rc)
        return rc;
    if (h->v != DATA_VERSION)
        return mlops_err_set(err, MLOPS_EVERSION, "data.v: version %lld, this peer speaks %d",
                             (long long)h->v, DATA_VERSION);
    //  an ERROR about a request that did not decode names no blob
    if (!data_hash_valid(h->hash) && !(h->cmd == DATA_ERROR && !h->hash[0]))
        return mlops_err_set(err, MLOPS_EPROTO, "data.hash: not 64 lower-case hex digits");
    if (h->size > DATA_CHUNK_MAX_BYTES)
        return mlops_err_set(err, MLOPS_EPROTO, "data.size: %llu bytes, more than %zu",
                             (unsigned long long)h->size, DATA_CHUNK_MAX_BYTES);
    return 0;
}

void data_header_error(data_header_t *h, const data_header_t *about, const char *code,
                       const char *fmt, ...)
{
    memset(h, 0, sizeof *h);
    h->v = DATA_VERSION;
    h->cmd = DATA_ERROR;
    if (about) {
        memcpy(h->hash, about->hash, sizeof h->hash);
        h->offset = about->offset;
    }
    snprintf(h->code, sizeof h->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->error, sizeof h->error, fmt, ap);
    va_end(ap);
}
