/*  source.h: the grammar of a run's source (RETRAIN.source, PROTOCOL.md
    section 5.2, "The source of a run"), in one place for the broker, which
    refuses a bad one before any run starts, and for the extract stage and
    `mlops train`, which read it (ml/synth.c parses its spec here).

        source    = base [ "+feedback" ] | dataset
        base      = synthetic | csv | path
        synthetic = "synthetic" [ ":" ROWS [ ":" SEED ] ]
        csv       = "csv:" PATH                 (a CSV path said as one)
                    ROWS: decimal, SOURCE_SYNTH_MIN_ROWS..SOURCE_SYNTH_MAX_ROWS
                    (default SOURCE_SYNTH_DEFAULT_ROWS); SEED: decimal,
                    0..2^64-1 (default SOURCE_SYNTH_DEFAULT_SEED)
        dataset   = "dataset:" HASH | HASH      (a table already in the store)
                    HASH: 64 lower-case hex digits
        path      = anything else: a CSV file on the extract worker's host,
                    1..SOURCE_MAX_BYTES bytes, no control character

    "+feedback" joins the base's rows with the broker's feedback set
    (labelled live rows, broker/feedback_store.h): the extract table is the
    base's rows and then the feedback rows, columns matched by name and the
    label in the target column. A path that ends in "+feedback" is read so;
    a stored dataset is not joined (retrain from its CSV instead).

    Only the syntax is checked here: whether a path may be read (the extract
    worker's --data-root) or a dataset is stored is for those who hold them.
*/
#ifndef MLOPS_SOURCE_H
#define MLOPS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

#define SOURCE_MAX_BYTES 255               //  as RETRAIN.source (PROTO_TEXT_MAX)
#define SOURCE_SYNTH_MIN_ROWS 10           //  fewer rows cannot be split and trained on
#define SOURCE_SYNTH_MAX_ROWS 10000000     //  ~1 GB of table at this size
#define SOURCE_SYNTH_DEFAULT_ROWS 891      //  the real Titanic file's size
#define SOURCE_SYNTH_DEFAULT_SEED 42

typedef enum {
    SOURCE_SYNTHETIC = 0,                  //  the generator (ml/synth.h)
    SOURCE_DATASET,                        //  a stored table, by its hash
    SOURCE_PATH,                           //  a CSV file on the extract worker's host
} source_kind_t;

typedef struct {
    source_kind_t kind;
    size_t rows;                           //  SOURCE_SYNTHETIC: rows to generate
    uint64_t seed;                         //  SOURCE_SYNTHETIC: the generator's seed
    char hash[HASH_HEX_LEN + 1];           //  SOURCE_DATASET: the table's name
    bool feedback;                         //  "+feedback": joined with the feedback set
    char base[SOURCE_MAX_BYTES + 1];       //  the base as extract reads it: "csv:" and
                                           //  "+feedback" taken off (the text otherwise)
} source_t;

#define SOURCE_FEEDBACK "+feedback"        //  the suffix that joins the feedback set

//  Parses text by the grammar above into *out. Returns 0, or MLOPS_EINVAL
//  with err naming the rule broken ("synthetic: rows 9 outside
//  10..10000000", "dataset: 'abc' is not a dataset hash (64 lower-case hex
//  digits)", "source: byte 3 is a control character", ...); then only
//  out->kind is written: the kind the text has by its shape (a path when
//  empty), so a caller that wants one kind can say "not a synthetic source".
int source_parse(const char *text, source_t *out, mlops_err_t *err);

#endif
