/*  drift.h: the broker's drift monitor: a sliding window of the live
    profiles (proto/profile.h) the inference workers report per model
    version, each field's distance to the version's reference profile, and
    the decision to start a retrain.

    The window: DRIFT_BUCKETS buckets of bucket_ms each (default 12 x 5 min,
    one hour), a ring indexed by time; a report is added to the bucket of
    its arrival time, a bucket older than the window is emptied before it is
    reused, and a check merges the buckets still inside the window. Reports
    carry the rows a worker profiled since its previous report (a delta),
    so the window holds each served row once. Memory is bounded: at most
    DRIFT_VERSIONS_MAX versions (the oldest reference set is dropped for a
    new one), each with DRIFT_BUCKETS profiles of its reference's shape,
    allocated when the reference is set.

    The decision (drift_check), with config c:
    - nothing is decided until the window holds c.min_rows live rows: fewer
      rows measure sampling noise more than drift;
    - a field has drifted when its Jensen-Shannon distance (base 2) to the
      reference is >= c.threshold; PSI is computed and reported only;
    - a retrain is triggered when at least DRIFT_SHARE (10 %) of the
      profiled fields, and at least one, have drifted (one of Titanic's
      seven fields is enough; a table of 30 fields needs 3), and the last
      trigger, for any version, was at least c.cooldown_ms ago;
    - the reason names the drifted fields, most drifted first, with their
      distances: "drift: Fare 0.41, Pclass 0.33".
    The defaults come from bench/drift_noise.c (its table is in that file's
    header): at DRIFT_MIN_ROWS_DEFAULT (1000) rows, the largest field
    distance of in-distribution traffic stayed under 0.103 in 500 windows,
    so DRIFT_THRESHOLD_DEFAULT (0.15) never fired there, while Fare x3
    (0.55) and a shifted Pclass (0.32) fired in every window. Sampling
    noise grows as rows shrink (about 1 / sqrt(rows)): 200 rows want 0.2.

    Pure and deterministic: the clock is an argument (monotonic ms), no
    sockets, so it is unit-tested as it runs.
*/
#ifndef MLOPS_DRIFT_H
#define MLOPS_DRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "profile.h"
#include "records.h"

#define DRIFT_VERSIONS_MAX 4                        //  versions watched at once
#define DRIFT_BUCKETS 12                            //  buckets in a window
#define DRIFT_BUCKET_MSEC_DEFAULT (5 * 60 * 1000)   //  5 min: a one-hour window
#define DRIFT_SHARE 0.1                             //  drifted fields / fields that trigger
#define DRIFT_THRESHOLD_DEFAULT 0.15                //  what --drift-threshold suggests
#define DRIFT_MIN_ROWS_DEFAULT 1000                 //  --drift-min-rows when not given
#define DRIFT_MIN_ROWS_MAX 100000000                //  a larger --drift-min-rows is a typo
#define DRIFT_COOLDOWN_MSEC_DEFAULT (60 * 60 * 1000) //  --drift-cooldown when not given: 1h
#define DRIFT_COOLDOWN_MSEC_MIN 1000                //  1s .. 30d
#define DRIFT_COOLDOWN_MSEC_MAX (30LL * 24 * 60 * 60 * 1000)

typedef struct {
    double threshold;     //  JS distance of a drifted field, (0, 1]; 0 = no trigger (off)
    uint64_t min_rows;    //  live rows in the window before any decision, >= 1
    int64_t cooldown_ms;  //  at least this long between two triggers
    int64_t bucket_ms;    //  width of a bucket (the window is DRIFT_BUCKETS of them)
} drift_config_t;

//  One field's state after a check.
typedef struct {
    const char *name;  //  borrowed from the reference profile
    double js;         //  Jensen-Shannon distance to the reference, [0, 1]
    double psi;        //  PSI against the reference
    bool drifted;      //  js >= threshold
    const profile_field_t *ref;   //  the reference's counts, borrowed from the monitor
    const profile_field_t *live;  //  the window's counts, borrowed (until the next call)
} drift_field_t;

//  What drift_check found. fields (and their ref and live) is borrowed
//  from the version's own state in the monitor: valid until the next
//  check or measure of that version, or a reference set for any.
typedef struct {
    uint64_t rows;                   //  live rows in the window
    bool measured;                   //  rows >= min_rows: the distances mean something
    size_t n_fields;                 //  fields of the reference
    const drift_field_t *fields;     //  n_fields, in the reference's order
    size_t n_drifted;                //  fields with drifted set
    bool trigger;                    //  start a retrain now (cooldown already applied)
    char reason[RECORD_TEXT_MAX];    //  "drift: Fare 0.41, Pclass 0.33" when trigger, else ""
} drift_report_t;

typedef struct drift drift_t;

//  The defaults: off (threshold 0), DRIFT_MIN_ROWS_DEFAULT,
//  DRIFT_COOLDOWN_MSEC_DEFAULT, DRIFT_BUCKET_MSEC_DEFAULT.
void drift_config_default(drift_config_t *cfg);

//  Reads the broker's flags into cfg (defaults first); each text may be
//  NULL (flag not given). Returns 0, or MLOPS_EINVAL with err naming the
//  flag and the text: --drift-threshold not a number in (0, 1],
//  --drift-min-rows not a whole number in 1..DRIFT_MIN_ROWS_MAX,
//  --drift-cooldown not a DURATION in 1s..30d, or --drift-min-rows /
//  --drift-cooldown without --drift-threshold (they would do nothing).
int drift_config_parse(drift_config_t *cfg, const char *threshold, const char *min_rows,
                       const char *cooldown, mlops_err_t *err);

//  A monitor with a copy of cfg (as drift_config_parse leaves it). NULL on
//  ENOMEM.
drift_t *drift_new(const drift_config_t *cfg);

//  Frees; ignores NULL; sets *p to NULL.
void drift_destroy(drift_t **p);

//  Sets the reference profile of version (> 0), taking *ref (set to NULL).
//  A version already watched restarts with an empty window; a new one
//  drops the version whose reference was set longest ago when
//  DRIFT_VERSIONS_MAX are watched. Returns 0 or MLOPS_ENOMEM (*ref freed).
int drift_set_reference(drift_t *self, uint64_t version, profile_t **ref, mlops_err_t *err);

//  Adds a live profile (rows since the reporter's previous report) for
//  version at now_ms. Returns 0, MLOPS_ENOTFOUND (no reference for the
//  version: the report is dropped), MLOPS_EPROTO (not the reference's
//  shape, err naming the field) or MLOPS_ETOOBIG (a count would wrap).
int drift_add(drift_t *self, uint64_t version, const profile_t *live, int64_t now_ms,
              mlops_err_t *err);

//  Measures version's window at now_ms into *out and decides (see the
//  top); a trigger starts the cooldown. Returns 0 or MLOPS_ENOTFOUND (no
//  reference for the version).
int drift_check(drift_t *self, uint64_t version, int64_t now_ms, drift_report_t *out);

//  drift_check without the decision: *out has the distances, rows,
//  measured and n_drifted, trigger false and no reason; the cooldown is
//  untouched. For `mlops drift` and the metrics. Returns 0 or
//  MLOPS_ENOTFOUND.
int drift_measure(drift_t *self, uint64_t version, int64_t now_ms, drift_report_t *out);

//  The watched versions, up to max of them, oldest reference first, into
//  out. Returns how many.
size_t drift_versions(const drift_t *self, uint64_t *out, size_t max);

#endif
