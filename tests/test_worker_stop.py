"""test_worker_stop.py: a stage worker stopped (SIGTERM) while its task
computes ends at once, exit code 0, saying which task it abandoned; the
broker sends that task again to another worker and the run goes on
(workers/stage_main.c). Before, the worker waited for the computation,
which at 10 M rows outlasts any container's grace period.
"""
import signal

from procs import Broker, wait_for

BUSY_MS = "120000"   # the first worker's task computes for two minutes


def test_a_stopped_worker_abandons_its_task_and_it_is_sent_again(procs):
    broker = Broker(procs, extra=["--backoff", "10ms"])
    slow = broker.worker("extract", env={"MLOPS_TASK_BUSY_MS": BUSY_MS})
    wait_for(lambda: broker.status()["workers"], what="the slow extract worker")
    run_id = broker.request("RETRAIN", {"source": "synthetic:200:3"})["run_id"]
    task = "%d-extract" % run_id
    wait_for(lambda: "task started task=%s" % task in procs.log(slow), what="the task started")
    slow.send_signal(signal.SIGTERM)
    assert slow.wait(30) == 0      # far less than BUSY_MS: it did not wait for the task
    assert "stopped with task %s in progress: abandoned" % task in procs.log(slow)
    broker.worker("extract")      # attempt 2 goes to a worker that computes normally
    wait_for(lambda: broker.run(run_id)["tasks"][0]["state"] == "done", timeout=30,
             what="extract done by the second worker")
    first = broker.run(run_id)["tasks"][0]
    assert first["attempts"] == 2, first
