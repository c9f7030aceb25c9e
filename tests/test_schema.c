/*  test_schema.c: gateway/schema.c's reading of what a model predicts:
    the signature's "task" (absent: binary) and a multiclass model's
    "classes" with their type, and each refusal naming the key. */
#include "schema.h"
#include "testing.h"

#define S_FIELDS "\"recipe\":\"generic\",\"fields\":[{\"name\":\"x1\",\"type\":\"number\"}]"

static schema_t *s_parse(const char *text, mlops_err_t *err)
{
    mlops_err_clear(err);
    return schema_parse(text, strlen(text), 3, err);
}

static void test_task_and_classes(void)
{
    mlops_err_t err;
    schema_t *s = s_parse("{" S_FIELDS "}", &err);
    CHECK(s && s->task == SCHEMA_BINARY && s->classes == NULL && s->n_classes == 0);
    schema_destroy(&s);
    s = s_parse("{" S_FIELDS ",\"task\":\"regression\"}", &err);
    CHECK(s && s->task == SCHEMA_REGRESSION && s->classes == NULL);
    schema_destroy(&s);
    s = s_parse("{" S_FIELDS ",\"task\":\"multiclass\",\"classes\":[\"a\",\"b\",\"c\"]}", &err);
    CHECK(s && s->task == SCHEMA_MULTICLASS && s->n_classes == 3);
    if (s) {
        CHECK_STR(s->classes, "[\"a\",\"b\",\"c\"]");
        CHECK_INT(s->class_type, SCHEMA_STRING);
        CHECK_STR(schema_task_name(s->task), "multiclass");
    }
    schema_destroy(&s);
    s = s_parse("{" S_FIELDS ",\"task\":\"multiclass\",\"classes\":[3,5,8]}", &err);
    CHECK(s && s->class_type == SCHEMA_INTEGER);
    schema_destroy(&s);
    s = s_parse("{" S_FIELDS ",\"task\":\"multiclass\",\"classes\":[3,5.5,8]}", &err);
    CHECK(s && s->class_type == SCHEMA_NUMBER);
    schema_destroy(&s);
}

static void test_refusals_name_the_key(void)
{
    static const struct {
        const char *extra;
        const char *needle;
    } cases[] = {
        {",\"task\":\"ranking\"", "'task' is not binary, multiclass or regression"},
        {",\"task\":3", "'task' is not binary"},
        {",\"task\":\"multiclass\"", "'classes' is not a list of 2 to 100"},
        {",\"task\":\"multiclass\",\"classes\":[\"a\"]", "'classes' is not a list"},
        {",\"task\":\"multiclass\",\"classes\":[\"a\",2]", "'classes' is not a list"},
        {",\"task\":\"multiclass\",\"classes\":[\"a\",null]", "'classes' is not a list"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{" S_FIELDS "%s}", cases[i].extra);
        mlops_err_t err;
        schema_t *s = s_parse(text, &err);
        CHECK(s == NULL);
        CHECK_INT(err.code, MLOPS_EPROTO);
        CHECK_CONTAINS(err.msg, cases[i].needle);
    }
}

int main(void)
{
    RUN(test_task_and_classes);
    RUN(test_refusals_name_the_key);
    return TEST_REPORT("test_schema");
}
