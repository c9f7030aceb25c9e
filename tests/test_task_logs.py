"""test_task_logs.py: task logs (MLOPS/2 HEARTBEAT.log and RESULT.log, LOGS;
broker/runlogs.c, workers/tasklog.h) through real processes on loopback:

- after a run, `mlops logs RUN` prints every task's lines under a header
  naming the task, the attempt and the worker; `mlops logs RUN TASK` one
  task's; --json gives the LOGS data; an unknown run or task is an error;
- a task that fails keeps one log per attempt, with the failure in it, and
  a control byte the worker logged (from the source spec) arrives as '?';
- a worker SIGKILLed mid-task leaves the lines it had sent with its
  heartbeats.
"""
import json
import re

from procs import Broker, wait_for


def test_logs_of_a_run(procs):
    broker = Broker(procs)
    broker.all_workers(trains=1)
    run_id = broker.request("RETRAIN", {"source": "synthetic:200:5"})["run_id"]
    assert broker.wait_run(run_id, timeout=60)["state"] == "succeeded"
    names = {w["stage"]: w["name"] for w in broker.status()["workers"]}
    out = broker.cli("logs", str(run_id))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for task in ("extract", "preprocess", "train-logreg", "train-forest", "evaluate", "load_model"):
        stage = task.split("-")[0]
        header = "== %d-%s attempt 1 on %s ==" % (run_id, task, names[stage])
        assert header in text, text
        assert "task started task=%d-%s attempt=1" % (run_id, task) in text
        assert "task done task=%d-%s" % (run_id, task) in text
    one = broker.cli("logs", str(run_id), "%d-evaluate" % run_id)
    assert one.returncode == 0 and one.stdout.count("== ") == 1, one.stdout
    data = json.loads(broker.cli("logs", str(run_id), "%d-extract" % run_id, "--json").stdout)
    [entry] = data["logs"]
    assert entry["task_id"] == "%d-extract" % run_id and entry["attempt"] == 1
    assert entry["worker"] == names["extract"] and entry["bytes_dropped"] == 0
    assert "task started" in entry["text"]
    bad = broker.cli("logs", str(run_id), "%d-nope" % run_id)
    assert bad.returncode == 1 and "has no task '%d-nope'" % run_id in bad.stderr
    bad = broker.cli("logs", "999")
    assert bad.returncode == 1 and "LOGS: no run 999" in bad.stderr
    assert broker.cli("logs").returncode == 2


def test_failed_attempts_keep_their_logs_sanitised(procs):
    """A peer's log lines with control bytes are kept per attempt, masked
    (a source with one is refused before any run: test_retrain_source.py)."""
    import time
    import wire
    from test_interop_control import FakeWorker
    broker = Broker(procs, extra=["--max-attempts", "2", "--backoff", "10ms"])
    fake = FakeWorker(broker.work, "extract")
    wait_for(lambda: broker.status()["workers"], what="extract worker")
    run_id = broker.request("RETRAIN", {"source": "synthetic:100:1"})["run_id"]
    for attempt in (1, 2):
        task = fake.next("TASK", timeout=30, heartbeat=True)
        now = int(time.time() * 1000)
        fake.sock.send(wire.pack("RESULT", {
            "task_id": task["task_id"], "run_id": task["run_id"], "ok": False,
            "error": "extract: cannot open /no/such/file.csv", "output": b"",
            "started_ms": now, "ended_ms": now,
            "log": "task failed task=%s attempt=%d\n/no/such/file\x01.csv\x1b[31m\n"
                   % (task["task_id"], attempt)}, version=2))
    assert broker.wait_run(run_id, timeout=30)["state"] == "failed"
    out = broker.cli("logs", str(run_id), "--json")
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)["logs"]
    assert [e["attempt"] for e in entries] == [1, 2]
    for e in entries:
        assert "task failed task=%d-extract" % run_id in e["text"]
        assert "/no/such/file?.csv" in e["text"]
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", e["text"])


def test_a_killed_worker_leaves_what_it_had_sent(procs):
    broker = Broker(procs)
    worker = broker.worker("extract", env={"MLOPS_TASK_DELAY_MS": "60000"})
    wait_for(lambda: broker.status()["workers"], what="extract worker")
    run_id = broker.request("RETRAIN", {"source": "synthetic:100:1"})["run_id"]

    def sent():
        out = broker.cli("logs", str(run_id))
        return out.stdout if "task started task=%d-extract" % run_id in out.stdout else None
    wait_for(sent, what="the first heartbeat's lines")
    procs.kill(worker)
    wait_for(lambda: not broker.status()["workers"], what="the worker declared lost")
    out = broker.cli("logs", str(run_id))
    assert "== %d-extract attempt 1 on " % run_id in out.stdout
    assert "task started task=%d-extract attempt=1" % run_id in out.stdout


def test_logs_from_a_python_peer(procs):
    """LOGS as PROTOCOL.md 5.2 gives it: a version-2 message; in a version-1
    envelope it is refused naming the version it needs."""
    import zmq
    import wire
    broker = Broker(procs)
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    try:
        reply = wire.exchange(sock, wire.pack("LOGS", {"run_id": 1}))
        assert not reply["ok"] and 'command "LOGS" at byte 2 needs version 2' in reply["error"]
        assert reply["code"] == "invalid"
        reply = wire.exchange(sock, wire.pack("LOGS", {"run_id": 1}, version=2))
        assert not reply["ok"] and reply["code"] == "not_found" and "LOGS: no run 1" in reply["error"]
    finally:
        sock.close()
