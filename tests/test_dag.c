/*  test_dag.c: the DAG state machine of broker/dag.c without sockets or a
    store: planning (fan-out of train, ids from run_task_id and their limits),
    readiness (fan-in), retries with backoff, resume after a restart, and
    what it refuses (no family, too many, an id that does not fit, a task of
    an unknown stage).
*/
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "testing.h"

static const char *s_families[] = {"logreg", "forest"};
static const dag_policy_t s_policy = {.max_attempts = 3, .backoff_msec = 100, .backoff_max_msec = 250};

static void s_running_run(run_t *run, uint64_t id)
{
    memset(run, 0, sizeof *run);
    run->id = id;
    run->state = RUN_RUNNING;
}

static void test_dag_plan_fans_out_train(void)
{
    run_t run;
    s_running_run(&run, 7);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    CHECK_INT(run.n_tasks, 6);
    CHECK_STR(run.tasks[0].task_id, "7-extract");
    CHECK_STR(run.tasks[2].task_id, "7-train-logreg");
    CHECK_STR(run.tasks[3].task_id, "7-train-forest");
    CHECK_STR(run.tasks[3].family, "forest");
    CHECK_STR(run.tasks[5].task_id, "7-load_model");
    CHECK_INT(dag_task_stage(&run.tasks[4]), STAGE_EVALUATE);
    run_clear(&run);
    s_running_run(&run, 1);
    CHECK_INT(dag_plan(&run, s_families, 0), MLOPS_EINVAL);
    CHECK_INT(dag_plan(&run, s_families, DAG_FAMILIES_MAX + 1), MLOPS_EINVAL);
    run_clear(&run);
}

static void test_dag_ready_follows_stages(void)
{
    run_t run;
    s_running_run(&run, 1);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    CHECK(dag_task_ready(&run, &run.tasks[0], 0));
    CHECK(!dag_task_ready(&run, &run.tasks[1], 0));
    dag_task_start(&run, &run.tasks[0], "h:1", 10);
    CHECK(!dag_task_ready(&run, &run.tasks[0], 10));   //  running, not pending
    CHECK(!dag_task_done(&run, &run.tasks[0], 20));
    dag_task_start(&run, &run.tasks[1], "h:2", 30);
    dag_task_done(&run, &run.tasks[1], 40);
    //  both train tasks are ready together (fan-out), evaluate waits for both (fan-in)
    CHECK(dag_task_ready(&run, &run.tasks[2], 50));
    CHECK(dag_task_ready(&run, &run.tasks[3], 50));
    dag_task_start(&run, &run.tasks[2], "h:3", 50);
    dag_task_done(&run, &run.tasks[2], 60);
    CHECK(!dag_task_ready(&run, &run.tasks[4], 60));
    dag_task_start(&run, &run.tasks[3], "h:4", 50);
    dag_task_done(&run, &run.tasks[3], 70);
    CHECK(dag_task_ready(&run, &run.tasks[4], 70));
    dag_task_start(&run, &run.tasks[4], "h:5", 70);
    dag_task_done(&run, &run.tasks[4], 80);
    dag_task_start(&run, &run.tasks[5], "h:6", 80);
    CHECK(dag_task_done(&run, &run.tasks[5], 90));
    CHECK_INT(run.state, RUN_SUCCEEDED);
    CHECK_INT(run.ended_ms, 90);
    CHECK_INT(run.started_ms, 10);
    run_clear(&run);
}

static void test_dag_retry_with_backoff_then_fail(void)
{
    run_t run;
    s_running_run(&run, 2);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    run_task_t *t = &run.tasks[0];
    dag_task_start(&run, t, "h:1", 1000);
    CHECK_INT(dag_task_fail(&run, t, "boom 1", &s_policy, 1100), DAG_RETRY);
    CHECK_INT(t->state, TASK_PENDING);
    CHECK_INT(t->retry_at_ms, 1200);                 //  backoff 100 ms after attempt 1
    CHECK(!dag_task_ready(&run, t, 1199));
    CHECK(dag_task_ready(&run, t, 1200));
    CHECK_INT(dag_next_retry_ms(&run), 1200);
    dag_task_start(&run, t, "h:1", 1200);
    CHECK_INT(dag_task_fail(&run, t, "boom 2", &s_policy, 1300), DAG_RETRY);
    CHECK_INT(t->retry_at_ms, 1500);                 //  doubled
    dag_task_start(&run, t, "h:1", 1500);
    CHECK_INT(t->attempts, 3);
    CHECK_INT(dag_task_fail(&run, t, "boom 3", &s_policy, 1600), DAG_RUN_FAILED);
    CHECK_INT(t->state, TASK_FAILED);
    CHECK_INT(run.state, RUN_FAILED);
    CHECK_CONTAINS(run.error, "2-extract failed after 3 attempts: boom 3");
    CHECK_STR(t->error, "boom 3");
    run_clear(&run);
}

static void test_dag_backoff_is_capped(void)
{
    CHECK_INT(dag_backoff_msec(&s_policy, 1), 100);
    CHECK_INT(dag_backoff_msec(&s_policy, 2), 200);
    CHECK_INT(dag_backoff_msec(&s_policy, 3), 250);
    CHECK_INT(dag_backoff_msec(&s_policy, 30), 250);
}

static void test_dag_resume_requeues_running_tasks(void)
{
    run_t run;
    s_running_run(&run, 3);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    dag_task_start(&run, &run.tasks[0], "h:1", 1);
    dag_task_done(&run, &run.tasks[0], 2);
    dag_task_start(&run, &run.tasks[1], "h:9", 3);
    CHECK_INT(dag_resume(&run, 5), 1);
    CHECK_INT(run.tasks[1].state, TASK_PENDING);
    CHECK_INT(run.tasks[1].attempts, 0);             //  the interrupted dispatch does not count
    CHECK_CONTAINS(run.tasks[1].error, "broker restart");
    CHECK_INT(run.tasks[0].state, TASK_DONE);        //  settled work is kept
    CHECK(dag_task_ready(&run, &run.tasks[1], 5));
    CHECK(dag_task_find(&run, "3-preprocess") == &run.tasks[1]);
    CHECK(dag_task_find(&run, "4-preprocess") == NULL);
    run_clear(&run);
}

//  An id that would be cut short is refused: it is the key of the task's
//  output in the store. run_task_id is the one place that spells ids.
static void test_dag_plan_refuses_ids_that_do_not_fit(void)
{
    char id[48];
    CHECK_INT(run_task_id(id, sizeof id, 7, "extract", NULL), 0);
    CHECK_STR(id, "7-extract");
    CHECK_INT(run_task_id(id, sizeof id, 7, "preprocess", ""), 0);
    CHECK_STR(id, "7-preprocess");
    CHECK_INT(run_task_id(id, sizeof id, 7, "train", "forest"), 0);
    CHECK_STR(id, "7-train-forest");
    CHECK_INT(run_task_id(id, 8, 7, "train", "forest"), MLOPS_EINVAL);
    CHECK_STR(id, "7-train");                        //  cut short, NUL-terminated
    //  a 31-byte family fits its field but not a 20-digit run's id
    const char *long_family[] = {"abcdefghijabcdefghijabcdefghij1"};
    run_t run;
    s_running_run(&run, UINT64_MAX);
    CHECK_INT(dag_plan(&run, long_family, 1), MLOPS_EINVAL);
    run_clear(&run);
    s_running_run(&run, 1);
    CHECK_INT(dag_plan(&run, long_family, 1), 0);
    CHECK_STR(run.tasks[2].task_id, "1-train-abcdefghijabcdefghijabcdefghij1");
    run_clear(&run);
    const char *too_long[] = {"abcdefghijabcdefghijabcdefghij12"};   //  32 bytes: no room
    s_running_run(&run, 1);
    CHECK_INT(dag_plan(&run, too_long, 1), MLOPS_EINVAL);
    run_clear(&run);
}

//  A task whose stage the broker does not know (a store written by another
//  version) is never ready, and no lookup finds what is not there.
static void test_dag_unknown_stage_and_missing_task(void)
{
    run_t run;
    s_running_run(&run, 4);
    CHECK(run_add_task(&run, "extract", NULL) != NULL);
    run_task_t *odd = run_add_task(&run, "bogus", NULL);
    CHECK(odd != NULL);
    CHECK_INT(dag_task_stage(odd), -1);
    CHECK(!dag_task_ready(&run, odd, 0));
    CHECK(dag_task_find(&run, NULL) == NULL);
    CHECK(dag_task_find(NULL, "4-extract") == NULL);
    CHECK(dag_task_find(&run, "4-bogus") == odd);
    CHECK_INT(dag_next_retry_ms(&run), 0);           //  nothing waits for a backoff
    CHECK(!dag_stage_done(&run, STAGE_EXTRACT));
    CHECK(dag_stage_done(&run, STAGE_TRAIN));        //  a stage with no task is done
    //  a run that is not running has no ready task
    run.state = RUN_QUEUED;
    CHECK(!dag_task_ready(&run, &run.tasks[0], 0));
    run_clear(&run);
}

int main(void)
{
    RUN(test_dag_plan_fans_out_train);
    RUN(test_dag_ready_follows_stages);
    RUN(test_dag_retry_with_backoff_then_fail);
    RUN(test_dag_backoff_is_capped);
    RUN(test_dag_resume_requeues_running_tasks);
    RUN(test_dag_plan_refuses_ids_that_do_not_fit);
    RUN(test_dag_unknown_stage_and_missing_task);
    return TEST_REPORT("test_dag");
}
