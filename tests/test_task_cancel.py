"""test_task_cancel.py: the broker's task timeouts and CANCEL (PROTOCOL.md
5.1, CANCEL; section 7, "Task timeouts"), through real processes.

- An attempt the broker gives up on is cancelled on its worker: the worker
  stops computing it and takes the next task (the retry, here on the same
  worker, the only one of its stage).
- A task whose progress advances is not timed out by --timeout; one whose
  progress stalls is; --timeout-max times out a task whatever its progress.

The slow tasks are the test-only knobs of workers/agent.h: MLOPS_TASK_BUSY_MS
computes and reports progress in "ms" (N,M: attempt 1 N ms, attempt 2 M
ms), MLOPS_TASK_DELAY_MS waits without reporting.
"""
from procs import Broker, wait_for

SOURCE = "synthetic:200:3"


def _extract(broker, run_id):
    return broker.run(run_id)["tasks"][0]


def test_a_task_past_the_cap_is_cancelled_on_its_worker_which_takes_the_retry(procs):
    broker = Broker(procs, extra=["--timeout-max", "1s", "--backoff", "10ms"])
    # attempt 1 would compute for ten minutes; attempt 2 runs at once
    worker = broker.worker("extract", env={"MLOPS_TASK_BUSY_MS": "600000,0"})
    wait_for(lambda: broker.status()["workers"], what="the extract worker")
    run_id = broker.request("RETRAIN", {"source": SOURCE})["run_id"]
    task = "%d-extract" % run_id
    wait_for(lambda: _extract(broker, run_id)["state"] == "done", timeout=60,
             what="extract done by its second attempt")
    assert _extract(broker, run_id)["attempts"] == 2
    log = procs.log(worker)
    assert "task=%s cancelled by the broker: stopping it" % task in log
    assert "task cancelled task=%s" % task in log
    assert log.count("task started task=%s" % task) == 2   # the retry came to it
    assert "task done task=%s" % task in log
    assert "timed out: ran past --timeout-max 1000 ms" in procs.log(broker.proc)
    assert worker.poll() is None


def test_progress_extends_the_deadline(procs):
    broker = Broker(procs, extra=["--timeout", "extract=2s"])
    # computes for 5 s, more than the timeout, reporting progress all along
    broker.worker("extract", env={"MLOPS_TASK_BUSY_MS": "5000"})
    wait_for(lambda: broker.status()["workers"], what="the extract worker")
    run_id = broker.request("RETRAIN", {"source": SOURCE})["run_id"]
    wait_for(lambda: _extract(broker, run_id)["state"] == "done", timeout=60,
             what="extract done")
    assert _extract(broker, run_id)["attempts"] == 1
    assert "timed out" not in procs.log(broker.proc)


def test_a_task_whose_progress_stalls_is_timed_out_and_cancelled(procs):
    broker = Broker(procs, extra=["--timeout", "extract=1s", "--max-attempts", "1"])
    # waits a minute without reporting any progress
    worker = broker.worker("extract", env={"MLOPS_TASK_DELAY_MS": "60000"})
    wait_for(lambda: broker.status()["workers"], what="the extract worker")
    run_id = broker.request("RETRAIN", {"source": SOURCE})["run_id"]
    run = broker.wait_run(run_id, timeout=30)
    assert run["state"] == "failed"
    extract = run["tasks"][0]
    assert "timed out: no progress for 1000 ms" in extract["error"], extract
    task = "%d-extract" % run_id
    wait_for(lambda: "task cancelled task=%s" % task in procs.log(worker), timeout=30,
             what="the worker stopped the task")
    # free again at the broker: its RESULT (ignored) or idle heartbeat said so
    wait_for(lambda: all(w["state"] == "idle" for w in broker.status()["workers"]),
             what="the worker idle again")


def test_a_task_computing_across_a_broker_restart_is_cancelled(procs):
    broker = Broker(procs)
    worker = broker.worker("extract", env={"MLOPS_TASK_BUSY_MS": "600000"})
    wait_for(lambda: broker.status()["workers"], what="the extract worker")
    run_id = broker.request("RETRAIN", {"source": SOURCE})["run_id"]
    task = "%d-extract" % run_id
    wait_for(lambda: "task started task=%s" % task in procs.log(worker), what="the task started")
    broker.kill()
    broker.start()
    # its RESULT would be dropped on the new connection: it stops computing
    wait_for(lambda: "task=%s cancelled: the connection was renewed" % task in procs.log(worker),
             timeout=30, what="the stale task cancelled")
    wait_for(lambda: "task cancelled task=%s" % task in procs.log(worker), timeout=30,
             what="the stale task stopped")
    wait_for(lambda: broker.status()["workers"], timeout=30, what="the worker back at the broker")
