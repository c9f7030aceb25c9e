/*  profile_fit.c: see profile_fit.h. Shaping a field per profiled input
    (bins from ml/bins.c, levels from the recipe), counting table rows
    column by column, and the live path that counts one record's cells.
*/
#include "profile_fit.h"
#include "bins.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(PREP_MAX_LEVELS <= PROFILE_LEVELS_MAX, "a recipe's levels fit in a profile");
_Static_assert(PROFILE_FIT_BINS - 1 <= PROFILE_EDGES_MAX, "the bins fit in a profile");

//  True when input in gets a field in the profile (the same rule on both
//  sides, so field k is always the k-th profiled input).
static bool s_profiled(const prep_input_t *in)
{
    if (in->type == PREP_TEXT || strlen(in->name) > PROFILE_TEXT_MAX)
        return false;
    for (size_t l = 0; l < in->n_levels; l++)
        if (strlen(in->levels[l]) > PROFILE_TEXT_MAX)
            return false;
    return true;
}

static size_t s_count_profiled(const prep_recipe_t *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        n += s_profiled(&r->inputs[i]);
    return n;
}

//  The column of raw input in reads, or NULL (absent or of the other kind).
static const table_col_t *s_column(const prep_input_t *in, const table_t *raw)
{
    int c = table_find(raw, in->name);
    if (c < 0 || (raw->cols[c].kind == TABLE_NUMBER) != (in->type == PREP_NUM))
        return NULL;
    return &raw->cols[c];
}

//  Shapes number field k from column c (NULL: all missing): the edges of
//  its present values over rows; x is scratch for n values.
static int s_shape_number(profile_t *p, size_t k, const char *name, const table_col_t *c,
                          const size_t *rows, size_t n, double *x, mlops_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        x[i] = c ? c->num[rows[i]] : NAN;   //  a missing cell holds NaN
    bins_params_t bp = {.max_bins = PROFILE_FIT_BINS, .n_threads = 1};
    bins_t *b = n ? bins_fit(x, n, 1, &bp, 1, err) : NULL;
    if (n && !b)
        return err ? err->code : MLOPS_ENOMEM;
    int rc = profile_set_number(p, k, name, b ? b->edges[0] : NULL, b ? b->n_bins[0] - 1u : 0, err);
    bins_destroy(&b);
    return rc;
}

//  Counts category field k of input in over rows of column c.
static int s_count_category(profile_t *p, size_t k, const prep_input_t *in, const table_col_t *c,
                            const size_t *rows, size_t n, mlops_err_t *err)
{
    int32_t *level_of = c ? malloc((c->n_levels + 1) * sizeof *level_of) : NULL;
    if (c && !level_of)
        return mlops_err_set(err, MLOPS_ENOMEM, "profile: out of memory");
    for (size_t l = 0; c && l < c->n_levels; l++)
        level_of[l] = prep_level(in, c->levels[l]);
    for (size_t i = 0; i < n; i++) {
        if (!c || c->missing[rows[i]])
            profile_add_missing(p, k);
        else
            profile_add_level(p, k, level_of[c->codes[rows[i]]]);
    }
    free(level_of);
    return 0;
}

int profile_fit_add_rows(profile_t *p, const prep_recipe_t *r, const table_t *raw,
                         const size_t *rows, size_t n, mlops_err_t *err)
{
    assert(p && r && raw && (rows || n == 0));
    for (size_t i = 0, k = 0; i < r->n_inputs; i++) {
        const prep_input_t *in = &r->inputs[i];
        if (!s_profiled(in))
            continue;
        const table_col_t *c = s_column(in, raw);
        if (in->type != PREP_NUM) {
            int rc = s_count_category(p, k, in, c, rows, n, err);
            if (rc)
                return rc;
        } else
            for (size_t j = 0; j < n; j++)
                profile_add_number(p, k, c ? c->num[rows[j]] : NAN);
        k++;
    }
    p->rows += n;   //  every field counted every row
    return 0;
}

profile_t *profile_fit(const prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                       mlops_err_t *err)
{
    assert(r && raw && (rows || n == 0));
    profile_t *p = profile_new(s_count_profiled(r));
    double *x = malloc((n ? n : 1) * sizeof *x);
    int rc = p && x ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "profile: out of memory");
    for (size_t i = 0, k = 0; rc == 0 && i < r->n_inputs; i++) {
        const prep_input_t *in = &r->inputs[i];
        if (!s_profiled(in))
            continue;
        rc = in->type == PREP_NUM
                 ? s_shape_number(p, k, in->name, s_column(in, raw), rows, n, x, err)
                 : profile_set_category(p, k, in->name, (const char *const *)in->levels,
                                        in->n_levels, err);
        k++;
    }
    free(x);
    if (rc == 0)
        rc = profile_fit_add_rows(p, r, raw, rows, n, err);
    if (rc)
        profile_destroy(&p);
    return p;
}

//  How field f differs from what input in gives, or NULL: f against the
//  field in would make, with f's own edges (they are the data's).
static const char *s_differs(const profile_field_t *f, const prep_input_t *in)
{
    profile_field_t want = {.name = in->name,
                            .kind = in->type == PREP_NUM ? PROFILE_NUMBER : PROFILE_CATEGORY,
                            .n_edges = f->n_edges, .edges = f->edges,
                            .n_levels = in->type == PREP_NUM ? 0 : in->n_levels,
                            .levels = in->levels};
    return profile_field_differs(&want, f);
}

int profile_fit_check(const profile_t *p, const prep_recipe_t *r, mlops_err_t *err)
{
    assert(p && r);
    size_t want = s_count_profiled(r);
    if (p->n_fields != want)
        return mlops_err_set(err, MLOPS_ECORRUPT, "profile: %zu fields, the recipe profiles %zu",
                             p->n_fields, want);
    for (size_t i = 0, k = 0; i < r->n_inputs; i++) {
        if (!s_profiled(&r->inputs[i]))
            continue;
        const char *why = s_differs(&p->fields[k], &r->inputs[i]);
        if (why)
            return mlops_err_set(err, MLOPS_ECORRUPT, "profile: fields[%zu] has %s than input %s",
                                 k, why, r->inputs[i].name);
        k++;
    }
    return 0;
}

void profile_fit_add_cells(profile_t *p, const prep_recipe_t *r, const prep_cell_t *cells)
{
    //  The hot path: when every input but the TEXT ones is profiled (no name
    //  or level too long, the usual case), the type alone says which are,
    //  without s_profiled's strlen of every name and level at every row.
    size_t not_text = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        not_text += r->inputs[i].type != PREP_TEXT;
    bool by_type = not_text == p->n_fields;
    size_t k = 0;
    for (size_t i = 0; i < r->n_inputs; i++) {
        const prep_input_t *in = &r->inputs[i];
        if (by_type ? in->type == PREP_TEXT : !s_profiled(in))
            continue;
        const prep_cell_t *c = &cells[i];
        if (c->missing)
            profile_add_missing(p, k);
        else if (in->type == PREP_NUM)
            profile_add_number(p, k, c->num);
        else   //  level -2: not looked up yet; no string (a number): unseen
            profile_add_level(p, k, c->level >= -1 ? c->level : c->str ? prep_level(in, c->str) : -1);
        k++;
    }
    assert(k == p->n_fields);
    profile_end_row(p);
}
