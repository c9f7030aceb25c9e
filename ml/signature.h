/*  signature.h: the serving contract of a fitted recipe (prep.h): which
    fields a record must or may carry, of which type and range, how a
    record's fields map to the recipe's inputs, and the signature as JSON
    for /health and the docs.

    The contract: unknown fields are ignored, as FastAPI/pydantic do; a
    field that is present must have the right type and range; a missing
    optional field is imputed; a name a record repeats counts once, at its
    first occurrence.

    Serving maps a record once (signature_map) and hands the map to the
    check, which also yields the cells prep_transform_row reads, so a
    record's fields are looked up once whether it is checked, transformed
    or both (model.c's one walk).

    Caveats:
    - A map and the cells borrow from the record (field pointers, strings):
      they live as long as the record does.
    - A recipe must have been through signature_finish (prep_fit and the
      artifact decoder do it) before anything here reads it.
*/
#ifndef MLOPS_SIGNATURE_H
#define MLOPS_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "prep.h"

//  Derives what the contract needs beyond the recipe's stored fields: each
//  input's validation message and whether input names are unique. Called by
//  prep_fit and by the artifact decoder. Returns 0 or MLOPS_ENOMEM.
int signature_finish(prep_recipe_t *self);

//  Maps a record's fields to the recipe's inputs: fields[k] is the first
//  field of rec named as input k, or NULL (fields has n_inputs entries,
//  borrowed from rec). Fields that arrive in the signature's order cost one
//  name comparison each; the others a scan of the record.
void signature_map(const prep_recipe_t *self, const proto_record_t *rec,
                   const proto_field_t **fields);

//  signature_map for a record that follows prev (mapped to prev_fields):
//  when rec's field names are prev's, position by position and by pointer
//  (the PREDICT decoder shares the names of a batch with one schema), the
//  map is prev's moved onto rec with no name compared; else the full map.
void signature_map_after(const prep_recipe_t *self, const proto_record_t *rec,
                         const proto_record_t *prev, const proto_field_t *const *prev_fields,
                         const proto_field_t **fields);

//  The cells (n_inputs) of a signature_map map, unchecked.
void signature_cells(const prep_recipe_t *self, const proto_field_t *const *fields,
                     prep_cell_t *cells);

//  The cells of one record, looked up by a scan of its fields (no map).
void signature_record_cells(const prep_recipe_t *self, const proto_record_t *rec,
                            prep_cell_t *cells);

//  Checks one mapped record; appends up to max problems at problems +
//  *count, counting all of them in *count. index goes into each problem;
//  messages are static or owned by the recipe. cells (may be NULL) get the
//  record's cells, a category's level kept from its check, so
//  prep_transform_row needs no second look-up.
void signature_validate(const prep_recipe_t *self, const proto_field_t *const *fields,
                        int64_t index, proto_problem_t *problems, size_t max, size_t *count,
                        prep_cell_t *cells);

//  signature_validate of a record by a scan of its fields: needs no map,
//  so no memory.
void signature_validate_record(const prep_recipe_t *self, const proto_record_t *rec,
                               int64_t index, proto_problem_t *problems, size_t max,
                               size_t *count);

//  What the signature shows of an open category's levels (its "known"
//  list): anyone who can reach /health or the docs reads it, and the levels
//  are values of the training file, so it lists at most
//  SIGNATURE_KNOWN_MAX of them, each at most SIGNATURE_LEVEL_MAX_BYTES long,
//  and counts the others in "known_omitted". Serving is unchanged (an
//  unlisted level is still one-hot encoded as trained). A closed category's
//  "enum" is a fixed list of the recipe's (Sex, Embarked), never cut: the
//  gateway refuses a value outside it. Only inputs have levels: a column the
//  recipe dropped appears nowhere.
//  What differs between the serving contracts of a candidate's recipe and
//  production's (load_model's schema check): the task (what an answer
//  means), an input field added or removed, a field's type (integer,
//  number, string) or whether it is required, a closed category's allowed
//  values. Fitted values are not the contract and may change with every
//  retrain: ranges, fills, an open category's levels (an unseen one is
//  bucketed, not refused). Writes "" when nothing differs, else the task,
//  then each changed field, then the fields added and removed: "field Age
//  type changed (number -> string); fields added: Color; fields removed:
//  Sex, Fare" (cut to size). Returns how many differences it found.
size_t signature_diff(const prep_recipe_t *cand, const prep_recipe_t *prod, char *out,
                      size_t size);

#define SIGNATURE_KNOWN_MAX 32
#define SIGNATURE_LEVEL_MAX_BYTES 64

//  The signature as JSON text (fields, types, ranges, categories, which are
//  required). Caller frees; NULL on ENOMEM.
char *signature_json(const prep_recipe_t *self);

#endif
