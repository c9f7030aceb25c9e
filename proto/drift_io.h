/*  drift_io.h: the REPLY data of the DRIFT control request (PROTOCOL.md,
    "DRIFT"): the broker's drift windows, one per watched version, with each
    input field's distance to the version's reference profile.

        {"threshold": f64 (0: no trigger), "min_rows": uint,
         "versions": [{"version": uint, "rows": uint, "measured": bool,
                       "fields": [{"name": str, "js": f64, "psi": f64,
                                   "drifted": bool, "kind": "number"|"category",
                                   "edges": [f64] | "levels": [str],
                                   "reference": [uint], "live": [uint]}, ...]}, ...]}

    A field's bins are its profile's (proto/PROFILE.md): "reference" and
    "live" hold the counts of the training rows and of the window's rows,
    one per bin (number: len(edges) + 1; category: one per level, then
    unseen) and last the missing count; for the dashboard's histograms.
    Keys in that order; decoding is strict about the types of the keys it
    reads and skips the others (the bins, and keys a newer broker adds).
*/
#ifndef MLOPS_DRIFT_IO_H
#define MLOPS_DRIFT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "profile.h"

#define DRIFT_IO_VERSIONS_MAX 64     //  versions in one answer
#define DRIFT_IO_FIELDS_MAX 1024     //  fields of one version
#define DRIFT_IO_NAME_MAX 1024       //  bytes of a field name

typedef struct {
    char *name;     //  the input field (owned when decoded, borrowed to encode)
    double js;      //  Jensen-Shannon distance to the reference, base 2
    double psi;     //  population stability index, reported only
    bool drifted;   //  js >= threshold, once measured
    const profile_field_t *ref, *live;  //  to encode: the bins' counts (not decoded)
} control_drift_field_t;

typedef struct {
    uint64_t version;
    uint64_t rows;                  //  live rows in the window
    bool measured;                  //  rows >= min_rows
    size_t n_fields;
    control_drift_field_t *fields;  //  owned when decoded
} control_drift_version_t;

typedef struct {
    double threshold;
    uint64_t min_rows;
    size_t n_versions;
    control_drift_version_t *versions;  //  owned when decoded
} control_drift_t;

//  Encodes into a malloc'd buffer. Returns 0 or MLOPS_ENOMEM.
int control_drift_encode(const control_drift_t *d, uint8_t **out, size_t *out_len);

//  Decodes into *d (control_drift_clear it). Returns 0, or MLOPS_EPROTO
//  naming the key, MLOPS_ETOOBIG (over the limits above), MLOPS_ENOMEM.
int control_drift_decode(const uint8_t *data, size_t len, control_drift_t *d, mlops_err_t *err);

//  Frees what control_drift_decode filled; zeroes *d.
void control_drift_clear(control_drift_t *d);

#endif
