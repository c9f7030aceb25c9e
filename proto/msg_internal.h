/*  msg_internal.h: what the three files of the MLOPS/1 codec share; not
    part of msg.h's API and included by proto/msg*.c only.

    One table per command lists its body keys in struct order, with each
    key's type, offset in proto_msg_t and whether it is required (msg.c).
    The decoder (msg_decode.c), the encoder (msg_encode.c) and the
    comparison and dump (msg.c) all walk that table, so a command is added
    in one place. The checks both directions must agree on (what a str
    may hold, when two record fields share a name) live in msg.c too, so
    what we send is what we accept.
*/
#ifndef MLOPS_MSG_INTERNAL_H
#define MLOPS_MSG_INTERNAL_H

#include "msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MSG_DUP_PAIRWISE_MAX 16  //  record fields compared pairwise up to this; sorted above

//  How a body key's value is held in proto_msg_t and sent on the wire.
typedef enum {
    F_STR,      //  const char *
    F_INT,      //  int64_t, >= 0
    F_UINT,     //  uint64_t
    F_BOOL,     //  bool
    F_FLOAT,    //  double, float 64 on the wire (float 32 read too)
    F_BIN,      //  const uint8_t * + size_t length
    F_ANY,      //  const uint8_t * + size_t length: one encoded msgpack object
    F_RECORDS,  //  proto_record_t * + size_t count
    F_INTS,     //  const int64_t * + size_t count
    F_FLOATS,   //  const double * + size_t count
    F_DETAIL,   //  const proto_problem_t * + size_t count
} msg_kind_t;

//  One body key of a command.
typedef struct {
    const char *key;   //  wire name, the struct field's name
    msg_kind_t kind;   //  msgpack type and C layout
    size_t off;        //  offset of the value in proto_msg_t
    size_t len_off;    //  offset of the size_t length or count (sized kinds)
    bool required;     //  an absent key is an error (else it takes its default)
    size_t max_len;    //  F_STR: longest value in bytes, 0 = only the frame's limit;
                       //  F_FLOATS: most entries, 0 = PROTO_RECORDS_MAX
    int since;         //  the protocol version that added it; keys added after
                       //  version 1 are written only when set (not "") and
                       //  make the envelope carry that version (msg.h)
} msg_field_t;

//  One command: its name and its body keys.
typedef struct {
    const char *name;           //  wire name
    const msg_field_t *fields;  //  body keys in canonical order
    size_t n_fields;            //  how many
    int since;                  //  the protocol version that added the command
} msg_command_t;

//  Field accessors: the table says where, these say as what.
#define MSG_AT(msg, off, type) ((type *)((char *)(msg) + (off)))
#define MSG_CAT(msg, off, type) ((const type *)((const char *)(msg) + (off)))

//  The table entry of cmd, or NULL when cmd is not a command.
const msg_command_t *msg_command(proto_cmd_t cmd);

//  The version a message needs: the newest `since` of its command and of
//  the keys it sets (PROTO_VERSION_MIN when it uses nothing newer).
int msg_version_needed(const proto_msg_t *msg, const msg_command_t *c);

//  True when key f is left out of msg on the wire: added after version 1
//  and not set.
bool msg_field_omitted(const proto_msg_t *msg, const msg_field_t *f);

//  The command whose wire name is name[0..n) (not terminated), or 0.
proto_cmd_t msg_command_find(const uint8_t *name, size_t n);

//  True when s[0..n) is UTF-8 without a NUL byte; else *bad is the offset
//  of the first byte that is not.
bool msg_utf8_valid(const uint8_t *s, size_t n, size_t *bad);

//  A record field's name as the duplicate check compares it.
typedef struct {
    uint64_t head;     //  the name's first 8 bytes, zero-padded
    size_t len;        //  the name's length
    const char *name;  //  the name, borrowed
} msg_name_key_t;

//  Fills key for a name of len bytes (its strlen).
static inline void msg_name_key(msg_name_key_t *key, const char *name, size_t len)
{
    key->name = name;
    key->len = len;
    key->head = 0;
    memcpy(&key->head, name, len < 8 ? len : 8);
}

//  A name two of the n keys share, or NULL: pairwise on (head, len), with
//  strcmp only when those agree, for the usual handful of fields (the
//  later of the first pair found); by sorting (n log n, not n squared) for
//  wide records, which reorders keys.
const char *msg_names_repeat(msg_name_key_t *keys, size_t n);

#endif
