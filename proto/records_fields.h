/*  records_fields.h: the field tables of the records (records.c) for the
    other table codecs of proto/: stage_io.c carries metrics, control_io.c
    carries lists of runs and versions. Internal to proto/, like fields.h.
*/
#ifndef MLOPS_RECORDS_FIELDS_H
#define MLOPS_RECORDS_FIELDS_H

#include "fields.h"
#include "records.h"

//  The sizes are part of the declarations so that FIELD_MAP / FIELD_VEC can
//  count them; a definition in records.c with another count does not compile.
extern const fields_spec_t records_metrics_fields[15]; //  metrics_t
extern const fields_spec_t records_run_fields[14];     //  run_t
extern const fields_spec_t records_version_fields[11]; //  version_t
extern const fields_spec_t records_audit_fields[6];    //  audit_t

#endif
