/*  titanic_schema.h: the columns of the real Titanic file, as the CSV loader
    reads them; the synthetic generator must produce the same. Shared by
    test_csv_load.c and test_synth.c. */
#ifndef MLOPS_TITANIC_SCHEMA_H
#define MLOPS_TITANIC_SCHEMA_H

#include "table.h"

#define TITANIC_COLS 12

static const char *const titanic_names[TITANIC_COLS] = {
    "PassengerId", "Survived", "Pclass", "Name", "Sex", "Age",
    "SibSp", "Parch", "Ticket", "Fare", "Cabin", "Embarked"};

static const table_kind_t titanic_kinds[TITANIC_COLS] = {
    TABLE_NUMBER, TABLE_NUMBER, TABLE_NUMBER, TABLE_TEXT, TABLE_CATEGORY, TABLE_NUMBER,
    TABLE_NUMBER, TABLE_NUMBER, TABLE_TEXT, TABLE_NUMBER, TABLE_TEXT, TABLE_CATEGORY};

#endif
