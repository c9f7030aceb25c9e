/*  profile_fit.h: the data profile (proto/profile.h) of a recipe's inputs:
    the reference profile of the training rows, built when a model is
    trained, and the one call that adds a served record's cells to a live
    profile of the same shape.

    Which inputs are profiled, in input order: every NUM and CAT input of
    the recipe, except TEXT ones (Titanic's Name) and an input whose name or
    a level is longer than PROFILE_TEXT_MAX (a profile could not carry it).
    Number fields get at most PROFILE_FIT_BINS bins from the training rows,
    as ml/bins.h bins a feature (one bin per value up to that many distinct
    values, else deciles); category fields the recipe's levels, so a cell's
    level index is the profile's.

    Caveat: the reference reads NUM inputs from NUMBER columns and CAT
    inputs from string columns (what prep_fit fitted them on); a column of
    the other kind counts as missing.
*/
#ifndef MLOPS_PROFILE_FIT_H
#define MLOPS_PROFILE_FIT_H

#include <stddef.h>

#include "err.h"
#include "prep.h"
#include "profile.h"
#include "table.h"

#define PROFILE_FIT_BINS 10   //  bins of a number field at most (see bench/drift_noise.c)

//  The reference profile of the given rows of raw for recipe r. Returns a
//  new profile the caller destroys, or NULL with err: MLOPS_ENOMEM.
profile_t *profile_fit(const prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                       mlops_err_t *err);

//  Adds the given rows of raw (repeats allowed) to p, a profile of r's
//  shape: how profile_fit counts the training rows, and how a test or a
//  benchmark counts a sample of a table. Returns 0 or MLOPS_ENOMEM (then
//  p holds some of the fields' counts: discard it).
int profile_fit_add_rows(profile_t *p, const prep_recipe_t *r, const table_t *raw,
                         const size_t *rows, size_t n, mlops_err_t *err);

//  Checks that p has the shape profile_fit gives for r (fields, names,
//  kinds, levels; edges are the data's). Returns 0 or MLOPS_ECORRUPT with
//  err naming the field: for a profile read from an artifact.
int profile_fit_check(const profile_t *p, const prep_recipe_t *r, mlops_err_t *err);

//  Adds one record, as its cells (n_inputs, as signature_cells or
//  signature_validate give them), to p, a profile of r's shape (from
//  profile_fit or profile_new_like of one), and ends the row. Allocates
//  nothing: the serving hot path.
void profile_fit_add_cells(profile_t *p, const prep_recipe_t *r, const prep_cell_t *cells);

#endif
