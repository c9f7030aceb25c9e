/*  synth.h: a seeded generator of Titanic-like passenger tables.

    The extract stage's `synthetic[:ROWS[:SEED]]` source. The table has the
    real file's 12 columns with the kinds the CSV loader gives the real file
    (PassengerId, Survived, Pclass, Age, SibSp, Parch, Fare: number; Sex,
    Embarked: category; Name, Ticket, Cabin: text) and marginals close to it:
    class 1/2/3 about 24/21/55 %, about 65 % male, Age about 20 % missing,
    fares by class, families, Embarked S/C/Q about 72/19/9 %, Cabin mostly
    for first class. Survival follows a logistic model on sex, class, age
    (children), family size, title and port, calibrated to about 38 %
    survivors, so a logistic regression scores on it about as on the real
    data (0.80 - 0.83 accuracy).

    Caveats:
    - Deterministic: the same rows and seed give the same table, hence the
      same table_hash (pinned in tests/test_synth.c). The generator is
      integer (rng.h's xoshiro256** stream 0) and plain IEEE arithmetic
      except one exp() per fare, which is rounded to 4 decimals; a libm
      that rounds exp() differently could in principle move one fare by
      0.0001 on another machine.
    - Names, tickets and cabins come from fixed pools, so their levels stay
      bounded (a few hundred thousand at most) whatever the row count; at
      large row counts names repeat.
*/
#ifndef MLOPS_SYNTH_H
#define MLOPS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "source.h"
#include "table.h"

//  The spec's limits and defaults are the source grammar's (proto/source.h).
#define SYNTH_MIN_ROWS SOURCE_SYNTH_MIN_ROWS
#define SYNTH_MAX_ROWS SOURCE_SYNTH_MAX_ROWS
#define SYNTH_DEFAULT_ROWS SOURCE_SYNTH_DEFAULT_ROWS
#define SYNTH_DEFAULT_SEED SOURCE_SYNTH_DEFAULT_SEED

//  Parses "synthetic", "synthetic:ROWS" or "synthetic:ROWS:SEED" (decimal)
//  into *rows and *seed (defaults SYNTH_DEFAULT_ROWS, SYNTH_DEFAULT_SEED)
//  by the source grammar (source_parse). Returns 0, or MLOPS_EINVAL with
//  err naming the part that is wrong (not a synthetic source, rows not a
//  number or outside 10..10,000,000, seed not a number, too many parts);
//  *rows and *seed are then untouched.
int synth_parse_spec(const char *spec, size_t *rows, uint64_t *seed, mlops_err_t *err);

//  Generates rows passengers from seed. Returns a new table the caller
//  destroys, or NULL with err set: MLOPS_EINVAL (rows outside
//  SYNTH_MIN_ROWS..SYNTH_MAX_ROWS), MLOPS_ENOMEM.
table_t *synth_generate(size_t rows, uint64_t seed, mlops_err_t *err);

#define SYNTH_CHUNK_BYTES (1 << 20)   //  synth_stream's row buffer, all columns together

//  As synth_generate, written as the table's canonical encoding (the
//  same bytes as table_encode of synth_generate's table, so the same
//  dataset version) to out_fd from its current offset, a chunk of about
//  chunk_bytes of rows at a time (0 = SYNTH_CHUNK_BYTES) through a spill
//  file (table_spill.h): memory is bounded by the chunk and the string
//  pools, not by rows. Reports "rows" progress per chunk and stops at a
//  cancel (progress.h). Returns 0, or an error code with err:
//  MLOPS_EINVAL (rows out of range), MLOPS_ENOMEM, errno (the spill or
//  out_fd), MLOPS_ECANCELED; out_fd then holds junk.
int synth_stream(size_t rows, uint64_t seed, int out_fd, size_t chunk_bytes, mlops_err_t *err);

#endif
