/*  prep.c: fitting and applying the preprocessing recipes (see prep.h).

    Layout: target labels; Titanic rules (title, features); transforms over
    cells, with cells from table rows (records' cells come from
    signature.c); fitting (medians, modes, scaler, the two recipes).
*/
#include "prep.h"
#include "feedback_io.h"
#include "signature.h"
#include "task_name.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ID_LIKE_MIN_ROWS 20 //  fewer rows than this: never call a column id-like

static const char *const s_titanic_cols[] = {"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare",
                                             "Embarked"};
static const char *const s_titles[] = {"Master", "Miss", "Mr", "Mrs", "Rare"};
static const char *const s_embarked[] = {"C", "Q", "S"};
static const char *const s_sexes[] = {"male", "female"};

//  Titanic inputs, in the order cells are read.
enum { T_PCLASS, T_NAME, T_SEX, T_AGE, T_SIBSP, T_PARCH, T_FARE, T_EMBARKED, T_N_INPUTS };

static void s_note(char *notes, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_note(char *notes, size_t size, const char *fmt, ...)
{
    if (!notes || size == 0)
        return;
    size_t at = strlen(notes);
    if (at + 3 >= size)
        return;
    if (at > 0)
        at += (size_t)snprintf(notes + at, size - at, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes + at, size - at, fmt, ap);
    va_end(ap);
}

/* --- target ------------------------------------------------------------- */

static int s_cmp_double_fn(const void *a, const void *b);

static int s_is_word(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcasecmp(s, *words) == 0)
            return 1;
    return 0;
}

//  Picks class 1 among two string levels a, b: yes/true/y/t first, else the
//  later in byte order. Returns 1 when b is positive, 0 when a is.
static int s_positive_second(const char *a, const char *b)
{
    static const char *const yes[] = {"yes", "true", "y", "t", NULL};
    static const char *const no[] = {"no", "false", "n", "f", NULL};
    if (s_is_word(a, yes) && s_is_word(b, no))
        return 0;
    if (s_is_word(b, yes) && s_is_word(a, no))
        return 1;
    return strcmp(a, b) < 0;
}

//  Finds the two label values of the target column into the recipe.
static int s_fit_binary(prep_recipe_t *r, const table_t *raw, int col, mlops_err_t *err)
{
    const table_col_t *c = &raw->cols[col];
    r->task = TASK_BINARY, r->n_classes = 2;
    if (c->kind == TABLE_NUMBER) {
        double v[3];
        size_t k = 0;
        for (size_t i = 0; i < raw->n_rows && k < 3; i++) {
            if (c->missing[i])
                continue;
            size_t j = 0;
            while (j < k && v[j] != c->num[i])
                j++;
            if (j == k)
                v[k++] = c->num[i];
        }
        if (k != 2)
            return mlops_err_set(err, MLOPS_EINVAL,
                                 "target '%s' is not binary: %s distinct values (first: %g%s)",
                                 r->target, k < 2 ? "fewer than 2" : "more than 2",
                                 k ? v[0] : NAN, k > 1 ? ", ..." : "");
        r->target_numeric = true;
        r->pos_num = fmax(v[0], v[1]);
        r->neg_num = fmin(v[0], v[1]);
        return 0;
    }
    //  Strings: the levels actually used by present cells.
    const char *v[3];
    size_t k = 0;
    for (size_t i = 0; i < raw->n_rows && k < 3; i++) {
        if (c->missing[i])
            continue;
        const char *s = c->levels[c->codes[i]];
        size_t j = 0;
        while (j < k && strcmp(v[j], s) != 0)
            j++;
        if (j == k)
            v[k++] = s;
    }
    if (k != 2)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "target '%s' is not binary: %s distinct values (first: '%s'%s)",
                             r->target, k < 2 ? "fewer than 2" : "more than 2", k ? v[0] : "",
                             k > 1 ? ", ..." : "");
    int second = s_positive_second(v[0], v[1]);
    r->pos_str = strdup(v[second]);
    r->neg_str = strdup(v[!second]);
    if (!r->pos_str || !r->neg_str)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    return 0;
}

static int s_cmp_str_fn(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

//  What the task rules look at in a target column.
typedef struct {
    size_t k;          //  distinct present values (counting stops past PREP_MAX_CLASSES)
    bool integer;      //  NUMBER: every present value is integral
    size_t present;    //  present cells
    size_t numeric;    //  strings: present cells that parse whole as numbers (inf, nan too)
    size_t bad_row;    //  strings: first present cell that is not a finite number, or SIZE_MAX
    size_t big_row;    //  NUMBER: first present value beyond +-PREP_TARGET_MAX, or SIZE_MAX
    double *num;       //  NUMBER: the first min(k, PREP_MAX_CLASSES + 1) distinct values, ascending, owned
    const char **str;  //  strings: the same for levels, byte order, owned (strings borrowed)
} s_target_t;

static int s_parses(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s && !*end;
}

//  Distinct values of a NUMBER column: sorted copy of the present values.
static int s_stats_number(const table_col_t *c, size_t n_rows, s_target_t *t)
{
    double *v = malloc((n_rows ? n_rows : 1) * sizeof *v);
    if (!v)
        return MLOPS_ENOMEM;
    t->integer = true;
    for (size_t i = 0; i < n_rows; i++)
        if (!c->missing[i]) {
            v[t->present++] = c->num[i];
            t->integer &= c->num[i] == floor(c->num[i]);
            if (fabs(c->num[i]) > PREP_TARGET_MAX && t->big_row == SIZE_MAX)
                t->big_row = i;
        }
    qsort(v, t->present, sizeof *v, s_cmp_double_fn);
    for (size_t i = 0; i < t->present; i++)
        if (i == 0 || v[i] != v[i - 1]) {
            if (t->k <= PREP_MAX_CLASSES)
                v[t->k] = v[i];
            t->k++;
        }
    t->num = v;
    return 0;
}

static int s_stats_strings(const table_col_t *c, size_t n_rows, s_target_t *t)
{
    uint8_t *used = calloc(c->n_levels ? c->n_levels : 1, 1);
    t->str = malloc((c->n_levels ? c->n_levels : 1) * sizeof *t->str);
    if (!used || !t->str) {
        free(used);
        return MLOPS_ENOMEM;
    }
    t->bad_row = SIZE_MAX;
    for (size_t i = 0; i < n_rows; i++) {
        if (c->missing[i])
            continue;
        const char *s = c->levels[c->codes[i]];
        double x;
        int num = s_parses(s, &x);
        t->present++, t->numeric += num;
        if ((!num || !isfinite(x)) && t->bad_row == SIZE_MAX)
            t->bad_row = i;
        if (!used[c->codes[i]]++)
            t->str[t->k++] = s;
    }
    free(used);
    qsort(t->str, t->k, sizeof *t->str, s_cmp_str_fn);
    return 0;
}

//  A string column most of whose values are numbers is a numeric target
//  with bad cells (a stray word, inf, nan): nonzero with err naming the first.
static int s_bad_number(const prep_recipe_t *r, const table_col_t *c, const s_target_t *t,
                        mlops_err_t *err)
{
    if (c->kind == TABLE_NUMBER || 2 * t->numeric <= t->present || t->bad_row == SIZE_MAX)
        return 0;
    return mlops_err_set(err, MLOPS_EINVAL,
                         "target '%s' looks numeric (%zu of %zu values are numbers) but "
                         "row %zu holds '%s', not a finite number; fix the data, or give "
                         "--task multiclass or binary to read the values as labels",
                         r->target, t->numeric, t->present, t->bad_row + 1,
                         c->levels[c->codes[t->bad_row]]);
}

//  The task the rules pick for an unrequested target, or -1 with err.
static int s_infer_task(const prep_recipe_t *r, const table_col_t *c, const s_target_t *t,
                        mlops_err_t *err)
{
    if (s_bad_number(r, c, t, err))
        return -1;
    if (t->k == 2)
        return TASK_BINARY;
    if (c->kind != TABLE_NUMBER || (t->integer && t->k <= PREP_INT_CLASSES_MAX))
        return TASK_MULTICLASS;
    return TASK_REGRESSION;
}

static int s_fit_classes(prep_recipe_t *r, const table_col_t *c, const s_target_t *t,
                         mlops_err_t *err)
{
    if (t->k > PREP_MAX_CLASSES)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "target '%s' has more than %d classes; a multiclass target may "
                             "have at most %d (give --task regression for a numeric one)",
                             r->target, PREP_MAX_CLASSES, PREP_MAX_CLASSES);
    r->task = TASK_MULTICLASS, r->n_classes = t->k;
    r->target_numeric = c->kind == TABLE_NUMBER;
    if (r->target_numeric) {
        if (!(r->class_num = malloc(t->k * sizeof *r->class_num)))
            return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        memcpy(r->class_num, t->num, t->k * sizeof *r->class_num);
        return 0;
    }
    if (!(r->class_str = calloc(t->k, sizeof *r->class_str)))
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    for (size_t k = 0; k < t->k; k++)
        if (!(r->class_str[k] = strdup(t->str[k])))
            return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    return 0;
}

//  Fills the recipe's target part for a task request (TASK_AUTO or a task).
static int s_fit_target(prep_recipe_t *r, const table_t *raw, int col, int task,
                        mlops_err_t *err)
{
    if (task == TASK_BINARY)
        return s_fit_binary(r, raw, col, err);
    const table_col_t *c = &raw->cols[col];
    s_target_t t = {.bad_row = SIZE_MAX, .big_row = SIZE_MAX};
    int rc = c->kind == TABLE_NUMBER ? s_stats_number(c, raw->n_rows, &t)
                                     : s_stats_strings(c, raw->n_rows, &t);
    if (rc != 0)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    else if (t.k < 2)
        rc = mlops_err_set(err, MLOPS_EINVAL,
                           "target '%s' has %s: nothing to learn (a model needs at least 2 "
                           "distinct values)",
                           r->target, t.k ? "one value only" : "no values");
    else if (task == TASK_AUTO && (task = s_infer_task(r, c, &t, err)) < 0)
        rc = MLOPS_EINVAL;
    else if (task == TASK_REGRESSION && s_bad_number(r, c, &t, err))
        rc = MLOPS_EINVAL;
    else if (task == TASK_REGRESSION && c->kind != TABLE_NUMBER)
        rc = mlops_err_set(err, MLOPS_EINVAL,
                           "--task regression needs a numeric target; '%s' holds strings "
                           "(row %zu: '%s')",
                           r->target, t.bad_row == SIZE_MAX ? 0 : t.bad_row + 1,
                           t.bad_row == SIZE_MAX ? "" : c->levels[c->codes[t.bad_row]]);
    else if (task == TASK_REGRESSION && t.big_row != SIZE_MAX)
        rc = mlops_err_set(err, MLOPS_EINVAL,
                           "target '%s' row %zu holds %g, beyond +-%g: its square would "
                           "overflow the fit and the metrics; rescale the target",
                           r->target, t.big_row + 1, raw->cols[col].num[t.big_row],
                           PREP_TARGET_MAX);
    else if (task == TASK_REGRESSION)
        r->task = TASK_REGRESSION, r->target_numeric = true;
    else if (task == TASK_BINARY)
        rc = s_fit_binary(r, raw, col, err);
    else
        rc = s_fit_classes(r, c, &t, err);
    free(t.num);
    free(t.str);
    return rc;
}

//  Class index of row i of column c under recipe r, or LABEL_MISSING /
//  LABEL_UNKNOWN.
enum { LABEL_MISSING = -1, LABEL_UNKNOWN = -2 };

static int s_class_index(const prep_recipe_t *r, const table_col_t *c, size_t i)
{
    if (r->target_numeric) {
        double v = c->num ? c->num[i] : NAN;
        if (c->kind != TABLE_NUMBER && !s_parses(c->levels[c->codes[i]], &v))
            return LABEL_UNKNOWN;
        const double *hit = bsearch(&v, r->class_num, r->n_classes, sizeof v, s_cmp_double_fn);
        return hit ? (int)(hit - r->class_num) : LABEL_UNKNOWN;
    }
    if (c->kind == TABLE_NUMBER)
        return LABEL_UNKNOWN;
    const char *s = c->levels[c->codes[i]];
    char *const *hit = bsearch(&s, r->class_str, r->n_classes, sizeof s, s_cmp_str_fn);
    return hit ? (int)(hit - r->class_str) : LABEL_UNKNOWN;
}

static int s_label(const prep_recipe_t *r, const table_col_t *c, size_t i)
{
    if (c->missing[i])
        return LABEL_MISSING;
    if (r->task == TASK_MULTICLASS)
        return s_class_index(r, c, i);
    if (r->target_numeric) {
        if (c->kind != TABLE_NUMBER) {
            char *end;
            double v = strtod(c->levels[c->codes[i]], &end);
            return *end ? LABEL_UNKNOWN : v == r->pos_num ? 1 : v == r->neg_num ? 0 : LABEL_UNKNOWN;
        }
        return c->num[i] == r->pos_num ? 1 : c->num[i] == r->neg_num ? 0 : LABEL_UNKNOWN;
    }
    if (c->kind == TABLE_NUMBER)
        return LABEL_UNKNOWN;
    const char *s = c->levels[c->codes[i]];
    return strcmp(s, r->pos_str) == 0 ? 1 : strcmp(s, r->neg_str) == 0 ? 0 : LABEL_UNKNOWN;
}

//  A regression target of row i: the value, NAN when missing or not a number.
static double s_value(const table_col_t *c, size_t i)
{
    double v = NAN;
    if (c->missing[i])
        return NAN;
    if (c->kind == TABLE_NUMBER)
        return c->num[i];
    return s_parses(c->levels[c->codes[i]], &v) && isfinite(v) ? v : NAN;
}

static void s_describe(const prep_recipe_t *r, char *desc, size_t desc_size)
{
    if (!desc || !desc_size)
        return;
    if (r->task == TASK_BINARY && r->target_numeric)
        snprintf(desc, desc_size, "target %s: %g = positive, %g = negative", r->target, r->pos_num,
                 r->neg_num);
    else if (r->task == TASK_BINARY)
        snprintf(desc, desc_size, "target %s: '%s' = positive, '%s' = negative", r->target,
                 r->pos_str, r->neg_str);
    else if (r->task == TASK_MULTICLASS)
        snprintf(desc, desc_size, "target %s: multiclass, %zu classes", r->target, r->n_classes);
    else
        snprintf(desc, desc_size, "target %s: regression", r->target);
}

prep_recipe_t *prep_target_fit(const table_t *raw, const char *target, int task, char *desc,
                               size_t desc_size, mlops_err_t *err)
{
    target = target ? target : FEEDBACK_IO_TARGET_DEFAULT;
    int col = table_find(raw, target);
    if (col < 0) {
        mlops_err_set(err, MLOPS_ENOTFOUND, "no target column '%s' in the data", target);
        return NULL;
    }
    prep_recipe_t *r = calloc(1, sizeof *r);
    if (!r || !(r->target = strdup(target))) {
        free(r);
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    if (s_fit_target(r, raw, col, task, err) != 0)
        prep_destroy(&r);
    else
        s_describe(r, desc, desc_size);
    return r;
}

int prep_read_target(const prep_recipe_t *r, const table_t *raw, uint8_t *y, double *v,
                     size_t *n_missing, mlops_err_t *err)
{
    int col = table_find(raw, r->target);
    if (col < 0)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no target column '%s' in the data",
                             r->target);
    const table_col_t *c = &raw->cols[col];
    size_t missing = 0;
    for (size_t i = 0; i < raw->n_rows; i++) {
        missing += c->missing[i];
        if (r->task == TASK_REGRESSION) {
            v[i] = s_value(c, i);
            if (isnan(v[i]) && !c->missing[i])
                return mlops_err_set(err, MLOPS_EINVAL, "row %zu: target '%s' is not a finite number",
                                     i + 1, r->target);
            continue;
        }
        int k = s_label(r, c, i);
        if (k == LABEL_UNKNOWN)
            return mlops_err_set(err, MLOPS_EINVAL, "row %zu: target '%s' is not one of its classes",
                                 i + 1, r->target);
        y[i] = k == LABEL_MISSING ? PREP_LABEL_MISSING : (uint8_t)k;
    }
    if (n_missing)
        *n_missing = missing;
    return 0;
}

const char *prep_class_name(const prep_recipe_t *r, size_t k, char *buf, size_t size)
{
    if (r->task == TASK_BINARY && r->target_numeric)
        snprintf(buf, size, "%g", k ? r->pos_num : r->neg_num);
    else if (r->task == TASK_BINARY)
        snprintf(buf, size, "%s", k ? r->pos_str : r->neg_str);
    else if (r->task == TASK_MULTICLASS && k < r->n_classes && r->target_numeric)
        snprintf(buf, size, "%g", r->class_num[k]);
    else if (r->task == TASK_MULTICLASS && k < r->n_classes)
        snprintf(buf, size, "%s", r->class_str[k]);
    else
        snprintf(buf, size, "?");
    return buf;
}

int prep_read_labels(const table_t *raw, const char *target, uint8_t *y, char *desc,
                     size_t desc_size, mlops_err_t *err)
{
    target = target ? target : FEEDBACK_IO_TARGET_DEFAULT;
    int col = table_find(raw, target);
    if (col < 0)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no target column '%s' in the data", target);
    prep_recipe_t r = {.target = (char *)target};
    int rc = s_fit_binary(&r, raw, col, err);
    if (rc == 0) {
        for (size_t i = 0; i < raw->n_rows; i++) {
            int k = s_label(&r, &raw->cols[col], i);
            y[i] = k == LABEL_MISSING ? 2 : k == LABEL_UNKNOWN ? 3 : (uint8_t)k;
        }
        s_describe(&r, desc, desc_size);
    }
    free(r.pos_str);
    free(r.neg_str);
    return rc;
}

int prep_labels(const prep_recipe_t *self, const table_t *raw, const size_t *rows, size_t n,
                uint8_t *y, mlops_err_t *err)
{
    int col = table_find(raw, self->target);
    if (col < 0)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no target column '%s' in the data",
                             self->target);
    for (size_t i = 0; i < n; i++) {
        int v = s_label(self, &raw->cols[col], rows[i]);
        if (v < 0)
            return mlops_err_set(err, MLOPS_EINVAL, "row %zu: target '%s' is %s", rows[i] + 1,
                                 self->target,
                                 v == LABEL_MISSING      ? "missing"
                                 : self->n_classes == 2 ? "not one of its two labels"
                                                         : "not one of its classes");
        y[i] = (uint8_t)v;
    }
    return 0;
}

int prep_values(const prep_recipe_t *self, const table_t *raw, const size_t *rows, size_t n,
                double *v, mlops_err_t *err)
{
    int col = table_find(raw, self->target);
    if (col < 0)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no target column '%s' in the data",
                             self->target);
    for (size_t i = 0; i < n; i++) {
        v[i] = s_value(&raw->cols[col], rows[i]);
        if (isnan(v[i]))
            return mlops_err_set(err, MLOPS_EINVAL, "row %zu: target '%s' is %s", rows[i] + 1,
                                 self->target,
                                 raw->cols[col].missing[rows[i]] ? "missing"
                                                                 : "not a finite number");
    }
    return 0;
}

/* --- Titanic rules -------------------------------------------------------- */

//  "Braund, Mr. Owen Harris" -> Mr, as pipeline.py's title_of: the text
//  between a comma (plus spaces) and the next '.', mapped; otherwise Rare.
static int s_title_index(const char *name)
{
#define S_TITLE(word, to) {word, sizeof word - 1, to}
    static const struct { const char *from; size_t len; int to; } map[] = {
        S_TITLE("Mr", 2), S_TITLE("Mrs", 3), S_TITLE("Miss", 1), S_TITLE("Master", 0),
        S_TITLE("Mlle", 1), S_TITLE("Ms", 1), S_TITLE("Mme", 3)};
#undef S_TITLE
    if (!name)
        return 4;
    for (const char *c = strchr(name, ','); c; c = strchr(c + 1, ',')) {
        const char *a = c + 1;
        while (*a && isspace((unsigned char)*a))
            a++;
        const char *dot = strchr(a, '.');
        if (!dot || dot == a)
            continue;
        const char *b = dot;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        size_t len = (size_t)(b - a);
        for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
            if (map[k].len == len && memcmp(map[k].from, a, len) == 0)
                return map[k].to;
        return 4;
    }
    return 4;
}

static double s_num(const prep_input_t *in, const prep_cell_t *c)
{
    return c->missing ? in->fill : c->num;
}

int32_t prep_level(const prep_input_t *in, const char *s)
{
    for (size_t k = 0; k < in->n_levels; k++)
        if (strcmp(in->levels[k], s) == 0)
            return (int32_t)k;
    return -1;
}

//  The CAT level of a cell (after filling), or -1 when unseen.
static int s_level(const prep_input_t *in, const prep_cell_t *c)
{
    if (!c->missing && c->level >= -1)
        return c->level;
    const char *s = c->missing ? in->fill_str : c->str;
    return s ? prep_level(in, s) : -1;
}

static void s_titanic_row(const prep_recipe_t *r, const prep_cell_t *c, double *x)
{
    const prep_input_t *in = r->inputs;
    double sib = s_num(&in[T_SIBSP], &c[T_SIBSP]), par = s_num(&in[T_PARCH], &c[T_PARCH]);
    x[0] = s_num(&in[T_PCLASS], &c[T_PCLASS]);
    x[1] = s_level(&in[T_SEX], &c[T_SEX]) == 1; //  levels are male, female
    x[2] = s_num(&in[T_AGE], &c[T_AGE]);
    x[3] = sib;
    x[4] = par;
    x[5] = s_num(&in[T_FARE], &c[T_FARE]);
    x[6] = sib + par + 1;
    x[7] = x[6] == 1;
    int e = s_level(&in[T_EMBARKED], &c[T_EMBARKED]);
    for (int k = 0; k < 3; k++)
        x[8 + k] = e == k;
    int t = s_title_index(c[T_NAME].missing ? NULL : c[T_NAME].str);
    for (int k = 0; k < 5; k++)
        x[11 + k] = t == k;
}

static void s_generic_row(const prep_recipe_t *r, const prep_cell_t *c, double *x)
{
    size_t f = 0;
    for (size_t k = 0; k < r->n_inputs; k++) {
        const prep_input_t *in = &r->inputs[k];
        if (in->type == PREP_NUM) {
            x[f++] = s_num(in, &c[k]);
            continue;
        }
        int lv = s_level(in, &c[k]);
        for (size_t j = 0; j <= in->n_levels; j++)
            x[f + j] = 0;
        x[f + (lv < 0 ? in->n_levels : (size_t)lv)] = 1;
        f += in->n_levels + 1;
    }
}

void prep_transform_row(const prep_recipe_t *self, const prep_cell_t *cells, double *x)
{
    if (self->kind == PREP_TITANIC)
        s_titanic_row(self, cells, x);
    else
        s_generic_row(self, cells, x);
    for (size_t j = 0; j < self->n_features; j++)
        x[j] = (x[j] - self->mean[j]) / self->scale[j];
}

/* --- cells from tables ---------------------------------------------------- */

typedef struct {
    int col;            //  table column, -1 when absent
    int32_t *level_of;  //  CAT input on a string column: table level -> input level
    char buf[32];       //  a number shown as a string
} s_source_t;

static void s_sources_free(s_source_t *src, size_t n)
{
    for (size_t k = 0; src && k < n; k++)
        free(src[k].level_of);
    free(src);
}

static s_source_t *s_sources(const prep_recipe_t *r, const table_t *raw)
{
    s_source_t *src = calloc(r->n_inputs ? r->n_inputs : 1, sizeof *src);
    for (size_t k = 0; src && k < r->n_inputs; k++) {
        const prep_input_t *in = &r->inputs[k];
        src[k].col = table_find(raw, in->name);
        if (src[k].col < 0 || in->type != PREP_CAT || raw->cols[src[k].col].kind == TABLE_NUMBER)
            continue;
        const table_col_t *c = &raw->cols[src[k].col];
        src[k].level_of = malloc((c->n_levels ? c->n_levels : 1) * sizeof(int32_t));
        if (!src[k].level_of) {
            s_sources_free(src, r->n_inputs);
            return NULL;
        }
        for (size_t l = 0; l < c->n_levels; l++)
            src[k].level_of[l] = prep_level(in, c->levels[l]);
    }
    return src;
}

static void s_table_cell(const prep_input_t *in, const table_t *raw, s_source_t *src, size_t row,
                         prep_cell_t *cell)
{
    *cell = (prep_cell_t){.missing = true, .level = -2};
    if (src->col < 0)
        return;
    const table_col_t *c = &raw->cols[src->col];
    if (c->missing[row])
        return;
    cell->missing = false;
    if (c->kind == TABLE_NUMBER) {
        cell->num = c->num[row];
        if (in->type != PREP_NUM) {
            snprintf(src->buf, sizeof src->buf, "%.17g", c->num[row]);
            cell->str = src->buf;
        }
        return;
    }
    cell->str = c->levels[c->codes[row]];
    if (src->level_of)
        cell->level = src->level_of[c->codes[row]];
    if (in->type == PREP_NUM) {
        char *end;
        cell->num = strtod(cell->str, &end);
        cell->missing = *end != 0 || end == cell->str || !isfinite(cell->num);
    }
}

int prep_transform_table(const prep_recipe_t *self, const table_t *raw, const size_t *rows,
                         size_t n, double *X, mlops_err_t *err)
{
    s_source_t *src = s_sources(self, raw);
    prep_cell_t *cells = calloc(self->n_inputs ? self->n_inputs : 1, sizeof *cells);
    if (!src || !cells) {
        s_sources_free(src, self->n_inputs);
        free(cells);
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < self->n_inputs; k++)
            s_table_cell(&self->inputs[k], raw, &src[k], rows[i], &cells[k]);
        prep_transform_row(self, cells, X + i * self->n_features);
    }
    s_sources_free(src, self->n_inputs);
    free(cells);
    return 0;
}

/* --- fitting ------------------------------------------------------------- */

static int s_cmp_double_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  pandas' Series.median over the present values; NAN when none.
static double s_median(const table_col_t *c, const size_t *rows, size_t n, double *tmp)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!c->missing[rows[i]])
            tmp[k++] = c->num[rows[i]];
    if (k == 0)
        return NAN;
    qsort(tmp, k, sizeof *tmp, s_cmp_double_fn);
    return k % 2 ? tmp[k / 2] : (tmp[k / 2 - 1] + tmp[k / 2]) / 2;
}

typedef struct {
    const char *s;   //  level string, borrowed from the table
    size_t count;    //  rows holding it
} s_level_count_t;

static int s_by_count_desc_fn(const void *a, const void *b)
{
    const s_level_count_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->s, y->s);
}

static int s_by_name_fn(const void *a, const void *b)
{
    return strcmp(((const s_level_count_t *)a)->s, ((const s_level_count_t *)b)->s);
}

//  Level counts of a string column over rows, most frequent first (ties in
//  byte order, so the first is pandas' mode). Returns how many were used.
static size_t s_level_counts(const table_col_t *c, const size_t *rows, size_t n,
                             s_level_count_t *out)
{
    for (size_t l = 0; l < c->n_levels; l++)
        out[l] = (s_level_count_t){c->levels[l], 0};
    for (size_t i = 0; i < n; i++)
        if (!c->missing[rows[i]])
            out[c->codes[rows[i]]].count++;
    qsort(out, c->n_levels, sizeof *out, s_by_count_desc_fn);
    size_t used = 0;
    while (used < c->n_levels && out[used].count > 0)
        used++;
    return used;
}

static void s_input_clear(prep_input_t *in)
{
    free(in->name);
    for (size_t l = 0; l < in->n_levels; l++)
        free(in->levels[l]);
    free(in->levels);
    free(in->fill_str);
    free(in->rule);
}

void prep_destroy(prep_recipe_t **p)
{
    if (!p || !*p)
        return;
    prep_recipe_t *r = *p;
    for (size_t k = 0; k < r->n_inputs; k++)
        s_input_clear(&r->inputs[k]);
    for (size_t j = 0; r->features && j < r->n_features; j++)
        free(r->features[j]);
    free(r->inputs);
    free(r->features);
    free(r->mean);
    free(r->scale);
    free(r->target);
    free(r->pos_str);
    free(r->neg_str);
    for (size_t k = 0; r->class_str && k < r->n_classes; k++)
        free(r->class_str[k]);
    free(r->class_str);
    free(r->class_num);
    free(r);
    *p = NULL;
}

//  Appends an input; returns it (zeroed but for name/type) or NULL on ENOMEM.
static prep_input_t *s_add_input(prep_recipe_t *r, const char *name, prep_type_t type)
{
    prep_input_t *v = realloc(r->inputs, (r->n_inputs + 1) * sizeof *v);
    if (!v)
        return NULL;
    r->inputs = v;
    prep_input_t *in = &v[r->n_inputs];
    memset(in, 0, sizeof *in);
    in->name = strdup(name);
    if (!in->name)
        return NULL;
    r->n_inputs++;
    in->type = type;
    in->min = -INFINITY, in->max = INFINITY;
    return in;
}

static int s_set_levels(prep_input_t *in, const char *const *levels, size_t n)
{
    in->levels = calloc(n ? n : 1, sizeof *in->levels);
    if (!in->levels)
        return -1;
    for (size_t l = 0; l < n; l++, in->n_levels++)
        if (!(in->levels[l] = strdup(levels[l])))
            return -1;
    return 0;
}

static int s_add_feature(prep_recipe_t *r, const char *a, const char *b)
{
    char **v = realloc(r->features, (r->n_features + 1) * sizeof *v);
    if (!v)
        return -1;
    r->features = v;
    size_t len = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
    char *s = malloc(len);
    if (!s)
        return -1;
    snprintf(s, len, "%s%s%s", a, b ? "_" : "", b ? b : "");
    r->features[r->n_features++] = s;
    return 0;
}

//  True when every Titanic input column is there, in the reference's form.
static int s_is_titanic(const table_t *raw, const char *target)
{
    if (strcmp(target, FEEDBACK_IO_TARGET_DEFAULT) != 0)
        return 0;
    for (size_t k = 0; k < sizeof s_titanic_cols / sizeof s_titanic_cols[0]; k++)
        if (table_find(raw, s_titanic_cols[k]) < 0)
            return 0;
    //  Sex as text (male / female), not already encoded as numbers: the
    //  recipe reads it as a category
    return raw->cols[table_find(raw, "Sex")].kind != TABLE_NUMBER;
}

static double s_col_median(const table_t *raw, const char *name, const size_t *rows, size_t n,
                           double *tmp, double dflt)
{
    int c = table_find(raw, name);
    if (c < 0 || raw->cols[c].kind != TABLE_NUMBER)
        return dflt;
    double m = s_median(&raw->cols[c], rows, n, tmp);
    return isnan(m) ? dflt : m;
}

static int s_fit_titanic(prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                         double *tmp, char *notes, size_t notes_size)
{
    static const char *const names[T_N_INPUTS] = {"Pclass", "Name",  "Sex",  "Age",
                                                  "SibSp",  "Parch", "Fare", "Embarked"};
    static const prep_type_t types[T_N_INPUTS] = {PREP_NUM, PREP_TEXT, PREP_CAT, PREP_NUM,
                                                  PREP_NUM, PREP_NUM,  PREP_NUM, PREP_CAT};
    r->kind = PREP_TITANIC;
    for (int k = 0; k < T_N_INPUTS; k++)
        if (!s_add_input(r, names[k], types[k]))
            return -1;
    prep_input_t *in = r->inputs;
    in[T_PCLASS] = (prep_input_t){in[T_PCLASS].name, PREP_NUM, true, true, 1, 3,
                                  s_col_median(raw, "Pclass", rows, n, tmp, 3)};
    in[T_AGE].min = 0, in[T_AGE].max = 120;
    in[T_AGE].fill = s_col_median(raw, "Age", rows, n, tmp, 28);
    in[T_FARE].min = 0;
    in[T_FARE].fill = s_col_median(raw, "Fare", rows, n, tmp, 14.4542);
    in[T_SIBSP].integer = in[T_PARCH].integer = true;
    in[T_SIBSP].min = in[T_PARCH].min = 0;
    in[T_SEX].required = in[T_SEX].closed = in[T_EMBARKED].closed = true;
    if (s_set_levels(&in[T_SEX], s_sexes, 2) || s_set_levels(&in[T_EMBARKED], s_embarked, 3))
        return -1;
    //  Embarked's mode over the training rows (pandas' mode: ties to the smallest).
    int ec = table_find(raw, "Embarked");
    const char *mode = "S";
    s_level_count_t *lc = NULL;
    if (raw->cols[ec].kind != TABLE_NUMBER) {
        lc = malloc((raw->cols[ec].n_levels + 1) * sizeof *lc);
        if (!lc)
            return -1;
        if (s_level_counts(&raw->cols[ec], rows, n, lc) > 0)
            mode = lc[0].s;
    }
    in[T_EMBARKED].fill_str = strdup(mode);
    free(lc);
    if (!in[T_EMBARKED].fill_str)
        return -1;
    static const char *const plain[] = {"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare",
                                        "FamilySize", "IsAlone"};
    for (size_t k = 0; k < 8; k++)
        if (s_add_feature(r, plain[k], NULL))
            return -1;
    for (size_t k = 0; k < 3; k++)
        if (s_add_feature(r, "Embarked", s_embarked[k]))
            return -1;
    for (size_t k = 0; k < 5; k++)
        if (s_add_feature(r, "Title", s_titles[k]))
            return -1;
    s_note(notes, notes_size,
           "recipe titanic: Age median %g, Fare median %g, Embarked mode %s; "
           "dropped PassengerId, Name (title kept), Ticket, Cabin",
           in[T_AGE].fill, in[T_FARE].fill, in[T_EMBARKED].fill_str);
    return 0;
}

//  Why a column is left out of the generic recipe, or NULL to keep it.
static const char *s_generic_drop(const table_col_t *c, const size_t *rows, size_t n,
                                  s_level_count_t *lc, size_t *distinct)
{
    size_t present = 0;
    for (size_t i = 0; i < n; i++)
        present += !c->missing[rows[i]];
    if (present == 0)
        return "all missing";
    if (c->kind == TABLE_TEXT)
        return "free text";
    if (c->kind == TABLE_NUMBER) {
        //  distinct values over the rows, and whether all are integers
        double *v = (double *)lc; //  caller sized lc for n doubles too
        size_t k = 0;
        int integral = 1;
        for (size_t i = 0; i < n; i++)
            if (!c->missing[rows[i]]) {
                v[k++] = c->num[rows[i]];
                integral &= v[k - 1] == floor(v[k - 1]);
            }
        qsort(v, k, sizeof *v, s_cmp_double_fn);
        size_t d = 0;
        for (size_t i = 0; i < k; i++)
            d += i == 0 || v[i] != v[i - 1];
        *distinct = d;
        if (d == 1)
            return "constant";
        if (integral && d == n && n >= ID_LIKE_MIN_ROWS)
            return "id-like (distinct integers)";
        return NULL;
    }
    size_t d = s_level_counts(c, rows, n, lc);
    *distinct = d;
    if (d == 1)
        return "constant";
    if (d == present && n >= ID_LIKE_MIN_ROWS)
        return "id-like (every value distinct)";
    return NULL;
}

static int s_fit_generic_cat(prep_recipe_t *r, prep_input_t *in, const table_col_t *c,
                             const size_t *rows, size_t n, s_level_count_t *lc, char *notes,
                             size_t notes_size)
{
    size_t used = s_level_counts(c, rows, n, lc);
    if (!(in->fill_str = strdup(lc[0].s)))
        return -1;
    if (used > PREP_MAX_LEVELS) {
        s_note(notes, notes_size, "%s: %zu levels, the %d most frequent kept", in->name, used,
               PREP_MAX_LEVELS);
        used = PREP_MAX_LEVELS;
    }
    qsort(lc, used, sizeof *lc, s_by_name_fn);
    in->levels = calloc(used, sizeof *in->levels);
    if (!in->levels)
        return -1;
    for (size_t l = 0; l < used; l++, in->n_levels++)
        if (!(in->levels[l] = strdup(lc[l].s)) || s_add_feature(r, in->name, lc[l].s))
            return -1;
    return s_add_feature(r, in->name, "(other)");
}

static int s_fit_generic(prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                         double *tmp, char *notes, size_t notes_size, mlops_err_t *err)
{
    r->kind = PREP_GENERIC;
    size_t max_levels = n;
    for (size_t j = 0; j < raw->n_cols; j++)
        max_levels = raw->cols[j].n_levels > max_levels ? raw->cols[j].n_levels : max_levels;
    //  one buffer serves as level counts or as n doubles
    s_level_count_t *lc = malloc((max_levels + 1) * sizeof *lc + n * sizeof(double));
    if (!lc)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t j = 0; j < raw->n_cols && rc == 0; j++) {
        const table_col_t *c = &raw->cols[j];
        if (strcmp(c->name, r->target) == 0)
            continue;
        size_t distinct = 0;
        const char *why = s_generic_drop(c, rows, n, lc, &distinct);
        if (why) {
            s_note(notes, notes_size, "dropped %s: %s", c->name, why);
            continue;
        }
        prep_input_t *in = s_add_input(r, c->name, c->kind == TABLE_NUMBER ? PREP_NUM : PREP_CAT);
        if (!in)
            rc = -1;
        else if (in->type == PREP_NUM) {
            in->fill = s_median(c, rows, n, tmp);
            rc = s_add_feature(r, c->name, NULL);
        } else
            rc = s_fit_generic_cat(r, in, c, rows, n, lc, notes, notes_size);
    }
    free(lc);
    if (rc != 0)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (r->n_features == 0)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "no usable input column besides the target '%s'", r->target);
    if (r->n_features > PREP_MAX_FEATURES)
        return mlops_err_set(err, MLOPS_EINVAL, "%zu features exceed the limit of %d",
                             r->n_features, PREP_MAX_FEATURES);
    s_note(notes, notes_size, "recipe generic: %zu inputs -> %zu features", r->n_inputs,
           r->n_features);
    return 0;
}

//  StandardScaler over the training rows (population std; 1 where it is 0).
//  Generic one-hot features keep mean 0, scale 1, as cv_repeated.py does.
static int s_fit_scaler(prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                        mlops_err_t *err)
{
    size_t p = r->n_features;
    r->mean = calloc(p, sizeof *r->mean);
    r->scale = malloc(p * sizeof *r->scale);
    double *X = malloc(n * p * sizeof *X);
    if (!r->mean || !r->scale || !X) {
        free(X);
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %zu x %zu features", n, p);
    }
    for (size_t j = 0; j < p; j++)
        r->scale[j] = 1;
    int rc = prep_transform_table(r, raw, rows, n, X, err);
    size_t f = 0;
    for (size_t k = 0; rc == 0 && k < (r->kind == PREP_TITANIC ? 1 : r->n_inputs); k++) {
        size_t width = r->kind == PREP_TITANIC ? p
                       : r->inputs[k].type == PREP_NUM ? 1 : r->inputs[k].n_levels + 1;
        int scaled = r->kind == PREP_TITANIC || r->inputs[k].type == PREP_NUM;
        for (size_t j = f; scaled && j < f + width; j++) {
            double m = 0, v = 0;
            for (size_t i = 0; i < n; i++)
                m += X[i * p + j];
            m /= (double)n;
            for (size_t i = 0; i < n; i++)
                v += (X[i * p + j] - m) * (X[i * p + j] - m);
            double sd = sqrt(v / (double)n);
            r->mean[j] = m;
            r->scale[j] = sd > 0 ? sd : 1;
        }
        f += width;
    }
    free(X);
    return rc;
}

prep_recipe_t *prep_fit(const table_t *raw, const size_t *rows, size_t n, const char *target,
                        char *notes, size_t notes_size, mlops_err_t *err)
{
    return prep_fit_task(raw, rows, n, target, TASK_BINARY, notes, notes_size, err);
}

prep_recipe_t *prep_fit_task(const table_t *raw, const size_t *rows, size_t n,
                             const char *target, int task, char *notes, size_t notes_size,
                             mlops_err_t *err)
{
    target = target ? target : FEEDBACK_IO_TARGET_DEFAULT;
    if (notes && notes_size)
        notes[0] = 0;
    int tc = table_find(raw, target);
    if (tc < 0) {
        mlops_err_set(err, MLOPS_ENOTFOUND, "no target column '%s' in the data", target);
        return NULL;
    }
    if (n == 0) {
        mlops_err_set(err, MLOPS_EINVAL, "no training rows");
        return NULL;
    }
    prep_recipe_t *r = calloc(1, sizeof *r);
    double *tmp = malloc(n * sizeof *tmp);
    int rc = !r || !tmp || !(r->target = strdup(target))
                 ? mlops_err_set(err, MLOPS_ENOMEM, "out of memory")
                 : s_fit_target(r, raw, tc, task, err);
    if (rc == 0 && s_is_titanic(raw, target))
        rc = s_fit_titanic(r, raw, rows, n, tmp, notes, notes_size) == 0
                 ? 0
                 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    else if (rc == 0)
        rc = s_fit_generic(r, raw, rows, n, tmp, notes, notes_size, err);
    if (rc == 0 && signature_finish(r) != 0)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = s_fit_scaler(r, raw, rows, n, err);
    free(tmp);
    if (rc != 0)
        prep_destroy(&r);
    return r;
}
