/*  profile.h: a compact per-field data profile, the unit of drift
    monitoring. The reference profile of a model's training data travels in
    its artifact; the live profile of the requests a version served travels
    in the inference workers' SERVING reports; the broker merges live ones
    into a window and measures each field's distance to the reference.
    PROFILE.md is the wire format.

    One shape for both, fixed by the reference:
    - a number field is a histogram over bins whose upper edges come from
      the training data's quantiles (ml/profile_fit.h): bin b holds
      edges[b-1] < x <= edges[b], the first bin everything up to edges[0],
      the last everything above the last edge, so every finite value lands;
    - a category field counts each known level, plus one "unseen" count for
      a level the training data did not have;
    - both count missing values apart (absent, null, NaN).
    A live profile is a copy of the reference's shape with its own counts
    (profile_new_like), so two profiles with the same shape merge count by
    count and compare bin by bin.

    The accumulator is the profile itself: profile_add_* and profile_end_row
    only increment counts in arrays sized at creation, so profiling a
    request allocates nothing. Each row adds exactly one value per field,
    then profile_end_row; so every field's counts plus its missing add up to
    rows, which the codec checks.

    Distances (per field, over the bins plus the missing count, each side
    as shares of its own rows):
    - Jensen-Shannon distance, base 2: the square root of the JS
      divergence, 0 for the same shares, 1 for disjoint ones (scipy's
      spatial.distance.jensenshannon(p, q, base=2));
    - PSI, sum over bins of (q - p) ln(q / p), with an empty bin's share
      taken as PROFILE_PSI_EPSILON on either side (Evidently's 0.0001) so a
      bin one side never saw gives a large, finite term.
    A side with no rows has no evidence: both distances are 0 then.

    Caveats:
    - Merging and comparing need the same shape: profile_check_shape says
      which field differs. A live profile from a peer must pass it before
      profile_merge or a distance reads it.
    - Counts are uint64; a merge that would wrap refuses (ETOOBIG) and
      leaves the target as it was.
*/
#ifndef MLOPS_PROFILE_H
#define MLOPS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PROFILE_VERSION 1              //  the "version" key of the encoding
#define PROFILE_FIELDS_MAX 1024        //  fields in one profile
#define PROFILE_EDGES_MAX 31           //  edges of a number field (32 bins)
#define PROFILE_LEVELS_MAX 64          //  known levels of a category field
#define PROFILE_TEXT_MAX 1024          //  bytes of a field name or a level
#define PROFILE_ENCODED_MAX (4u << 20) //  bytes of an encoded profile
#define PROFILE_PSI_EPSILON 1e-4       //  the share an empty bin counts as in PSI

typedef enum {
    PROFILE_NUMBER = 1,   //  a histogram over edges
    PROFILE_CATEGORY = 2, //  level counts plus unseen
} profile_kind_t;

typedef struct {
    char *name;           //  the input field's name, owned
    profile_kind_t kind;  //  see profile_kind_t
    size_t n_edges;       //  NUMBER: upper edges, strictly increasing, finite
    double *edges;        //  NUMBER: n_edges, owned (NULL when none)
    size_t n_levels;      //  CATEGORY: known levels, distinct
    char **levels;        //  CATEGORY: n_levels, owned (NULL when none)
    size_t n_counts;      //  NUMBER: n_edges + 1 bins; CATEGORY: n_levels + 1 (last: unseen)
    uint64_t *counts;     //  n_counts, owned
    uint64_t missing;     //  rows without a value
} profile_field_t;

typedef struct profile {
    uint64_t rows;            //  rows added (each field counts every one)
    size_t n_fields;          //  fields
    profile_field_t *fields;  //  n_fields, owned
} profile_t;

//  A profile of n_fields empty fields, to be shaped with profile_set_number
//  / profile_set_category. NULL on ENOMEM or n_fields > PROFILE_FIELDS_MAX.
profile_t *profile_new(size_t n_fields);

//  Shapes field k (< n_fields, not shaped yet) as a number field over the
//  given edges (copied), counts zero. Returns 0, MLOPS_ENOMEM, or
//  MLOPS_EINVAL with err naming the field (empty, long or repeated name,
//  too many edges, an edge not finite or not above the one before).
int profile_set_number(profile_t *self, size_t k, const char *name, const double *edges,
                       size_t n_edges, mlops_err_t *err);

//  Shapes field k as a category field over the given levels (copied).
//  Returns 0, MLOPS_ENOMEM, or MLOPS_EINVAL naming the field (bad name,
//  too many levels, a level too long or repeated).
int profile_set_category(profile_t *self, size_t k, const char *name,
                         const char *const *levels, size_t n_levels, mlops_err_t *err);

//  A profile with self's shape and every count zero: a live profile for a
//  reference, or a window's bucket. NULL on ENOMEM.
profile_t *profile_new_like(const profile_t *self);

//  Frees; ignores NULL; sets *p to NULL.
void profile_destroy(profile_t **p);

//  Sets every count to zero (after a report is sent); the shape stays.
void profile_reset(profile_t *self);

//  --- the accumulator: no allocation, one call per field per row ---------

//  Adds x to number field k: NaN counts as missing.
void profile_add_number(profile_t *self, size_t k, double x);

//  Adds level to category field k: an index into its levels, or anything
//  else (-1) for a level it does not know, which counts as unseen.
void profile_add_level(profile_t *self, size_t k, int32_t level);

//  Adds a string value to category field k, looked up among its levels
//  (a linear scan); NULL counts as missing.
void profile_add_string(profile_t *self, size_t k, const char *s);

//  Counts a missing value for field k, whatever its kind.
void profile_add_missing(profile_t *self, size_t k);

//  Ends a row: every field has had its one value.
void profile_end_row(profile_t *self);

//  The bin of x in number field f (x not NaN): a binary search.
size_t profile_bin(const profile_field_t *f, double x);

//  --- combining and comparing --------------------------------------------

//  How field b's shape differs from field a's ("another name", "another
//  kind", "other edges", "other levels"), or NULL when it does not.
const char *profile_field_differs(const profile_field_t *a, const profile_field_t *b);

//  Returns 0 when p has ref's shape (same fields in the same order, same
//  names, kinds, edges and levels), else MLOPS_EPROTO with err naming the
//  first field that differs and how.
int profile_check_shape(const profile_t *ref, const profile_t *p, mlops_err_t *err);

//  Adds from's counts to into's. Returns 0, MLOPS_EPROTO (not the same
//  shape, as profile_check_shape says) or MLOPS_ETOOBIG (a count would
//  wrap); into is unchanged on failure.
int profile_merge(profile_t *into, const profile_t *from, mlops_err_t *err);

//  The Jensen-Shannon distance (base 2, in [0, 1]) between two fields of
//  the same shape; 0 when either has no rows.
double profile_js(const profile_field_t *ref, const profile_field_t *live);

//  The PSI of live against ref (same shape), empty shares as
//  PROFILE_PSI_EPSILON; 0 when either has no rows.
double profile_psi(const profile_field_t *ref, const profile_field_t *live);

//  --- the codec (PROFILE.md) ----------------------------------------------

//  Encodes the profile into a malloc'd buffer the caller frees. Returns 0,
//  MLOPS_ENOMEM, MLOPS_ETOOBIG (over PROFILE_ENCODED_MAX) or MLOPS_EINVAL
//  (a field's counts do not add up to rows: the caller's bug).
int profile_encode(const profile_t *self, uint8_t **out, size_t *out_len);

//  Decodes a profile. Strict and total: keys exactly as PROFILE.md lists
//  them, in that order. Returns a new profile, or NULL with err naming the
//  key path ("profile.fields[2].edges[4]: ..."): MLOPS_EPROTO (bad msgpack,
//  trailing bytes, wrong type, stray or missing key, bad name, edge or
//  level, counts of the wrong length or not adding up to rows),
//  MLOPS_EVERSION (version other than 1), MLOPS_ETOOBIG (input over
//  PROFILE_ENCODED_MAX, too many fields, edges or levels), MLOPS_ENOMEM.
profile_t *profile_decode(const uint8_t *data, size_t len, mlops_err_t *err);

//  The reference profile in a model artifact (ml/artifact.h: the body's
//  optional "profile" key), for the broker, which stores artifacts but
//  sees no ml/: reads only the envelope and that key (the digest and the
//  rest are the artifact codec's to check). Returns a new profile, or
//  NULL with err: MLOPS_ENOTFOUND (an artifact without one), MLOPS_EPROTO
//  (not an artifact's shape), the codes of profile_decode, MLOPS_ENOMEM.
profile_t *profile_from_artifact(const uint8_t *blob, size_t len, mlops_err_t *err);

#endif
