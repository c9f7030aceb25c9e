"""test_identity.py: every worker has an instance name (MLOPS/2 READY.name and
SERVING.name, proto/PROTOCOL.md 4.1), through real processes on loopback:

- stage and inference workers started without --name get one each (host name
  and six hex digits), shown in STATUS and `mlops status`, and a run's tasks
  record the name of the worker that ran them;
- a second stage worker given the --name of a live one is refused by the
  broker and exits 1 with a message naming the other worker; the first one
  keeps working;
- likewise a second inference worker with a live one's --name;
- a bad --name is a usage error (exit 2) naming the flag;
- a Python peer speaking MLOPS/1 (READY without a name) is still a worker,
  shown as host:pid.
"""
import re
import subprocess

import zmq

import wire
from procs import Broker, free_endpoint, infer_argv, wait_for, worker_argv

GENERATED = re.compile(r"^[A-Za-z0-9._:@-]+-[0-9a-f]{6}$")


def test_generated_names_are_unique_and_shown(procs):
    broker = Broker(procs)
    broker.worker("extract")
    broker.worker("extract")
    procs.start("infer", infer_argv(free_endpoint(), "--broker", broker.control, "--events", broker.events))
    wait_for(lambda: len(broker.status()["workers"]) == 2 and len(broker.status()["serving"]) == 1,
             what="two extract workers and one inference worker")
    status = broker.status()
    names = [w["name"] for w in status["workers"]] + [w["name"] for w in status["serving"]]
    assert len(set(names)) == 3, names
    assert all(GENERATED.match(n) for n in names), names
    text = broker.cli("status")
    assert text.returncode == 0, text.stderr
    for n in names:
        assert n in text.stdout
    assert re.search(r"^STAGE\s+NAME\s+HOST\s+PID", text.stdout, re.M)


def test_duplicate_stage_worker_name_is_refused(procs):
    broker = Broker(procs)
    first = procs.start("worker", worker_argv("extract", broker.work, "--name", "ex-1"))
    wait_for(lambda: [w["name"] for w in broker.status()["workers"]] == ["ex-1"], what="ex-1 joined")
    second = procs.start("worker", worker_argv("train", broker.work, "--name", "ex-1"))
    assert second.wait(20) == 1
    log = procs.log(second)
    assert "broker refused this worker (conflict): the name 'ex-1' is taken by the extract worker " \
           "'ex-1' on host" in log, log
    assert "pid %d" % first.pid in log, log
    assert first.poll() is None
    assert [w["name"] for w in broker.status()["workers"]] == ["ex-1"]
    # the first still works: a run's extract goes to it, and its record names it
    run_id = broker.request("RETRAIN", {"source": "synthetic:100:1"})["run_id"]
    wait_for(lambda: broker.run(run_id)["tasks"][0]["state"] == "done", what="extract done")
    assert broker.run(run_id)["tasks"][0]["worker"] == "ex-1"


def test_duplicate_infer_worker_name_is_refused(procs):
    broker = Broker(procs)
    argv = infer_argv(free_endpoint(), "--broker", broker.control, "--events", broker.events,
                      "--name", "infer-a")
    first = procs.start("infer", argv)
    wait_for(lambda: [w["name"] for w in broker.status()["serving"]] == ["infer-a"], what="infer-a")
    second = procs.start("infer", argv)
    assert second.wait(20) == 1
    log = procs.log(second)
    assert "broker refused this worker: SERVING: the name 'infer-a' is taken by the inference " \
           "worker 'infer-a'" in log, log
    assert first.poll() is None


def test_bad_name_is_a_usage_error():
    for argv in (worker_argv("train", "tcp://127.0.0.1:9", "--name", "has space"),
                 infer_argv("tcp://127.0.0.1:9", "--name", "x" * 64)):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        assert p.returncode == 2
        assert "mlops-worker: --name '" in p.stderr


def test_mlops1_peer_without_a_name_is_host_and_pid(procs):
    broker = Broker(procs)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.work)
    try:
        sock.send(wire.pack("READY", {"stage": "train", "host": "old-host", "pid": 4242, "model_version": 0}))
        wait_for(lambda: [w["name"] for w in broker.status()["workers"]] == ["old-host:4242"],
                 what="the MLOPS/1 worker")
    finally:
        sock.close()
