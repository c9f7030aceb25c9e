/*  test_split.c: the stratified train/test split and K-fold: proportions as
    sklearn's, the same seed giving the same split, and the refusals (a
    fraction outside (0, 1), a class too small, K out of range). */
#include "split.h"
#include "testing.h"

#include <string.h>

static void test_split_is_stratified_and_seeded(void)
{
    enum { N = 891 };
    uint8_t y[N];
    for (size_t i = 0; i < N; i++)
        y[i] = i < 342;
    size_t tr[N], te[N], ntr, nte, tr2[N], te2[N], ntr2, nte2;
    CHECK_INT(split_train_test(y, N, 0.2, 42, tr, &ntr, te, &nte, NULL), 0);
    CHECK_INT(nte, 179); //  ceil(0.2 * 891), as sklearn
    CHECK_INT(ntr, 712);
    size_t pos = 0;
    for (size_t i = 0; i < nte; i++)
        pos += y[te[i]];
    CHECK_INT(pos, 69); //  sklearn's test split of titanic.csv holds 69 survivors
    int seen[N] = {0};
    for (size_t i = 0; i < ntr; i++)
        seen[tr[i]]++;
    for (size_t i = 0; i < nte; i++)
        seen[te[i]]++;
    for (size_t i = 0; i < N; i++)
        CHECK_INT(seen[i], 1);
    CHECK_INT(split_train_test(y, N, 0.2, 42, tr2, &ntr2, te2, &nte2, NULL), 0);
    CHECK(memcmp(te, te2, sizeof(size_t) * nte) == 0);
    CHECK_INT(split_train_test(y, N, 0.2, 43, tr2, &ntr2, te2, &nte2, NULL), 0);
    CHECK(memcmp(te, te2, sizeof(size_t) * nte) != 0);
    mlops_err_t err;
    CHECK_INT(split_train_test(y, N, 1.5, 42, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "test fraction 1.5");
    uint8_t few[6] = {0, 0, 0, 0, 0, 1};
    CHECK_INT(split_train_test(few, 6, 0.2, 42, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "each class needs rows on both sides");
}

static void test_kfold_balances_classes(void)
{
    enum { N = 103 };
    uint8_t y[N];
    for (size_t i = 0; i < N; i++)
        y[i] = i % 3 == 0;
    int fold[N], again[N];
    CHECK_INT(split_kfold(y, N, 5, 7, fold, NULL), 0);
    size_t size[5] = {0}, pos[5] = {0};
    for (size_t i = 0; i < N; i++) {
        CHECK(fold[i] >= 0 && fold[i] < 5);
        size[fold[i]]++;
        pos[fold[i]] += y[i];
    }
    for (int f = 0; f < 5; f++) {
        CHECK(size[f] == 20 || size[f] == 21);
        CHECK(pos[f] == 6 || pos[f] == 7); //  35 positives over 5 folds
    }
    CHECK_INT(split_kfold(y, N, 5, 7, again, NULL), 0);
    CHECK(memcmp(fold, again, sizeof fold) == 0);
    mlops_err_t err;
    CHECK_INT(split_kfold(y, N, 1, 7, fold, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "K in 2..");
    CHECK_INT(split_kfold(y, 8, 5, 7, fold, &err), MLOPS_EINVAL); //  3 positives < 5
    CHECK_CONTAINS(err.msg, "at least 5 rows of each class");
}

static void test_split_refusals_name_the_problem(void)
{
    uint8_t y[20];
    for (size_t i = 0; i < 20; i++)
        y[i] = i % 2;
    size_t tr[20], te[20], ntr = 99, nte = 99;
    mlops_err_t err;
    CHECK_INT(split_train_test(y, 20, 0, 1, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "test fraction 0 is not in (0, 1)");
    CHECK_INT(split_train_test(y, 20, 1, 1, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_INT(split_train_test(y, 20, NAN, 1, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_INT(ntr, 99); //  untouched on failure
    CHECK_INT(nte, 99);
    //  one class only: nothing to stratify
    uint8_t ones[20];
    memset(ones, 1, sizeof ones);
    CHECK_INT(split_train_test(ones, 20, 0.2, 1, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "(0 of class 0, 20 of class 1)");
    //  a fraction so small that a class gets no test row
    CHECK_INT(split_train_test(y, 20, 0.01, 1, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "each class needs rows on both sides");
    //  the smallest split that works: 2 + 2 rows, half held out
    uint8_t four[4] = {0, 1, 0, 1};
    CHECK_INT(split_train_test(four, 4, 0.5, 1, tr, &ntr, te, &nte, &err), 0);
    CHECK_INT(ntr, 2);
    CHECK_INT(nte, 2);
    CHECK_INT(four[te[0]] + four[te[1]], 1);
}

static void test_kfold_refuses_k_over_the_limit(void)
{
    uint8_t y[400];
    for (size_t i = 0; i < 400; i++)
        y[i] = i % 2;
    int fold[400];
    mlops_err_t err;
    CHECK_INT(split_kfold(y, 400, SPLIT_MAX_FOLDS + 1, 1, fold, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "K in 2..100, not 101");
    CHECK_INT(split_kfold(y, 400, SPLIT_MAX_FOLDS, 1, fold, &err), 0);
    CHECK_INT(split_kfold(y, 400, -3, 1, fold, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "not -3");
}

static void test_classes_split_keeps_single_rows_in_training(void)
{
    uint8_t y[40];
    for (int i = 0; i < 40; i++)
        y[i] = (uint8_t)(i % 3);
    y[39] = 3; //  class 3: one row
    size_t tr[40], te[40], ntr, nte, rare = 9;
    mlops_err_t err;
    CHECK_INT(split_train_test_classes(y, 40, 4, 0.25, 1, tr, &ntr, te, &nte, &rare, &err), 0);
    CHECK_INT((int)rare, 1);
    CHECK_INT((int)(ntr + nte), 40);
    CHECK_INT((int)nte, 10);
    for (size_t i = 0; i < nte; i++)
        CHECK(te[i] != 39);
    //  binary: the same labels 0/1 give the binary split's rows
    uint8_t b[40];
    for (int i = 0; i < 40; i++)
        b[i] = (uint8_t)(i % 4 == 0);
    size_t tr2[40], te2[40], ntr2, nte2;
    CHECK_INT(split_train_test(b, 40, 0.2, 5, tr, &ntr, te, &nte, &err), 0);
    CHECK_INT(split_train_test_classes(b, 40, 2, 0.2, 5, tr2, &ntr2, te2, &nte2, NULL, &err), 0);
    CHECK(nte == nte2 && memcmp(te, te2, nte * sizeof *te) == 0);
    CHECK_INT(split_train_test_classes(y, 40, 0, 0.25, 1, tr, &ntr, te, &nte, NULL, &err),
              MLOPS_EINVAL);
}

static void test_classes_kfold_deals_rare_classes(void)
{
    uint8_t y[30];
    for (int i = 0; i < 30; i++)
        y[i] = (uint8_t)(i % 2);
    y[7] = 2, y[8] = 2; //  class 2: two rows, fewer than 5 folds
    int fold[30], seen[5] = {0};
    size_t rare = 0;
    mlops_err_t err;
    CHECK_INT(split_kfold_classes(y, 30, 3, 5, 1, fold, &rare, &err), 0);
    CHECK_INT((int)rare, 1);
    for (int i = 0; i < 30; i++)
        seen[fold[i]]++;
    for (int f = 0; f < 5; f++)
        CHECK_INT(seen[f], 6);
    CHECK_INT(split_kfold_classes(y, 3, 3, 5, 1, fold, NULL, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "5-fold needs at least 5 rows (have 3)");
}

int main(void)
{
    RUN(test_classes_split_keeps_single_rows_in_training);
    RUN(test_classes_kfold_deals_rare_classes);
    RUN(test_split_is_stratified_and_seeded);
    RUN(test_kfold_balances_classes);
    RUN(test_split_refusals_name_the_problem);
    RUN(test_kfold_refuses_k_over_the_limit);
    return TEST_REPORT("test_split");
}
