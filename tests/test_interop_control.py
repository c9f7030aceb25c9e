"""test_interop_control.py: a client written from proto/PROTOCOL.md alone
(tests/wire.py: pyzmq + msgpack, no C code) drives a real mlops-broker: RETRAIN, STATUS,
RUNS, refusals that name the problem, both control envelopes, and a fake
stage worker that misbehaves on the work socket (garbage frames, unknown
and late RESULTs, a task it never answers) while the broker keeps its
promises: a settled task never changes, timeouts and retries happen, and
the broker keeps serving."""
import signal
import time

import zmq

from procs import BIN, Broker, wait_for
from wire import pack, unpack


class FakeWorker:
    """A stage worker played by hand on the work socket (PROTOCOL.md 6.1)."""

    def __init__(self, endpoint, stage):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.sock.send(pack("READY", {"stage": stage, "host": "fake", "pid": 4242}))

    def next(self, want, timeout=10.0, heartbeat=False):
        """Returns the body of the next message named want (skipping heartbeats),
        heartbeating meanwhile when asked to."""
        end = time.time() + timeout
        while time.time() < end:
            if heartbeat:
                self.send("HEARTBEAT", {"task_id": ""})
            if self.sock.poll(100):
                command, body = unpack(self.sock.recv())
                if command == want:
                    return body
        raise AssertionError("no %s within %.0f s" % (want, timeout))

    def send(self, command, body):
        self.sock.send(pack(command, body))

    def result(self, task, ok, error="", output=b""):
        now = int(time.time() * 1000)
        self.send("RESULT", {"task_id": task["task_id"], "run_id": task["run_id"], "ok": ok,
                             "error": error, "output": output, "started_ms": now, "ended_ms": now})


def test_retrain_and_status_from_python(procs):
    broker = Broker(procs)
    status = broker.status()
    assert status["active_run"] == 0 and status["production_version"] == 0
    assert status["workers"] == [] and status["next_schedule_ms"] == 0
    run = broker.request("RETRAIN", {"source": "synthetic:500:7", "reason": "from python"})
    assert run == {"run_id": 1, "coalesced": False, "state": "running"}
    status = broker.status()
    assert status["active_run"] == 1
    record = broker.run(1)
    assert record["source"] == "synthetic:500:7" and record["reason"] == "from python"
    assert record["state"] == "running"
    assert [t["task_id"] for t in record["tasks"]] == [
        "1-extract", "1-preprocess", "1-train-logreg", "1-train-forest", "1-evaluate", "1-load_model"]
    # the CLI sees the same run
    out = broker.cli("runs")
    assert out.returncode == 0 and "synthetic:500:7" in out.stdout


def test_refusals_name_the_problem(procs):
    broker = Broker(procs)
    bad = broker.reply("RETRAIN", {"sourse": "x"})
    assert bad["ok"] is False and "sourse" in bad["error"] and bad["data"] is None
    assert bad["code"] == "invalid"
    bad = broker.reply("PROMOTE", {"version": 7})
    assert bad["ok"] is False and "no version 7" in bad["error"] and bad["code"] == "not_found"
    bad = broker.reply("ROLLBACK", {})
    assert bad["ok"] is False and "no production version" in bad["error"] and bad["code"] == "not_found"
    bad = broker.reply("GET_MODEL", {})
    assert bad["ok"] is False and "no version is in production" in bad["error"]
    assert bad["code"] == "not_found"
    bad = broker.reply("HEARTBEAT", {})
    assert bad["ok"] is False and "not a control command" in bad["error"] and bad["code"] == "invalid"
    good = broker.reply("STATUS", {})
    assert good["ok"] is True and good["code"] == ""
    # a DEALER client without the empty delimiter gets the same shape back
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    sock.send(b"\x93\x01\xa6STATUS")        # truncated: no body
    assert sock.poll(5000)
    frames = sock.recv_multipart()
    assert len(frames) == 1
    command, body = unpack(frames[0])
    assert command == "REPLY" and body["ok"] is False and body["error"]
    sock.send_multipart([b"", pack("STATUS", {})])
    assert sock.poll(5000)
    frames = sock.recv_multipart()
    assert frames[0] == b"" and unpack(frames[1])[1]["ok"] is True
    sock.close()
    assert broker.status()["active_run"] == 0          # still serving


def test_ten_triggers_at_once_are_all_accounted_for(procs):
    broker = Broker(procs)
    ctx = zmq.Context.instance()
    socks = []
    for i in range(10):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(broker.control)
        socks.append(s)
    time.sleep(0.2)
    for i, s in enumerate(socks):
        s.send_multipart([b"", pack("RETRAIN", {"reason": "burst %d" % i})])
    answers = []
    for s in socks:
        assert s.poll(5000)
        answers.append(unpack(s.recv_multipart()[1])[1]["data"])
        s.close()
    started = [a for a in answers if not a["coalesced"] and a["state"] == "running"]
    queued = [a for a in answers if not a["coalesced"] and a["state"] == "queued"]
    folded = [a for a in answers if a["coalesced"]]
    assert len(started) == 1 and len(queued) == 1 and len(folded) == 8
    assert all(a["run_id"] == queued[0]["run_id"] for a in folded)
    runs = broker.runs()
    assert len(runs) == 2
    assert [r["state"] for r in runs] == ["queued", "running"]
    assert runs[0]["coalesced"] == 8
    status = broker.status()
    assert status["active_run"] == started[0]["run_id"] and status["queued"] == queued[0]["run_id"]


def test_fake_worker_cannot_break_the_broker(procs):
    # a long liveness: this fake worker does not heartbeat on its own
    broker = Broker(procs, extra=["--timeout", "extract=600ms", "--max-attempts", "4",
                                  "--liveness", "100"])
    w = FakeWorker(broker.work, "extract")
    wait_for(lambda: len(broker.status()["workers"]) == 1, what="fake worker known")
    w.sock.send(b"\xc1garbage")                         # not msgpack: dropped
    w.sock.send_multipart([b"a", b"b"])                 # two frames: dropped
    broker.request("RETRAIN", {"source": "synthetic:100"})
    task = w.next("TASK")
    assert task["task_id"] == "1-extract" and task["attempt"] == 1 and task["stage"] == "extract"
    status = broker.status()
    assert status["workers"][0]["state"] == "busy" and status["workers"][0]["task_id"] == "1-extract"
    # output that does not decode as an extract payload is a failed attempt
    w.result(task, True, output=b"\x01\x02")
    task2 = w.next("TASK")
    assert task2["attempt"] == 2
    record = broker.run(1)
    assert "bad extract output" in record["tasks"][0]["error"]
    # a RESULT for a task this worker does not hold changes nothing
    w.result({"task_id": "1-train-forest", "run_id": 1}, True, output=b"")
    w.result({"task_id": "99-extract", "run_id": 99}, False, error="nope")
    assert broker.run(1)["tasks"][0]["state"] == "running"
    # never answer: the stage timeout fails the attempt, the late answer is ignored
    w.send("HEARTBEAT", {"task_id": task2["task_id"]})
    wait_for(lambda: broker.run(1)["tasks"][0]["attempts"] == 2 and
             "timed out" in broker.run(1)["tasks"][0]["error"], what="timeout")
    w.result(task2, False, error="too late")
    task3 = w.next("TASK")
    assert task3["attempt"] == 3
    w.result(task3, False, error="disk on fire")
    task4 = w.next("TASK")
    w.result(task4, False, error="still on fire")
    run = broker.wait_run(1)
    assert run["state"] == "failed"
    assert "1-extract failed after 4 attempts: still on fire" in run["error"]
    w.result(task4, True, output=b"")                   # duplicate after settling: ignored
    time.sleep(0.3)
    assert broker.run(1)["state"] == "failed" and broker.run(1)["tasks"][0]["attempts"] == 4
    # an unknown stage is refused with DISCONNECT naming it
    odd = FakeWorker(broker.work, "juggle")
    assert "juggle" in odd.next("DISCONNECT")["reason"]
    # a worker the broker never met gets DISCONNECT for anything but READY
    stranger = zmq.Context.instance().socket(zmq.DEALER)
    stranger.setsockopt(zmq.LINGER, 0)
    stranger.connect(broker.work)
    stranger.send(pack("HEARTBEAT", {}))
    assert stranger.poll(5000) and unpack(stranger.recv())[0] == "DISCONNECT"
    stranger.close()
    assert broker.status()["active_run"] == 0


def test_dead_worker_task_goes_back_to_the_queue(procs):
    broker = Broker(procs)
    w1 = FakeWorker(broker.work, "extract")
    wait_for(lambda: len(broker.status()["workers"]) == 1, what="worker known")
    broker.request("RETRAIN", {"source": "synthetic:100"})
    w1.next("TASK")
    w1.sock.close()                                     # dies silently, task in hand
    w2 = FakeWorker(broker.work, "extract")
    task = w2.next("TASK", timeout=10, heartbeat=True)  # noticed within liveness x interval
    assert task["task_id"] == "1-extract" and task["attempt"] == 2
    record = broker.run(1)
    assert "lost" in record["tasks"][0]["error"]
    assert [w["host"] for w in broker.status()["workers"]] == ["fake"]


def test_a_message_read_by_the_tick_does_not_stall_the_loop(procs):
    """The broker's tick (every 50 ms) reads the work socket before it
    expires anyone; a message that woke the loop in the same turn was then
    gone when the socket's reader ran, and the reader waited in recv for the
    next one: the whole loop stalled until the peer spoke again, for ever
    with a silent one (control requests unanswered, seen as a rare flake).
    Freezing the broker (SIGSTOP, by pid) while one message arrives makes
    both the tick and the reader due in the same turn after SIGCONT."""
    broker = Broker(procs, extra=["--liveness", "1000"])   # the fake stays known, silent
    w = FakeWorker(broker.work, "extract")
    wait_for(lambda: len(broker.status()["workers"]) == 1, what="fake worker known")
    for i in range(3):
        broker.proc.send_signal(signal.SIGSTOP)
        w.send("HEARTBEAT", {"task_id": ""})
        time.sleep(0.2)                                 # several ticks overdue
        broker.proc.send_signal(signal.SIGCONT)
        reply = broker.reply("STATUS", {}, timeout_ms=5000)
        assert reply is not None and reply["ok"], "no REPLY after freeze %d" % i
    assert [x["host"] for x in broker.status()["workers"]] == ["fake"]


def test_schedule_shows_next_due_time_and_starts_runs(procs):
    broker = Broker(procs, extra=["--schedule", "1s"])
    due = broker.status()["next_schedule_ms"]
    assert due > time.time() * 1000 - 1000
    wait_for(lambda: broker.runs(), what="a scheduled run")
    run = broker.runs()[-1]
    assert run["reason"] == "schedule"
    assert broker.status()["next_schedule_ms"] > due


def test_help_and_bad_flags():
    import subprocess

    def run(*argv):
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=10)

    out = run(BIN + "/mlops-broker", "--help")
    assert out.returncode == 0 and "--schedule" in out.stdout and "--max-attempts" in out.stdout
    bad = run(BIN + "/mlops-broker", "--heartbeat", "soon")
    assert bad.returncode == 2 and "--heartbeat" in bad.stderr and "soon" in bad.stderr
    bad = run(BIN + "/mlops-broker", "--timeout", "juggle=1s")
    assert bad.returncode == 2 and "unknown stage 'juggle'" in bad.stderr
    bad = run(BIN + "/mlops-broker", "--metric", "speed", "--store", "/nonexistent/x/y")
    assert bad.returncode == 1 and "unknown metric 'speed'" in bad.stderr
    bad = run(BIN + "/mlops-broker", "--families", "logreg,logreg", "--store", "/nonexistent/x/y")
    assert bad.returncode == 1 and "given twice" in bad.stderr
    out = run(BIN + "/mlops-worker", "--stage", "train", "--help")
    assert out.returncode == 0 and "--broker" in out.stdout
    bad = run(BIN + "/mlops-worker", "--stage", "juggle")
    assert bad.returncode == 2 and "unknown --stage" in bad.stderr
    bad = run(BIN + "/mlops-worker", "--stage", "train", "--broker", "host:99999")
    assert bad.returncode == 2 and "bad port" in bad.stderr
    for sub in ("retrain", "status", "runs", "models", "audit", "promote", "rollback"):
        out = run(BIN + "/mlops", sub, "--help")
        assert out.returncode == 0 and "usage: mlops " + sub in out.stdout and "--broker" in out.stdout
    bad = run(BIN + "/mlops", "status", "--timeout", "forever")
    assert bad.returncode == 2 and "--timeout" in bad.stderr
    bad = run(BIN + "/mlops", "promote")
    assert bad.returncode == 2 and "usage: mlops promote VERSION" in bad.stderr


def test_a_result_with_another_runs_id_fails_the_attempt(procs):
    """PROTOCOL.md 6.1: a RESULT must carry its TASK's run_id; one that names
    another run is refused, the attempt fails with that reason and the task
    is dispatched again (the worker is free for it)."""
    broker = Broker(procs, extra=["--max-attempts", "2", "--liveness", "100"])
    w = FakeWorker(broker.work, "extract")
    wait_for(lambda: len(broker.status()["workers"]) == 1, what="fake worker known")
    broker.request("RETRAIN", {"source": "synthetic:100"})
    task = w.next("TASK")
    w.result(dict(task, run_id=task["run_id"] + 6), True, output=b"")
    task2 = w.next("TASK", heartbeat=True)
    assert task2["task_id"] == "1-extract" and task2["attempt"] == 2
    record = broker.run(1)
    assert record["tasks"][0]["error"] == \
        "RESULT refused: it names run 7, task 1-extract belongs to run 1"
    w.result(dict(task2, run_id=0), False, error="not this one either")
    run = broker.wait_run(1)
    assert run["state"] == "failed"
    assert "RESULT refused: it names run 0, task 1-extract belongs to run 1" in run["error"]


def test_malformed_control_envelopes_get_the_documented_refusal(procs):
    """PROTOCOL.md 8: the exact REPLY to an envelope that is neither
    [payload] nor ["", payload], and to a payload that is not MLOPS."""
    broker = Broker(procs)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    sock.send_multipart([b"x", b"", pack("STATUS", {})])          # three frames
    assert sock.poll(5000)
    frames = sock.recv_multipart()
    assert len(frames) == 1
    assert unpack(frames[0]) == ("REPLY", {
        "ok": False, "data": None, "code": "invalid",
        "error": 'malformed envelope: 3 frames (expected [payload] or ["", payload])'})
    sock.send_multipart([b"x", pack("STATUS", {})])               # a delimiter that is not empty
    assert sock.poll(5000)
    frames = sock.recv_multipart()
    assert frames[0] == b"" and len(frames) == 2
    assert unpack(frames[1]) == ("REPLY", {
        "ok": False, "data": None, "code": "invalid",
        "error": 'malformed envelope: 2 frames (expected [payload] or ["", payload])'})
    sock.send(b"\xc1garbage")                                     # not msgpack
    assert sock.poll(5000)
    command, body = unpack(sock.recv())
    assert command == "REPLY" and body == {
        "ok": False, "data": None, "code": "invalid",
        "error": "envelope: expected array, got the never-used byte 0xc1 at byte 0"}
    sock.close()
    assert broker.status()["active_run"] == 0


def test_audit_from_python_and_the_cli(procs):
    """AUDIT (MLOPS/2, PROTOCOL.md 5.2): refused in a version-1 envelope,
    answered with the audit records of 11.4 in a version-2 one; `mlops audit`
    prints them."""
    import json
    import subprocess

    broker = Broker(procs)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    sock.send_multipart([b"", pack("AUDIT", {})])
    assert sock.poll(5000)
    assert unpack(sock.recv_multipart()[1])[1] == {
        "ok": False, "data": None, "code": "invalid",
        "error": 'command "AUDIT" at byte 2 needs version 2 (the envelope says 1)'}
    sock.send_multipart([b"", pack("AUDIT", {}, version=2)])
    assert sock.poll(5000)
    assert unpack(sock.recv_multipart()[1])[1] == {"ok": True, "data": {"audit": []}, "code": "",
                                                   "error": ""}
    sock.close()
    out = subprocess.run([BIN + "/mlops", "audit", "--control", broker.control],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "(no registry actions yet)"
    out = subprocess.run([BIN + "/mlops", "audit", "--json", "--control", broker.control],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and json.loads(out.stdout) == {"audit": []}
