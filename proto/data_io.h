/*  data_io.h: MLOPS-DATA/1, the data service's messages (proto/PROTOCOL.md,
    "Data service"). Stage payloads name their tables, splits and model
    artifacts by sha256 (a claim check); the bytes travel here, between a
    worker's DEALER and the broker's data socket (a ROUTER on a thread of
    its own), in chunks of at most DATA_CHUNK_MAX_BYTES.

    Every message is one or two frames: a header (one msgpack map, every key
    always present, encoded by data_header_encode) and, for CHUNK and PUT,
    the chunk's bytes as they are. Flow control is the client's: it keeps at
    most a window of requests in flight (GETs when fetching, PUTs when
    uploading) and sends the next one when an answer comes back, so neither
    side ever queues more than window x chunk bytes.

    - GET {hash, offset, size}: size bytes from offset (size 0 = only the
      blob's total). Answer CHUNK {hash, offset, size, total} + the bytes,
      or ERROR.
    - PUT {hash, offset, size, total} + size bytes: one chunk of an upload,
      in order from offset 0. Answer ACK {hash, offset = bytes received so
      far}; after the last chunk, when the bytes' sha256 is hash, STORED
      {hash, total}; the blob is visible only then. A blob already stored is
      answered STORED at its first PUT.
    - ERROR {hash, offset, code, error}: code is one of the DATA_ERR_ words
      below; an upload that meets an error is dropped whole.
*/
#ifndef MLOPS_DATA_IO_H
#define MLOPS_DATA_IO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

#define DATA_VERSION 1                          //  the header's "v"
#define DATA_CHUNK_MAX_BYTES ((size_t)1 << 20)  //  bytes in one CHUNK or PUT
#define DATA_HEADER_MAX_BYTES 1024              //  a header is far smaller
#define DATA_MSG_MAX_BYTES (DATA_CHUNK_MAX_BYTES + DATA_HEADER_MAX_BYTES) //  ZMQ_MAXMSGSIZE
#define DATA_WINDOW 8                           //  requests a client keeps in flight
#define DATA_BLOB_MAX_BYTES ((uint64_t)1 << 40) //  a declared total over this is refused

//  The codes of an ERROR (PROTOCOL.md, "Data service").
#define DATA_ERR_INVALID "invalid"       //  a bad header: version, hash, offset, size
#define DATA_ERR_NOT_FOUND "not_found"   //  no blob with that hash
#define DATA_ERR_TOO_BIG "too_big"       //  more bytes than the declared total, or a total over the limit
#define DATA_ERR_ORDER "order"           //  a PUT that does not continue its upload
#define DATA_ERR_MISMATCH "mismatch"     //  the bytes received do not hash to the name
#define DATA_ERR_STORE "store"           //  the store refused (full: see --store-size)
#define DATA_ERR_BUSY "busy"             //  too many uploads at once: retry later

typedef enum {
    DATA_GET = 0,
    DATA_CHUNK,
    DATA_PUT,
    DATA_ACK,
    DATA_STORED,
    DATA_ERROR,
    DATA_CMD_COUNT,
} data_cmd_t;

typedef struct {
    int64_t v;                      //  DATA_VERSION
    data_cmd_t cmd;                 //  what this is
    char hash[HASH_HEX_LEN + 1];    //  the blob's sha256, lower-case hex
    uint64_t offset;                //  of the chunk in the blob
    uint64_t size;                  //  bytes of the chunk (GET: wanted)
    uint64_t total;                 //  the blob's size (CHUNK, PUT, STORED; else 0)
    char code[16];                  //  ERROR: a DATA_ERR_ word, else ""
    char error[256];                //  ERROR: what went wrong, else ""
} data_header_t;

//  Encodes h into a malloc'd buffer the caller frees. 0 or MLOPS_ENOMEM.
int data_header_encode(const data_header_t *h, uint8_t **out, size_t *out_len);

//  Decodes and checks a header: 0, or MLOPS_EPROTO (bad msgpack, a key
//  missing or unknown, a hash that is not 64 lower-case hex digits (an
//  ERROR may have "": it answers a request that did not decode), a size
//  over DATA_CHUNK_MAX_BYTES) or MLOPS_EVERSION (another "v"), with err
//  naming the key.
int data_header_decode(const uint8_t *data, size_t len, data_header_t *h, mlops_err_t *err);

//  Fills an ERROR header answering `about`.
void data_header_error(data_header_t *h, const data_header_t *about, const char *code,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

//  Wire name of a command ("GET"), NULL when invalid.
const char *data_cmd_name(data_cmd_t cmd);

//  True when s is 64 lower-case hex digits: a sha256 as blobs are named.
int data_hash_valid(const char *s);

#endif
