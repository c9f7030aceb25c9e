/*  test_score.c: metrics by hand: confusion matrix, precision / recall /
    F1 with and without predicted positives, ROC AUC of hand-made rankings
    (ties count one half), log loss with clipping, mean / std. */
#include "score.h"
#include "testing.h"

static void test_confusion_and_ratios_by_hand(void)
{
    uint8_t y[6] = {1, 1, 1, 0, 0, 0};
    double p[6] = {0.9, 0.6, 0.2, 0.5, 0.1, 0.3};
    metrics_t m;
    CHECK_INT(score_compute(y, p, 6, &m, NULL), 0);
    //  predicted 1: rows 0, 1, 3 (0.5 counts as positive, like sklearn's >= 0.5)
    CHECK_INT(m.tp, 2);
    CHECK_INT(m.fp, 1);
    CHECK_INT(m.tn, 2);
    CHECK_INT(m.fn, 1);
    CHECK_NEAR(m.accuracy, 4.0 / 6, 1e-15);
    CHECK_NEAR(m.precision, 2.0 / 3, 1e-15);
    CHECK_NEAR(m.recall, 2.0 / 3, 1e-15);
    CHECK_NEAR(m.f1, 2.0 / 3, 1e-15);
    //  pairs (pos, neg) ranked right: 0.9 beats 3, 0.6 beats 3, 0.2 beats 1 -> 7/9
    CHECK_NEAR(m.auc, 7.0 / 9, 1e-15);
    double ll = -(log(0.9) + log(0.6) + log(0.2) + log(0.5) + log(0.9) + log(0.7)) / 6;
    CHECK_NEAR(m.log_loss, ll, 1e-15);
}

static void test_auc_counts_ties_as_half(void)
{
    uint8_t y[4] = {0, 1, 0, 1};
    double s[4] = {0.5, 0.5, 0.2, 0.9};
    //  pairs: (0.5,0.5) half, (0.5,0.2) 1, (0.9,0.5) 1, (0.9,0.2) 1 -> 3.5 / 4
    CHECK_NEAR(score_auc(y, s, 4), 0.875, 1e-15);
    double all_tied[4] = {0.3, 0.3, 0.3, 0.3};
    CHECK_NEAR(score_auc(y, all_tied, 4), 0.5, 1e-15);
    double reversed[4] = {0.9, 0.1, 0.8, 0.2};
    CHECK_NEAR(score_auc(y, reversed, 4), 0.0, 1e-15);
    uint8_t one_class[3] = {1, 1, 1};
    CHECK(isnan(score_auc(one_class, s, 3)));
}

static void test_no_predicted_positive_gives_zero_precision(void)
{
    uint8_t y[3] = {1, 0, 0};
    double p[3] = {0.1, 0.2, 0.3};
    metrics_t m;
    CHECK_INT(score_compute(y, p, 3, &m, NULL), 0);
    CHECK_NEAR(m.precision, 0, 0);
    CHECK_NEAR(m.recall, 0, 0);
    CHECK_NEAR(m.f1, 0, 0);
    CHECK_NEAR(m.auc, 0, 1e-15);
}

static void test_log_loss_clips(void)
{
    uint8_t y[2] = {1, 0};
    double p[2] = {0.0, 1.0};
    //  both clipped: p = 1e-15 for the positive, 1 - (1 - 1e-15) in doubles for the negative
    double want = (-log(SCORE_LOGLOSS_EPS) - log(1 - (1 - SCORE_LOGLOSS_EPS))) / 2;
    CHECK_NEAR(score_log_loss(y, p, 2), want, 1e-12);
    double q[2] = {1.0, 0.0};
    CHECK(score_log_loss(y, q, 2) < 1e-14);
}

static void test_bad_input_names_the_index(void)
{
    uint8_t y[3] = {1, 0, 0};
    double p[3] = {0.1, 1.5, 0.3};
    metrics_t m;
    mlops_err_t err;
    CHECK_INT(score_compute(y, p, 3, &m, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "probability 1.5 at index 1");
    p[1] = NAN;
    CHECK_INT(score_compute(y, p, 3, &m, &err), MLOPS_EINVAL);
    p[1] = 0.5;
    y[2] = 3;
    CHECK_INT(score_compute(y, p, 3, &m, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "label 3 at index 2");
    CHECK_INT(score_compute(y, p, 0, &m, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "no rows");
}

static void test_mean_std_is_population(void)
{
    double v[4] = {1, 2, 3, 4}, mean, std;
    score_mean_std(v, 4, &mean, &std);
    CHECK_NEAR(mean, 2.5, 1e-15);
    CHECK_NEAR(std, sqrt(1.25), 1e-15);
}

//  Against scikit-learn 1.2.1: accuracy_score, f1_score(average="macro"),
//  log_loss, confusion_matrix on P.argmax(1); r2_score, mean_squared_error
//  ** 0.5, mean_absolute_error.
static void test_multiclass_and_regression_match_sklearn(void)
{
    static const uint8_t y[8] = {0, 1, 2, 2, 1, 0, 2, 1};
    static const double P[8 * 3] = {.7, .2, .1, .1, .6, .3, .2, .2, .6, .5, .1, .4,
                                    .3, .3, .4, .4, .4, .2, 0,  0,  1,  .2, .5, .3};
    static const int64_t cm[9] = {2, 0, 0, 0, 2, 1, 1, 0, 2};
    score_t s;
    mlops_err_t err;
    CHECK_INT(score_multiclass(y, P, 8, 3, &s, &err), 0);
    CHECK_NEAR(s.accuracy, 0.75, 1e-15);
    CHECK_NEAR(s.macro_f1, 0.7555555555555555, 1e-15);
    CHECK_NEAR(s.log_loss, 0.6385034550131132, 1e-12);
    for (int i = 0; i < 9; i++)
        CHECK_INT((int)s.confusion[i], (int)cm[i]);
    double v;
    CHECK_INT(score_metric(&s, "macro_f1", &v), 0);
    CHECK_INT(score_metric(&s, "auc", &v), -1);
    score_clear(&s);
    static const double t[5] = {3.0, -0.5, 2.0, 7.0, 4.2}, p[5] = {2.5, 0.0, 2.0, 8.0, 3.9};
    CHECK_INT(score_regression(t, p, 5, &s, &err), 0);
    CHECK_NEAR(s.r2, 0.9480256276150627, 1e-12);
    CHECK_NEAR(s.rmse, 0.5639148871948674, 1e-12);
    CHECK_NEAR(s.mae, 0.4600000000000001, 1e-12);
    CHECK_INT(score_metric(&s, "rmse", &v), 0);
    CHECK_NEAR(v, s.rmse, 0);
}

static void test_multiclass_and_regression_refusals(void)
{
    static const uint8_t y[2] = {0, 3};
    static const double P[6] = {.5, .5, 0, .2, .2, .6};
    score_t s;
    mlops_err_t err;
    CHECK_INT(score_multiclass(y, P, 2, 3, &s, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "score: label 3 at index 1 is not below 3");
    static const double bad[6] = {.5, .5, 0, .2, NAN, .6};
    static const uint8_t ok[2] = {0, 2};
    CHECK_INT(score_multiclass(ok, bad, 2, 3, &s, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "at index 1 is outside [0, 1]");
    static const double t[2] = {1, INFINITY}, p[2] = {1, 2};
    CHECK_INT(score_regression(t, p, 2, &s, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "score: value at index 1 is not finite");
    CHECK_INT(score_regression(t, p, 0, &s, &err), MLOPS_EINVAL);
}

int main(void)
{
    RUN(test_multiclass_and_regression_match_sklearn);
    RUN(test_multiclass_and_regression_refusals);
    RUN(test_confusion_and_ratios_by_hand);
    RUN(test_auc_counts_ties_as_half);
    RUN(test_no_predicted_positive_gives_zero_precision);
    RUN(test_log_loss_clips);
    RUN(test_bad_input_names_the_index);
    RUN(test_mean_std_is_population);
    return TEST_REPORT("test_score");
}
