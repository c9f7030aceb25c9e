/*  drift_gauges.h: the broker's drift distances on the gateway's /metrics,
    with the names and labels of the broker's --metrics (broker/exporter.h):

      mlops_feature_drift{version,field}   Jensen-Shannon distance of the live
                                           requests to the training data
      mlops_feature_psi{version,field}     population stability index of the same
      mlops_drift_window_rows{version}     live rows in the version's window

    With --broker, while /metrics is being scraped (one scrape in the last
    DRIFT_GAUGES_IDLE_MSEC), the gateway asks the broker for its drift
    windows (DRIFT, PROTOCOL.md) every DRIFT_GAUGES_POLL_MSEC through
    broker_link.c's FIFO of calls and keeps the answer rendered: a scrape
    never waits on the broker, and a gateway nobody scrapes asks nothing.
    Without --broker there is nothing to show.

    Caveats:
    - The figures are up to one poll old, plus the broker's answer time;
      the first scrape after a quiet minute has none (it starts the polls).
    - An answer that does not come (the broker silent past --broker-timeout)
      or is refused empties the gauges: no stale distances.
    - A broker without --drift-threshold watches nothing: no gauges.
*/
#ifndef MLOPS_DRIFT_GAUGES_H
#define MLOPS_DRIFT_GAUGES_H

#include "gateway.h"

#include <stddef.h>
#include <stdint.h>

#define DRIFT_GAUGES_POLL_MSEC 5000   //  a Prometheus scrape interval is 15 s or more
#define DRIFT_GAUGES_IDLE_MSEC 60000  //  no scrape for this long: polls stop

typedef struct drift_gauges drift_gauges_t;

//  The reactor's timer: sends DRIFT when a poll is due, none is waiting and
//  /metrics is being scraped (makes self->drift_gauges on the first call).
//  Nothing without --broker or once the gateway is stopping.
void drift_gauges_timers(gateway_t *self, int64_t now);

//  Appends the gauges to the /metrics text (malloc'd, *len bytes, taken and
//  returned; NUL-terminated), and notes the scrape. On ENOMEM the text
//  comes back as it was. self NULL (no broker): the text as it was.
char *drift_gauges_append(drift_gauges_t *self, char *text, size_t *len);

//  Frees; ignores NULL; sets *p to NULL. After broker_link_fail_all.
void drift_gauges_destroy(drift_gauges_t **p);

#endif
