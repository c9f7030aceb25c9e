/*  train.c: `mlops train`, the ML stages in one process, no broker:
    extract (CSV or synthetic) -> prepare (labels, stratified split, recipe)
    -> train each family (--families: logreg, forest, gbdt) -> evaluate (each artifact is loaded back and
    scored on the held-out rows, as the load_model stage does) -> optional
    repeated stratified K-fold CV -> optional artifact of the best family.

    Human output on stdout by default, one JSON object with --json. Progress
    goes to stderr, and only when stderr is a terminal. */
#include "cli.h"
#include "artifact.h"
#include "clock.h"
#include "csv_load.h"
#include "flags.h"
#include "hash.h"
#include "model.h"
#include "prep.h"
#include "source.h"
#include "synth.h"
#include "task_name.h"
#include "train.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_KNOWN 3 //  families there are: logreg, forest, gbdt
#define PROGRESS_MIN_ROWS 100000 //  smaller sources finish before progress helps
#define RESCORE_MAX_ROWS 50000   //  larger held-out splits are not scored a second time

typedef struct {
    const char *source;      //  --source
    const char *target;      //  --target, NULL = Survived
    const char *task;        //  --task, default auto
    const char *out;         //  --out FILE
    const char *params[N_KNOWN]; //  --logreg-params / --forest-params / --gbdt-params JSON
    char *family_list;       //  --families (mutable copy)
    const char *families[N_KNOWN]; //  the families trained, in order
    size_t n_families;       //  how many
    char *numeric, *strings; //  --numeric / --categorical lists (mutable copies)
    int cv, repeat, threads; //  --cv K, --repeat R, --threads N
    uint64_t seed;           //  --seed
    double test_fraction;    //  --test-fraction
    int json;                //  --json
} s_opts_t;

typedef struct {
    const char *family;      //  logreg / forest / gbdt
    uint8_t *artifact;       //  its artifact, owned
    size_t artifact_len;
    metrics_t m;             //  held-out metrics (recomputed from the loaded artifact)
    score_t sc;              //  the same for any task (binary: sc.bin = m), owned
    double train_ms;         //  train_fit wall time
    bool rescored;           //  the reloaded artifact was scored again
} s_result_t;

static const char *const s_known[N_KNOWN] = {TRAIN_FAMILY_LOGREG, TRAIN_FAMILY_FOREST,
                                            TRAIN_FAMILY_GBDT};

//  Milliseconds, with the fraction: a small table trains in under one.
static double s_now_ms(void)
{
    return (double)clock_mono_us() / 1e3;
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: mlops train --source CSV|synthetic[:ROWS[:SEED]] [options]\n"
            "\n"
            "Extracts, preprocesses, trains logistic regression and a random forest\n"
            "(and gradient-boosted trees with --families), and evaluates them on a\n"
            "stratified held-out split, in one process. Each artifact is loaded back\n"
            "and, when the held-out split has at most 50,000 rows, scored again and\n"
            "checked against its recorded metrics.\n"
            "\n"
            "  --source SPEC        a CSV file with a header (PATH or csv:PATH), or\n"
            "                       synthetic[:ROWS[:SEED]]; the feedback set (+feedback)\n"
            "                       and stored datasets are the broker's: mlops retrain\n"
            "  --target COL         target column (default Survived)\n"
            "  --task T             binary, multiclass, regression or auto (default):\n"
            "                       2 distinct values are binary; strings or at most 20\n"
            "                       distinct integers multiclass (up to 100 classes);\n"
            "                       other numbers regression\n"
            "  --cv K               also run stratified K-fold cross-validation\n"
            "  --repeat R           repeat the K-fold R times with seeds S, S+1, ...\n"
            "  --seed S             split, fold and forest seed (default 42)\n"
            "  --test-fraction F    held-out share (default 0.2)\n"
            "  --numeric A,B        force these CSV columns to be numbers\n"
            "  --categorical C,D    force these CSV columns to be categories\n"
            "  --families A,B       model families, of logreg, forest, gbdt (default\n"
            "                       logreg,forest)\n"
            "  --logreg-params JSON e.g. '{\"C\":0.5}'\n"
            "  --forest-params JSON e.g. '{\"n_trees\":200,\"max_depth\":8}'\n"
            "  --gbdt-params JSON   e.g. '{\"max_iter\":200,\"learning_rate\":0.05}'\n"
            "  --threads N          forest and gbdt training threads (default: online CPUs)\n"
            "  --out FILE           write the best model's artifact (best F1, then accuracy;\n"
            "                       multiclass: macro F1, then accuracy; regression: R^2)\n"
            "  --json               one JSON object on stdout instead of tables\n"
            "  --help               this text\n");
}

//  "a,b,c" -> NULL-terminated list pointing into s (which is modified).
static const char **s_split_list(char *s)
{
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ',';
    const char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
        v[k++] = tok;
    return v;
}

//  A whole number (flags.h) in its own words, which tests/test_train_cli.py reads.
static int s_parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
    long long x;
    if (flags_int(flag, v, lo, hi, &x, NULL)) {
        fprintf(stderr, "mlops train: %s needs an integer in %d..%d, not '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

//  The index of a known family, or -1.
static int s_known_index(const char *name)
{
    for (int k = 0; k < N_KNOWN; k++)
        if (strcmp(name, s_known[k]) == 0)
            return k;
    return -1;
}

//  --families: known names, each once, into o->families.
static int s_parse_families(s_opts_t *o)
{
    o->n_families = 0;
    for (char *tok = strtok(o->family_list, ","); tok; tok = strtok(NULL, ",")) {
        int k = s_known_index(tok), twice = 0;
        for (size_t i = 0; k >= 0 && i < o->n_families; i++)
            twice |= strcmp(o->families[i], tok) == 0;
        if (k < 0 || twice) {
            fprintf(stderr, "mlops train: --families: '%s' is %s (logreg, forest, gbdt)\n", tok,
                    twice ? "given twice" : "not a family");
            return -1;
        }
        o->families[o->n_families++] = s_known[k];
    }
    if (o->n_families == 0) {
        fprintf(stderr, "mlops train: --families needs at least one of logreg, forest, gbdt\n");
        return -1;
    }
    return 0;
}

//  Returns 0, 1 for --help, or -1 on bad usage (already reported).
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 42, o->repeat = 1, o->task = "auto";
    o->families[0] = TRAIN_FAMILY_LOGREG, o->families[1] = TRAIN_FAMILY_FOREST;
    o->n_families = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mlops train: unknown option or missing value: '%s'\n", a);
            return -1;
        }
        const char *v = argv[++i];
        int seed = 0;
        if (strcmp(a, "--source") == 0)
            o->source = v;
        else if (strcmp(a, "--target") == 0)
            o->target = v;
        else if (strcmp(a, "--task") == 0) {
            int t;
            if (task_parse(v, &t) != 0) {
                fprintf(stderr, "mlops train: --task needs binary, multiclass, regression or "
                                "auto, not '%s'\n", v);
                return -1;
            }
            o->task = v;
        }
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--numeric") == 0)
            o->numeric = strdup(v);
        else if (strcmp(a, "--categorical") == 0)
            o->strings = strdup(v);
        else if (strcmp(a, "--logreg-params") == 0)
            o->params[0] = v;
        else if (strcmp(a, "--forest-params") == 0)
            o->params[1] = v;
        else if (strcmp(a, "--gbdt-params") == 0)
            o->params[2] = v;
        else if (strcmp(a, "--families") == 0) {
            free(o->family_list);
            o->family_list = strdup(v);
            if (!o->family_list || s_parse_families(o) != 0)
                return -1;
        }
        else if (strcmp(a, "--cv") == 0) {
            if (s_parse_int(a, v, 2, 100, &o->cv))
                return -1;
        } else if (strcmp(a, "--repeat") == 0) {
            if (s_parse_int(a, v, 1, 1000, &o->repeat))
                return -1;
        } else if (strcmp(a, "--threads") == 0) {
            if (s_parse_int(a, v, 1, 256, &o->threads))
                return -1;
        } else if (strcmp(a, "--seed") == 0) {
            if (s_parse_int(a, v, 0, 2147483647, &seed))
                return -1;
            o->seed = (uint64_t)seed;
        } else if (strcmp(a, "--test-fraction") == 0) {
            if (flags_number(a, v, 0, 1, &o->test_fraction, NULL) || o->test_fraction == 0
                || o->test_fraction == 1) {   //  both ends excluded
                fprintf(stderr, "mlops train: --test-fraction needs a number in (0, 1), not '%s'\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "mlops train: unknown option '%s' (mlops train --help)\n", a);
            return -1;
        }
    }
    if (!o->source) {
        fprintf(stderr, "mlops train: --source is required (mlops train --help)\n");
        return -1;
    }
    return 0;
}

//  The source by the one grammar (proto/source.h). What only a broker holds
//  is refused with the way there: the feedback set and stored datasets.
static table_t *s_extract(const s_opts_t *o, mlops_err_t *err)
{
    source_t src;
    if (source_parse(o->source, &src, err) != 0)
        return NULL;
    if (src.feedback) {
        mlops_err_set(err, MLOPS_EINVAL, "source: the feedback set lives in the broker; "
                      "train on it with mlops retrain --source %s", o->source);
        return NULL;
    }
    if (src.kind == SOURCE_DATASET) {
        mlops_err_set(err, MLOPS_EINVAL, "source: a stored dataset lives in the broker's store; "
                      "train on it with mlops retrain --source %s", o->source);
        return NULL;
    }
    if (src.kind == SOURCE_SYNTHETIC)
        return synth_generate(src.rows, src.seed, err);
    const char **numeric = o->numeric ? s_split_list(o->numeric) : NULL;
    const char **strings = o->strings ? s_split_list(o->strings) : NULL;
    csv_options_t co = {0, numeric, strings};
    table_t *t = csv_load_file(src.base, &co, err);
    if (!t && err->code > 0) //  errno: say which file
        mlops_err_set(err, err->code, "cannot read '%s': %s", src.base, strerror(err->code));
    free(numeric);
    free(strings);
    return t;
}

static void s_progress_fn(size_t done, size_t total)
{
    fprintf(stderr, "\rcross-validation: fold %zu/%zu", done, total);
    if (done == total)
        fprintf(stderr, "\n");
}

//  The parameters of a family, with --threads folded in for the tree
//  families, into buf.
static const char *s_family_params(const s_opts_t *o, const char *family, char *buf, size_t size)
{
    int k = s_known_index(family);
    const char *p = o->params[k];
    if (!o->threads || strcmp(family, TRAIN_FAMILY_LOGREG) == 0)
        return p;
    if (p && *p && p[strlen(p) - 1] == '}')
        snprintf(buf, size, "%.*s%s\"n_threads\":%d}", (int)strlen(p) - 1, p,
                 strchr(p, ':') ? "," : "", o->threads);
    else
        snprintf(buf, size, "{\"n_threads\":%d}", o->threads);
    return buf;
}

//  A multiclass or regression model's held-out metrics, scored again when
//  the split is small enough, else read from the artifact; the task's
//  first metric (accuracy, R^2) must match the recorded one.
static int s_rescore(const model_t *m, const table_t *raw, const prep_result_t *pr,
                     s_result_t *res, mlops_err_t *err)
{
    const score_t *rec = model_score(m);
    const char *name = task_default_metric(model_task(m));
    if (res->rescored) {
        int rc = train_evaluate(m, raw, pr->test_rows, pr->n_test, &res->sc, err);
        if (rc != 0)
            return rc;
    } else {
        res->sc = *rec;
        res->sc.confusion = NULL; //  the model's copy stays with the model
    }
    double got = 0, want = 0;
    if (score_metric(&res->sc, name, &got) != 0 || score_metric(rec, name, &want) != 0 ||
        got != want)
        return mlops_err_set(err, MLOPS_ECORRUPT,
                             "the loaded %s artifact does not reproduce its recorded %s",
                             res->family, name);
    return 0;
}

//  Trains family k and reads its held-out metrics back from the artifact.
static int s_train_one(const table_t *raw, const prep_result_t *pr, const s_opts_t *o, size_t k,
                       s_result_t *res, mlops_err_t *err)
{
    char buf[512];
    res->family = o->families[k];
    const char *p = s_family_params(o, res->family, buf, sizeof buf);
    double t0 = s_now_ms();
    int rc = train_fit(raw, pr->recipe, pr->recipe_len, pr->train_rows, pr->n_train,
                       pr->test_rows, pr->n_test, res->family, p, o->seed, &res->artifact,
                       &res->artifact_len, err);
    res->train_ms = s_now_ms() - t0;
    if (rc != 0)
        return rc;
    //  As the load_model stage: the artifact must load and, on a held-out
    //  split small enough to score again cheaply, reproduce its metrics.
    model_t *m = model_load(res->artifact, res->artifact_len, err);
    if (!m)
        return err->code;
    res->rescored = pr->n_test <= RESCORE_MAX_ROWS;
    if (model_task(m) != TASK_BINARY)
        rc = s_rescore(m, raw, pr, res, err);
    else if (!res->rescored)
        res->m = *model_metrics(m);
    else
        rc = train_score(m, raw, pr->test_rows, pr->n_test, &res->m, err);
    if (rc == 0 && model_task(m) == TASK_BINARY && res->m.accuracy != model_metrics(m)->accuracy)
        rc = mlops_err_set(err, MLOPS_ECORRUPT,
                           "the loaded %s artifact does not reproduce its recorded accuracy",
                           res->family);
    res->sc.task = model_task(m);
    res->sc.bin = res->m;
    model_destroy(&m);
    return rc;
}

//  A multiclass or regression model's held-out metrics as JSON.
static json_t *s_score_json(const score_t *s)
{
    if (s->task == TASK_REGRESSION)
        return json_pack("{s:f, s:f, s:f}", "r2", s->r2, "rmse", s->rmse, "mae", s->mae);
    json_t *cm = json_array();
    for (size_t i = 0; s->confusion && i < s->n_classes; i++) {
        json_t *row = json_array();
        for (size_t j = 0; j < s->n_classes; j++)
            json_array_append_new(row, json_integer(s->confusion[i * s->n_classes + j]));
        json_array_append_new(cm, row);
    }
    return json_pack("{s:f, s:f, s:f, s:o}", "accuracy", s->accuracy, "macro_f1", s->macro_f1,
                     "log_loss", s->log_loss, "confusion", cm);
}

//  Cross-validation of any task: folds, then <metric>_mean / _std.
static json_t *s_cv_json(const train_cv_t *cv)
{
    json_t *o = json_pack("{s:i}", "folds", (json_int_t)cv->n_folds);
    for (size_t j = 0; j < cv->n_metrics; j++) {
        char key[64];
        snprintf(key, sizeof key, "%s_mean", cv->metric[j]);
        json_object_set_new(o, key, json_real(cv->mean[j]));
        snprintf(key, sizeof key, "%s_std", cv->metric[j]);
        json_object_set_new(o, key, json_real(cv->std[j]));
    }
    return o;
}

static json_t *s_metrics_json(const metrics_t *m)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:{s:I, s:I, s:I, s:I}}", "accuracy",
                     m->accuracy, "precision", m->precision, "recall", m->recall, "f1", m->f1,
                     "roc_auc", m->auc, "log_loss", m->log_loss, "confusion", "tp",
                     (json_int_t)m->tp, "fp", (json_int_t)m->fp, "tn", (json_int_t)m->tn, "fn",
                     (json_int_t)m->fn);
}

typedef struct {
    const table_t *raw;             //  extracted table
    const prep_result_t *pr;        //  split and recipe
    json_t *classes;                //  multiclass: the class labels in order, else NULL
    s_result_t res[N_KNOWN];        //  per family, in o->families' order
    train_cv_t cv[N_KNOWN];         //  cross-validation, when run
    size_t best;                    //  index of the best family
    char dataset[HASH_HEX_LEN + 1]; //  table hash
    char sha[HASH_HEX_LEN + 1];     //  of the written artifact, "" if none
    double ms_extract, ms_prepare, ms_cv, ms_total; //  wall times
} s_report_t;

static void s_print_json(const s_opts_t *o, const s_report_t *r)
{
    json_t *fam = json_object();
    for (size_t k = 0; k < o->n_families; k++) {
        bool bin = r->pr->task == TASK_BINARY;
        json_t *f = json_pack("{s:o, s:f, s:i, s:s}", "test",
                              bin ? s_metrics_json(&r->res[k].m) : s_score_json(&r->res[k].sc),
                              "train_ms", r->res[k].train_ms, "artifact_bytes",
                              (json_int_t)r->res[k].artifact_len, "verified",
                              r->res[k].rescored ? "reloaded, rescored" : "reloaded");
        if (o->cv && !bin)
            json_object_set_new(f, "cv", s_cv_json(&r->cv[k]));
        else if (o->cv)
            json_object_set_new(
                f, "cv",
                json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "folds",
                          (json_int_t)r->cv[k].n_folds, "accuracy_mean", r->cv[k].accuracy_mean,
                          "accuracy_std", r->cv[k].accuracy_std, "roc_auc_mean",
                          r->cv[k].auc_mean, "roc_auc_std", r->cv[k].auc_std, "f1_mean",
                          r->cv[k].f1_mean, "f1_std", r->cv[k].f1_std, "log_loss_mean",
                          r->cv[k].log_loss_mean));
        json_object_set_new(fam, o->families[k], f);
    }
    json_t *root = json_pack(
        "{s:s, s:i, s:i, s:s, s:s, s:{s:i, s:i, s:I}, s:o, s:s, s:{s:f, s:f, s:f, s:f}}",
        "source", o->source, "rows", (json_int_t)r->raw->n_rows, "columns",
        (json_int_t)r->raw->n_cols, "dataset", r->dataset, "notes", r->pr->notes, "split",
        "n_train", (json_int_t)r->pr->n_train, "n_test", (json_int_t)r->pr->n_test, "seed",
        (json_int_t)o->seed, "families", fam, "best", o->families[r->best], "times_ms",
        "extract", r->ms_extract, "prepare", r->ms_prepare, "cv", r->ms_cv, "total",
        r->ms_total);
    json_object_set_new(root, "task", json_string(task_name(r->pr->task)));
    if (r->classes)
        json_object_set(root, "classes", r->classes);
    if (o->cv)
        json_object_set_new(root, "cv", json_pack("{s:i, s:i}", "k", o->cv, "repeat", o->repeat));
    if (o->out)
        json_object_set_new(root, "artifact",
                            json_pack("{s:s, s:s, s:s}", "path", o->out, "sha256", r->sha,
                                      "family", o->families[r->best]));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(root);
}

static void s_print_binary_tables(const s_opts_t *o, const s_report_t *r)
{
    printf("held-out  accuracy precision  recall      f1 roc_auc log_loss  train_ms\n");
    for (size_t k = 0; k < o->n_families; k++) {
        const metrics_t *m = &r->res[k].m;
        printf("%-8s  %8.4f %9.4f %7.4f %7.4f %7.4f %8.4f %9.2f%s\n", o->families[k], m->accuracy,
               m->precision, m->recall, m->f1, m->auc, m->log_loss, r->res[k].train_ms,
               k == r->best ? "  best" : "");
    }
    if (o->cv) {
        printf("\n%d-fold CV x %d  accuracy          roc_auc           f1\n", o->cv, o->repeat);
        for (size_t k = 0; k < o->n_families; k++)
            printf("%-8s        %.4f ± %.4f   %.4f ± %.4f   %.4f ± %.4f\n", o->families[k],
                   r->cv[k].accuracy_mean, r->cv[k].accuracy_std, r->cv[k].auc_mean,
                   r->cv[k].auc_std, r->cv[k].f1_mean, r->cv[k].f1_std);
    }
}

//  The held-out and CV tables of a multiclass or regression run.
static void s_print_task_tables(const s_opts_t *o, const s_report_t *r)
{
    bool reg = r->pr->task == TASK_REGRESSION;
    printf(reg ? "held-out        r2       rmse        mae  train_ms\n"
               : "held-out  accuracy macro_f1 log_loss  train_ms\n");
    for (size_t k = 0; k < o->n_families; k++) {
        const score_t *s = &r->res[k].sc;
        if (reg)
            printf("%-8s  %8.4f %10.4f %10.4f %9.2f%s\n", o->families[k], s->r2, s->rmse, s->mae,
                   r->res[k].train_ms, k == r->best ? "  best" : "");
        else
            printf("%-8s  %8.4f %8.4f %8.4f %9.2f%s\n", o->families[k], s->accuracy, s->macro_f1,
                   s->log_loss, r->res[k].train_ms, k == r->best ? "  best" : "");
    }
    if (!o->cv)
        return;
    printf("\n%d-fold CV x %d", o->cv, o->repeat);
    for (size_t j = 0; j < r->cv[0].n_metrics; j++)
        printf("  %-16s", r->cv[0].metric[j]);
    printf("\n");
    for (size_t k = 0; k < o->n_families; k++) {
        printf("%-8s      ", o->families[k]);
        for (size_t j = 0; j < r->cv[k].n_metrics; j++)
            printf("  %7.4f ± %.4f", r->cv[k].mean[j], r->cv[k].std[j]);
        printf("\n");
    }
}

static void s_print_text(const s_opts_t *o, const s_report_t *r)
{
    printf("source   %s: %zu rows, %zu columns, dataset %.12s\n", o->source, r->raw->n_rows,
           r->raw->n_cols, r->dataset);
    printf("prepare  %s\n", r->pr->notes);
    printf("split    %zu train / %zu test, stratified, seed %llu\n\n", r->pr->n_train,
           r->pr->n_test, (unsigned long long)o->seed);
    if (r->pr->task != TASK_BINARY)
        s_print_task_tables(o, r);
    else
        s_print_binary_tables(o, r);
    printf("verified artifacts reload%s\n",
           r->res[0].rescored ? " and reproduce their held-out metrics" : " (held-out split too large to rescore)");
    if (o->out)
        printf("\nartifact %s: %s, %zu bytes, sha256 %s\n", o->out, o->families[r->best],
               r->res[r->best].artifact_len, r->sha);
    double train_ms = 0;
    for (size_t k = 0; k < o->n_families; k++)
        train_ms += r->res[k].train_ms;
    printf("\ntimes    extract %.1f ms, prepare %.1f ms, train + evaluate %.1f ms", r->ms_extract,
           r->ms_prepare, train_ms);
    if (o->cv)
        printf(", cv %.1f ms", r->ms_cv);
    printf(", total %.1f ms\n", r->ms_total);
}

static int s_write_file(const char *path, const uint8_t *data, size_t len, mlops_err_t *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return mlops_err_set(err, errno, "cannot write '%s': %s", path, strerror(errno));
    size_t w = fwrite(data, 1, len, f);
    int bad = fclose(f) != 0 || w != len;
    return bad ? mlops_err_set(err, EIO, "cannot write '%s': short write", path) : 0;
}

//  Whether b is better than a on the held-out rows.
static bool s_better(task_t task, const s_result_t *b, const s_result_t *a)
{
    if (task == TASK_REGRESSION)
        return b->sc.r2 > a->sc.r2;
    if (task == TASK_MULTICLASS)
        return b->sc.macro_f1 > a->sc.macro_f1 ||
               (b->sc.macro_f1 == a->sc.macro_f1 && b->sc.accuracy > a->sc.accuracy);
    return b->m.f1 > a->m.f1 || (b->m.f1 == a->m.f1 && b->m.accuracy > a->m.accuracy);
}

//  Index of the best of n families (the first on ties).
static size_t s_pick_best(task_t task, const s_result_t *res, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (s_better(task, &res[k], &res[best]))
            best = k;
    return best;
}

//  The class labels of a multiclass recipe, in class order, as JSON strings.
static json_t *s_classes_json(const prep_result_t *pr, mlops_err_t *err)
{
    prep_recipe_t *r = artifact_recipe_decode(pr->recipe, pr->recipe_len, err);
    json_t *v = r ? json_array() : NULL;
    for (size_t k = 0; v && k < r->n_classes; k++) {
        char buf[256];
        json_array_append_new(v, json_string(prep_class_name(r, k, buf, sizeof buf)));
    }
    prep_destroy(&r);
    return v;
}

static int s_run(const s_opts_t *o, s_report_t *r, prep_result_t *pr, table_t **raw,
                 mlops_err_t *err)
{
    double t0 = s_now_ms();
    if (!(*raw = s_extract(o, err)))
        return err->code ? err->code : MLOPS_ENOMEM;
    r->raw = *raw, r->pr = pr;
    r->ms_extract = s_now_ms() - t0;
    if (table_hash(*raw, r->dataset) != 0)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    //  Large sources take seconds per stage: say where we are, on a terminal.
    int tell = isatty(STDERR_FILENO) && (*raw)->n_rows >= PROGRESS_MIN_ROWS;
    if (tell)
        fprintf(stderr, "extracted %zu rows in %.0f ms; preparing\n", (*raw)->n_rows,
                r->ms_extract);
    double t1 = s_now_ms();
    prep_options_t po = {o->target, o->test_fraction, o->seed, o->task};
    int rc = train_prepare(*raw, &po, pr, err);
    r->ms_prepare = s_now_ms() - t1;
    for (size_t k = 0; rc == 0 && k < o->n_families; k++) {
        if (tell)
            fprintf(stderr, "training and evaluating %s on %zu rows\n", o->families[k],
                    pr->n_train);
        rc = s_train_one(*raw, pr, o, k, &r->res[k], err);
    }
    if (rc != 0)
        return rc;
    r->best = s_pick_best(pr->task, r->res, o->n_families);
    if (pr->task == TASK_MULTICLASS && !(r->classes = s_classes_json(pr, err)))
        return err->code;
    if (o->out) {
        const s_result_t *best = &r->res[r->best];
        hash_sha256_hex(best->artifact, best->artifact_len, r->sha);
        if ((rc = s_write_file(o->out, best->artifact, best->artifact_len, err)) != 0)
            return rc;
    }
    if (o->cv) {
        double t2 = s_now_ms();
        int show = tell || (isatty(STDERR_FILENO) && o->repeat > 1);
        char buf[N_KNOWN][512];
        const char *params[N_KNOWN];
        for (size_t k = 0; k < o->n_families; k++)
            params[k] = s_family_params(o, o->families[k], buf[k], sizeof buf[k]);
        rc = train_cv(*raw, &po, o->cv, o->repeat, o->families, o->n_families, params,
                      show ? s_progress_fn : NULL, r->cv, err);
        r->ms_cv = s_now_ms() - t2;
    }
    r->ms_total = s_now_ms() - t0;
    return rc;
}

int cli_train(int argc, char **argv)
{
    s_opts_t o;
    int p = s_parse(argc, argv, &o);
    if (p != 0) {
        s_usage(p > 0 ? stdout : stderr);
        free(o.numeric);
        free(o.strings);
        free(o.family_list);
        return p > 0 ? 0 : 2;
    }
    s_report_t r;
    memset(&r, 0, sizeof r);
    prep_result_t pr = {0};
    table_t *raw = NULL;
    mlops_err_t err;
    mlops_err_clear(&err);
    int rc = s_run(&o, &r, &pr, &raw, &err);
    if (rc == 0 && o.json)
        s_print_json(&o, &r);
    else if (rc == 0)
        s_print_text(&o, &r);
    else
        fprintf(stderr, "mlops train: %s\n", mlops_err_text(&err, rc));
    for (size_t k = 0; k < o.n_families; k++) {
        free(r.res[k].artifact);
        score_clear(&r.res[k].sc);
    }
    json_decref(r.classes);
    prep_result_clear(&pr);
    table_destroy(&raw);
    free(o.numeric);
    free(o.strings);
    free(o.family_list);
    return rc == 0 ? 0 : 1;
}
