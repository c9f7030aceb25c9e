/*  progress_table.c: see progress_table.h. A zhashx of entries keyed by task id. */
#include <czmq.h>

#include "progress_table.h"

#include "msg.h"

typedef struct {
    int64_t done, total;              //  the latest report
    char unit[PROTO_UNIT_MAX + 1];
    int64_t first_mono, first_done;   //  where the current count began, for the rate
    int64_t last_mono;                //  when the latest report came
    int64_t published_mono;           //  when its event last went out
    bool published;                   //  it went out once
} s_entry_t;

struct progress_table {
    zhashx_t *tasks;                  //  task id -> s_entry_t, owned
};

static void s_entry_destroy_fn(void **item)
{
    free(*item);
    *item = NULL;
}

progress_table_t *progress_table_new(void)
{
    progress_table_t *self = calloc(1, sizeof *self);
    if (self && !(self->tasks = zhashx_new()))
        free(self), self = NULL;
    if (self)
        zhashx_set_destructor(self->tasks, s_entry_destroy_fn);
    return self;
}

void progress_table_destroy(progress_table_t **p)
{
    if (!p || !*p)
        return;
    zhashx_destroy(&(*p)->tasks);
    free(*p);
    *p = NULL;
}

//  The entry of task_id, made when new (the table emptied first when full).
static s_entry_t *s_entry(progress_table_t *self, const char *task_id)
{
    s_entry_t *e = zhashx_lookup(self->tasks, task_id);
    if (e)
        return e;
    if (zhashx_size(self->tasks) >= PROGRESS_TABLE_TASKS_MAX)
        zhashx_purge(self->tasks);
    e = calloc(1, sizeof *e);
    if (e && zhashx_insert(self->tasks, task_id, e) != 0)
        free(e), e = NULL;
    return e;
}

bool progress_table_update(progress_table_t *self, const char *task_id, int64_t done,
                           int64_t total, const char *unit, int64_t now_mono)
{
    if (!unit || !*unit)
        return false;
    s_entry_t *e = s_entry(self, task_id);
    if (!e)
        return false;
    //  a new count (a new entry's unit is "", a new unit, a new attempt):
    //  the rate starts here
    if (strcmp(e->unit, unit) != 0 || done < e->done) {
        e->first_mono = now_mono;
        e->first_done = done;
        snprintf(e->unit, sizeof e->unit, "%s", unit);
    }
    e->done = done;
    e->total = total;
    e->last_mono = now_mono;
    if (e->published && now_mono - e->published_mono < PROGRESS_TABLE_PUBLISH_MSEC)
        return false;
    e->published = true;
    e->published_mono = now_mono;
    return true;
}

void progress_table_forget(progress_table_t *self, const char *task_id)
{
    zhashx_delete(self->tasks, task_id);
}

//  The estimate's part of the text: ", about N s left", or "" when the
//  rate is not known yet.
static void s_eta(const s_entry_t *e, char *out, size_t size)
{
    int64_t msec = e->last_mono - e->first_mono, work = e->done - e->first_done;
    out[0] = '\0';
    if (msec <= 0 || work <= 0 || e->done >= e->total)
        return;
    double left = (double)(e->total - e->done) * (double)msec / (double)work / 1000.0;
    snprintf(out, size, ", about %.0f s left", left < 1 ? 1 : left);
}

char *progress_table_text(progress_table_t *self, const char *task_id, char *out, size_t size)
{
    const s_entry_t *e = task_id && *task_id ? zhashx_lookup(self->tasks, task_id) : NULL;
    out[0] = '\0';
    if (!e)
        return out;
    if (!e->total) {
        snprintf(out, size, "%lld %s", (long long)e->done, e->unit);
        return out;
    }
    char eta[48];
    s_eta(e, eta, sizeof eta);
    snprintf(out, size, "%lld/%lld %s (%d%%%s)", (long long)e->done, (long long)e->total, e->unit,
             (int)(100 * e->done / e->total), eta);
    return out;
}
