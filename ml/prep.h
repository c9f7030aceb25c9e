/*  prep.h: the preprocessing recipe, fitted on training rows only and
    stored in the model artifact. What a recipe accepts from a user record
    (the serving contract) is signature.h; the splits it is fitted on are
    split.h.

    A recipe turns raw inputs (table rows at training, user records at
    serving) into the feature vector the classifiers see. Both paths go
    through one function (prep_transform_row) over one cell type, so
    training and serving cannot disagree.

    Two kinds:
    - titanic: the reference pipeline's recipe (anchors/python/pipeline.py):
      Title from Name (Mr, Mrs, Miss, Master, Rare; Mlle/Ms -> Miss,
      Mme -> Mrs; a missing or title-less Name -> Rare), Age and Fare filled
      with the training medians, Embarked with the training mode, Sex as
      female = 1, FamilySize = SibSp + Parch + 1, IsAlone, one-hot Embarked
      (C, Q, S) and Title; 16 features, all standardised. Chosen when the
      target is Survived and the Titanic columns are present.
    - generic: any table with a binary, multiclass or numeric target. NUMBER columns are numeric
      (median-filled, standardised); CATEGORY columns are categorical
      (mode-filled, one-hot over the training levels plus one bucket for
      unseen ones, not scaled, as sklearn's ColumnTransformer in
      cv_repeated.py); TEXT columns, id-like columns (all values distinct)
      and constant columns are dropped, each with a note.

    The inputs' types, ranges and levels are also the serving contract;
    signature.h checks records against them.

    Task type (task.h), from the target column (prep_target_fit), unless a
    task is requested:
    - a string target: 1 distinct value is an error (nothing to learn), 2
      is binary, 3..PREP_MAX_CLASSES multiclass, more an error; but a
      string column most of whose values parse as numbers is a numeric
      target with a few bad cells: an error naming the first one (inf and
      nan included), unless --task binary/multiclass says they are labels;
    - a numeric target: 2 distinct values is binary; integers with at most
      PREP_INT_CLASSES_MAX distinct values multiclass (wine's 1, 2, 3);
      anything else regression (diabetes' 214 distinct integers);
    - requested: binary needs exactly 2 values (the old message), multiclass
      2..PREP_MAX_CLASSES, regression a numeric column with 2+ values (a
      string column that looks numeric names its first bad cell, as above);
    - a regression target (inferred or requested) with a value beyond
      +-PREP_TARGET_MAX is an error naming the row (1e300 would make
      squared errors infinite: a model of NaNs, metrics inf).
    Classes are sorted as numpy's unique sorts them (numbers ascending,
    strings in byte order), so class k is sklearn's classes_[k].
*/
#ifndef MLOPS_PREP_H
#define MLOPS_PREP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "table.h"
#include "task.h"

#define PREP_MAX_LEVELS 64       //  one-hot levels kept per categorical input
#define PREP_MAX_FEATURES 4096   //  refuse recipes wider than this
#define PREP_MAX_CLASSES TASK_MAX_CLASSES //  classes of a multiclass target at most (task.h)
#define PREP_INT_CLASSES_MAX 20  //  integer targets with at most this many values are classes
#define PREP_TARGET_MAX 1e100    //  a regression target beyond +-this is refused: squares and
                                 //  their sums over any row count stay finite
#define PREP_LABEL_MISSING 255   //  prep_read_target: a row without a target

typedef enum {
    PREP_TITANIC = 1, //  the reference recipe
    PREP_GENERIC = 2, //  inferred from the columns
} prep_kind_t;

typedef enum {
    PREP_NUM = 1,  //  a number (imputed with fill when missing)
    PREP_CAT = 2,  //  a category (one-hot over levels)
    PREP_TEXT = 3, //  free text (Titanic's Name, read for its title)
} prep_type_t;

typedef struct {
    char *name;        //  column / field name, owned
    prep_type_t type;  //  see prep_type_t
    bool integer;      //  NUM: a record's value must be integral
    bool required;     //  a record must carry a non-null value
    double min, max;   //  NUM: allowed range in records (may be -INF / INF)
    double fill;       //  NUM: imputed value when missing
    char **levels;     //  CAT: known levels, owned
    size_t n_levels;   //  CAT: how many
    bool closed;       //  CAT: a value outside levels is refused, not bucketed
    char *fill_str;    //  CAT: imputed level when missing, owned
    char *rule;        //  what a valid value is ("must be one of C, Q, S"), owned;
                       //  derived by signature_finish, not stored
} prep_input_t;

typedef struct prep_recipe {
    prep_kind_t kind;      //  see prep_kind_t
    char *target;          //  label column, owned
    bool target_numeric;   //  labels are numbers (else strings)
    double pos_num, neg_num; //  numeric labels of class 1 / class 0
    char *pos_str, *neg_str; //  string labels of class 1 / class 0, owned
    task_t task;      //  what the model predicts (BINARY: pos/neg above)
    size_t n_classes;      //  2 (BINARY), 2..PREP_MAX_CLASSES (MULTICLASS), 0 (REGRESSION)
    double *class_num;     //  MULTICLASS, target_numeric: n_classes labels ascending, owned
    char **class_str;      //  MULTICLASS, strings: n_classes labels in byte order, owned
    size_t n_inputs;       //  raw inputs read
    prep_input_t *inputs;  //  n_inputs, owned
    size_t n_features;     //  feature vector length
    char **features;       //  n_features names, owned
    double *mean, *scale;  //  n_features standardisation (x - mean) / scale, owned
    bool names_unique;     //  no two inputs share a name (derived by signature_finish);
                           //  enables signature_map's in-order fast path
} prep_recipe_t;

//  One raw value as the recipe reads it, whatever it came from.
typedef struct {
    bool missing;      //  absent, null or empty
    double num;        //  the value when it is a number
    const char *str;   //  the value when it is a string (borrowed), else NULL
    int32_t level;     //  CAT: index in levels if known, -1 unseen, -2 look str up
} prep_cell_t;

//  Fits a recipe on the given rows of raw. target NULL means
//  FEEDBACK_IO_TARGET_DEFAULT (Survived).
//  notes (may be NULL) receives what was decided, one "; "-separated item
//  each. Returns a new recipe or NULL with err: MLOPS_ENOTFOUND (no target
//  column), MLOPS_EINVAL (target not binary, no usable column, too wide),
//  MLOPS_ENOMEM.
prep_recipe_t *prep_fit(const table_t *raw, const size_t *rows, size_t n, const char *target,
                        char *notes, size_t notes_size, mlops_err_t *err);

//  prep_fit for a task: task is TASK_AUTO (task_name.h) or a task_t;
//  prep_fit is prep_fit_task with TASK_BINARY. Same codes, plus the target
//  errors of prep_target_fit.
prep_recipe_t *prep_fit_task(const table_t *raw, const size_t *rows, size_t n,
                             const char *target, int task, char *notes, size_t notes_size,
                             mlops_err_t *err);

//  Decides the task type and the classes from the whole target column
//  (rules at the top). Returns a recipe holding only the target part
//  (free with prep_destroy), or NULL with err: MLOPS_ENOTFOUND (no such
//  column), MLOPS_EINVAL (one class only, too many classes, a non-finite
//  or non-numeric value in a numeric target, regression on strings; the
//  message names the column and the first bad row), MLOPS_ENOMEM.
//  desc (may be NULL) gets e.g. "target cultivar: multiclass, 3 classes".
prep_recipe_t *prep_target_fit(const table_t *raw, const char *target, int task, char *desc,
                               size_t desc_size, mlops_err_t *err);

//  Every row's target under the recipe r: classification writes y[i]
//  (class index, PREP_LABEL_MISSING when the cell is empty), regression
//  v[i] (NAN when empty); the other array may be NULL. *n_missing (may be
//  NULL) counts empty cells. Returns 0, MLOPS_ENOTFOUND or MLOPS_EINVAL (a
//  value outside the classes, naming the row).
int prep_read_target(const prep_recipe_t *r, const table_t *raw, uint8_t *y, double *v,
                     size_t *n_missing, mlops_err_t *err);

//  The label of class k as text ("setosa", "3"), into buf. Returns buf.
const char *prep_class_name(const prep_recipe_t *r, size_t k, char *buf, size_t size);

//  Regression targets of the given rows. Returns 0, MLOPS_ENOTFOUND or
//  MLOPS_EINVAL (a missing or non-numeric target, naming the row).
int prep_values(const prep_recipe_t *self, const table_t *raw, const size_t *rows, size_t n,
                double *v, mlops_err_t *err);

//  Frees; ignores NULL; sets *p to NULL.
void prep_destroy(prep_recipe_t **p);

//  The feature vector of one row of n_inputs cells into x (n_features).
void prep_transform_row(const prep_recipe_t *self, const prep_cell_t *cells, double *x);

//  Feature rows (row-major, n x n_features) of the given rows of raw. A
//  column the recipe reads that raw lacks is all missing (imputed).
//  Returns 0 or MLOPS_ENOMEM.
int prep_transform_table(const prep_recipe_t *self, const table_t *raw, const size_t *rows,
                         size_t n, double *X, mlops_err_t *err);

//  The index of level s among a CAT input's levels, or -1 when unseen.
int32_t prep_level(const prep_input_t *in, const char *s);

//  Reads the whole target column of raw: which value is class 1 (0/1 ->
//  1; yes/no, true/false, y/n, t/f -> the first; two other values -> the
//  larger number or the later string in byte order) and each row's label
//  (y[i] = 0/1, or 2 when the cell is missing). desc (may be NULL) gets
//  e.g. "Survived: 1 = positive". Returns 0, or MLOPS_ENOTFOUND (no such
//  column), MLOPS_EINVAL (not exactly two distinct values; the message
//  lists what it found).
int prep_read_labels(const table_t *raw, const char *target, uint8_t *y, char *desc,
                     size_t desc_size, mlops_err_t *err);

//  Labels (0/1, or class indexes for MULTICLASS) of the given rows. Returns 0, or MLOPS_ENOTFOUND (no
//  target column in raw), MLOPS_EINVAL (a missing or unknown label; the
//  message names the row).
int prep_labels(const prep_recipe_t *self, const table_t *raw, const size_t *rows, size_t n,
                uint8_t *y, mlops_err_t *err);

#endif
