/*  infer_profile.h: the live profiles (proto/profile.h) of the records an
    inference worker serves, one per served version, handed from the
    serving thread to the feed thread, which sends each version's rows since
    its previous report with SERVING (the broker's drift monitor merges
    them into its window: broker/drift.h).

    Bounded memory, no allocation per request: INFER_PROFILE_VERSIONS
    slots, each with two profiles of its version's reference shape (from
    the artifact, model_profile) allocated when the version is first
    served. A model without a reference profile (an artifact made before
    profiles) is not profiled.

    The hand-off takes no lock. Each slot's two profiles are a double
    buffer: the serving thread counts into the active one; the feed flips
    the active index and reads the other once the serving thread is not in
    the middle of a request on it (the serving thread publishes which one
    it fills, then checks the index again, so with sequentially consistent
    atomics either it sees the flip or the feed sees it busy and waits the
    few microseconds of one request's counting). The feed resets the
    buffer it read before it can become active again. A slot is reused
    for another version (the one served longest ago goes) only when the
    feed is not reading it, the same way round.

    Caveats:
    - One report carries one version's profile: the feed takes the slots
      in turn, so a worker serving pinned versions reports each every few
      reports; the others keep counting meanwhile.
    - Rows of a report that is lost (the broker away) are lost: drift is
      measured on a sample, and the window wants no more than that.
    - An inference worker process serves from one thread, so its serving
      thread and feed share one accumulator, infer_profile_process()
      (a process global, like the feed's refusal flag); tests make their
      own with infer_profile_new.
*/
#ifndef MLOPS_INFER_PROFILE_H
#define MLOPS_INFER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "msg.h"

#define INFER_PROFILE_VERSIONS 5   //  the served version and INFER_PINNED_MAX pinned ones
//  An encoded profile that goes with SERVING: the broker's control socket
//  takes messages of 64 KiB (BROKER_CONTROL_MSG_MAX_BYTES) and drops the
//  peer of a bigger one, so the rest is room for SERVING's other keys.
#define INFER_PROFILE_REPORT_MAX_BYTES (48u << 10)

typedef struct infer_profile infer_profile_t;

//  An empty accumulator whose takes refuse an encoded profile over
//  report_max bytes (0 = INFER_PROFILE_REPORT_MAX_BYTES). NULL on ENOMEM.
infer_profile_t *infer_profile_new(size_t report_max);

//  Frees; ignores NULL; sets *p to NULL. Neither thread may use it then.
void infer_profile_destroy(infer_profile_t **p);

//  The accumulator of this process (see the caveats).
infer_profile_t *infer_profile_process(void);

//  Turns counting on (the default) or off: off, infer_profile_add does
//  nothing and takes find no rows (mlops-worker --drift-profile off, to
//  measure the cost side by side). Before the serving thread starts.
void infer_profile_set_on(infer_profile_t *self, bool on);

//  Frees what self holds (every slot), for the end of the serving thread:
//  neither thread may use it meanwhile.
void infer_profile_clear(infer_profile_t *self);

//  Serving thread: counts n records (already validated and answered) that
//  version served with model, by the cells model_serve_cells left of them
//  (n x n_inputs: each record is mapped to the signature once, by the
//  serving). Allocates only when version is new to self. Does nothing when
//  model has no reference profile, version <= 0 or counting is off.
void infer_profile_add(infer_profile_t *self, int64_t version, const model_t *model,
                       const prep_cell_t *cells, size_t n);

//  Feed thread: the next version with rows since its last take, as an
//  encoded profile (*out malloc'd, the caller frees) and its version; the
//  rows are then taken (counted from zero again). Returns 0 with *out
//  NULL and *out_len 0 when no version has rows, MLOPS_ETOOBIG (a profile
//  over the report limit: a table too wide to watch this way; the rows
//  are dropped, *out NULL and *version 0, and a warning is logged once) or
//  MLOPS_ENOMEM (the rows are dropped).
int infer_profile_take(infer_profile_t *self, int64_t *version, uint8_t **out, size_t *out_len);

#endif
