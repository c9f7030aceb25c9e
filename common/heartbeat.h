/*  heartbeat.h: the heartbeat defaults of every MLOPS/1 peer, in one place
    (proto/PROTOCOL.md section 7).

    A peer sends a HEARTBEAT after an interval in which it sent nothing
    else, and takes the other side for dead after `liveness` intervals in
    which it heard nothing (liveness.h says how its own stalls are left out).
    The broker and its stage workers, the gateway and its inference workers,
    and the inference workers' SERVING reports to the broker all start from
    these; a flag may change the interval (--heartbeat, --report) or the
    broker's and stage workers' liveness (--liveness).
*/
#ifndef MLOPS_HEARTBEAT_H
#define MLOPS_HEARTBEAT_H

#define HEARTBEAT_IVL_MSEC 1000   //  send after this much silence of ours
#define HEARTBEAT_LIVENESS 3      //  intervals of silence before a peer is dead
#define HEARTBEAT_LIVENESS_MAX 1000   //  the most a --liveness flag may ask for
//  The longest SERVING interval a broker accepts, and so the most an
//  inference worker's --report may ask for: a silent inference worker stops
//  counting after liveness x its interval, so at most 3 minutes by default
//  (a 10 minute interval let a report keep a dead worker counted for 30).
#define HEARTBEAT_REPORT_MAX_MSEC 60000

#endif
