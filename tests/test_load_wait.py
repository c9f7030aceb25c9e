"""test_load_wait.py: load_model is done once the inference workers serve the
promoted version (DESIGN.md's stage table), through real processes on
loopback: a broker in a fresh store, the five stage workers, and real
inference workers (`mlops-worker --stage infer`) that report the version they
serve with SERVING on the broker's control socket (PROTOCOL.md 5.2, 6.4).

- two inference workers behind a real gateway: the run ends only once both
  serve the new version, and its outcome says so; `mlops status` and
  /api/workers list what each serves;
- one of two frozen (SIGSTOP, by pid): the run waits for --load-wait, then
  succeeds with the frozen worker named as lagging; once thawed it catches up;
- a manual rollback during the wait ends it at once, and the outcome says so;
- no inference worker: the run does not wait (a --load-wait of 10 minutes
  would outlast the test's own timeout) and says there was none;
- a worker that hears no events still catches up through SERVING answers;
- malformed SERVING reports are refused naming the problem, change nothing,
  and a peer that reports a stale version is named as lagging;
- a broker SIGKILLed during the wait resumes it after a restart;
- a worker serving its own --model file keeps it until production changes
  (a fake broker that answers SERVING, serving_util.FakeBroker).

Elsewhere the infer workers connect to a gateway endpoint nobody binds:
serving is not under test there, only what they tell the broker. The frozen
one reports every 20 s (--report 20s), so the broker's liveness (3
intervals) cannot expire it while the test runs: it lags rather than
disappears. conftest's procs fixture thaws it before stopping it.
"""
import signal

import msgpack
import requests
import zmq

import wire
from procs import Broker, Gateway, exe, free_endpoint, read_log, start_infer, wait_for
from serving_util import FakeBroker

SOURCE = "synthetic:400:7"
ALWAYS_PROMOTE = ["--margin", "-1"]   # every challenger beats production: every run promotes


def infer_worker(procs, broker, *extra, events=None, gateway=None):
    """An inference worker reporting to broker, behind gateway (default: an
    endpoint nobody binds)."""
    return start_infer(procs, gateway or free_endpoint(), "--broker", broker.control,
                       "--events", events or broker.events, *extra)


def serving(broker):
    """{pid: version} of the inference workers the broker knows."""
    return {w["pid"]: w["model_version"] for w in broker.status()["serving"]}


def retrain(broker, reason):
    run_id = broker.request("RETRAIN", {"source": SOURCE, "reason": reason})["run_id"]
    return broker.wait_run(run_id, timeout=60)


def test_run_ends_once_both_inference_workers_serve_the_new_version(procs):
    broker = Broker(procs, extra=ALWAYS_PROMOTE)
    broker.all_workers(trains=1)
    gw = Gateway(procs, "--broker", broker.control)   # /api/* asks the broker
    url = gw.url
    a, b = infer_worker(procs, broker, gateway=gw.backend), infer_worker(procs, broker, gateway=gw.backend)
    wait_for(lambda: serving(broker) == {a.pid: 0, b.pid: 0}, what="both infer workers reporting")

    out = broker.cli("retrain", "--source", SOURCE, "--wait")
    assert out.returncode == 0, out.stderr
    assert "1-load_model" in out.stdout and "v1 validated; waiting up to 30s for 2 inference workers" in out.stdout
    run = broker.run(1)
    assert run["state"] == "succeeded" and run["promoted"]
    # the outcome is written when the wait ends: both had reported v1 by then
    assert run["outcome"].startswith("promoted v1") and run["outcome"].endswith("; 2 inference workers serve v1")
    load = next(t for t in run["tasks"] if t["task_id"] == "1-load_model")
    assert load["state"] == "done" and load["ended_ms"] >= load["started_ms"]
    assert serving(broker) == {a.pid: 1, b.pid: 1}

    run = retrain(broker, "second")
    assert run["outcome"].startswith("promoted v2") and run["outcome"].endswith("; 2 inference workers serve v2")
    assert serving(broker) == {a.pid: 2, b.pid: 2}

    status = broker.cli("status")
    assert status.returncode == 0, status.stderr
    rows = [line for line in status.stdout.splitlines() if line.startswith("infer ")]
    # infer NAME HOST PID SERVES ...: each worker by its own generated name
    assert sorted(int(r.split()[3]) for r in rows) == sorted([a.pid, b.pid])
    assert all(r.split()[4] == "v2" for r in rows)
    assert len({r.split()[1] for r in rows}) == 2
    # /api/workers: the broker's view (serving) beside the gateway's own
    api = requests.get(url + "/api/workers", timeout=5).json()
    assert {w["pid"]: w["model_version"] for w in api["serving"]} == {a.pid: 2, b.pid: 2}
    wait_for(lambda: {w["pid"]: w["model_version"] for w in requests.get(
        url + "/api/workers", timeout=5).json()["infer_workers"]} == {a.pid: 2, b.pid: 2},
        what="the gateway's own view")   # it hears of a swap on its own socket
    answer = requests.post(url + "/predict", json={"Pclass": 3, "Sex": "male", "Age": 22}, timeout=5)
    assert answer.status_code == 200 and answer.json()["model_version"] == 2


def test_frozen_inference_worker_is_waited_for_then_named_as_lagging(procs):
    broker = Broker(procs, extra=ALWAYS_PROMOTE + ["--load-wait", "2s"])
    broker.all_workers(trains=1)
    live = infer_worker(procs, broker, "--report", "20s")
    frozen = infer_worker(procs, broker, "--report", "20s")
    wait_for(lambda: len(serving(broker)) == 2, what="both infer workers reporting")
    run = retrain(broker, "first")
    assert run["outcome"].endswith("; 2 inference workers serve v1"), run["outcome"]

    frozen.send_signal(signal.SIGSTOP)
    try:
        run = retrain(broker, "second")
        assert run["state"] == "succeeded" and run["promoted"] and run["version"] == 2
        name = next(w["name"] for w in broker.status()["serving"] if w["pid"] == frozen.pid)
        assert run["outcome"].endswith(
            "; after 2s 1 of 2 inference workers lag: %s serves v1" % name), run["outcome"]
        assert serving(broker) == {live.pid: 2, frozen.pid: 1}
        assert "load wait run=2 over: after 2s 1 of 2 inference workers lag" in read_log(broker.proc)
    finally:
        frozen.send_signal(signal.SIGCONT)
    # thawed, it finds the queued `model` event and catches up
    wait_for(lambda: serving(broker) == {live.pid: 2, frozen.pid: 2}, what="thawed worker serving v2")


def test_manual_rollback_during_the_wait_ends_it(procs):
    """A wait for v2 that a manual rollback to v1 makes moot ends at once
    (not after --load-wait), and the run's outcome says what happened."""
    broker = Broker(procs, extra=ALWAYS_PROMOTE + ["--load-wait", "10m"])
    broker.all_workers(trains=1)
    infer_worker(procs, broker, "--report", "20s")
    frozen = infer_worker(procs, broker, "--report", "20s")
    wait_for(lambda: len(serving(broker)) == 2, what="both infer workers reporting")
    assert retrain(broker, "first")["version"] == 1
    frozen.send_signal(signal.SIGSTOP)
    try:
        run_id = broker.request("RETRAIN", {"source": SOURCE, "reason": "second"})["run_id"]
        wait_for(lambda: "load_model waits" in broker.status()["waiting"], timeout=60,
                 what="run 2 waiting for the frozen worker")
        assert broker.run(run_id)["state"] == "running"
        assert broker.request("ROLLBACK", {"reason": "bad v2"})["version"] == 1
        run = broker.wait_run(run_id, timeout=10)   # not the 10 minutes of --load-wait
        assert run["state"] == "succeeded", run
        assert run["outcome"].endswith(
            "; a manual rollback put v1 in production while the inference workers took v2"), run["outcome"]
        assert broker.status()["waiting"] == ""
    finally:
        frozen.send_signal(signal.SIGCONT)
    wait_for(lambda: set(serving(broker).values()) == {1}, what="both workers back on v1")


def test_no_inference_worker_no_wait(procs):
    broker = Broker(procs, extra=["--load-wait", "10m"])
    broker.all_workers(trains=1)
    run = retrain(broker, "alone")   # a 10 minute wait would outlast wait_run's timeout
    assert run["state"] == "succeeded" and run["promoted"]
    assert run["outcome"].endswith("; no inference worker reports to the broker"), run["outcome"]
    assert broker.status()["serving"] == []
    assert "load wait run=1 over: no inference worker reports to the broker" in read_log(broker.proc)


def test_worker_without_events_catches_up_through_serving_answers(procs):
    broker = Broker(procs, extra=ALWAYS_PROMOTE)
    broker.all_workers(trains=1)
    retrain(broker, "first")
    # started after v1 is in production: it fetches v1 at start and has no
    # fetch pending; its events endpoint has no broker behind it
    deaf = infer_worker(procs, broker, events=free_endpoint())
    wait_for(lambda: serving(broker) == {deaf.pid: 1}, what="infer worker serving v1")
    run = retrain(broker, "deaf")
    assert run["outcome"].endswith("; 1 inference worker serves v2"), run["outcome"]
    assert "production is version=2 (no event seen for it): fetching" in read_log(deaf)


def control_socket(broker):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    return sock


def ask(sock, payload):
    """The REPLY body to payload (a SERVING report, or bytes that are not one)."""
    reply = wire.exchange(sock, payload)
    assert reply is not None, "no REPLY"
    return reply


def serving_report(body):
    return wire.pack("SERVING", body)


def test_malformed_reports_are_refused_and_a_stale_peer_lags(procs):
    broker = Broker(procs, extra=ALWAYS_PROMOTE + ["--load-wait", "1s"])
    sock = control_socket(broker)
    good = {"host": "peer", "pid": 4242, "model_version": 0, "interval_ms": 60000}
    cases = [
        ({"host": "peer", "pid": 4242}, 'SERVING: missing required key "model_version"'),
        (dict(good, model_version="1"), "SERVING: model_version: expected int, got str"),
        (dict(good, model_version=-1), "SERVING: model_version: -1 is below 0"),
        (dict(good, pid=-5), "SERVING: pid: -5 is below 0"),
        (dict(good, served=1), 'SERVING: unknown key "served"'),
        (dict(good, host=""), "SERVING: host is empty"),
        (dict(good, pid=0), "SERVING: pid must be a process id > 0, got 0"),
        (dict(good, interval_ms=60001), "SERVING: interval_ms 60001 is over 60000"),
        (dict(good, host=b"peer"), "SERVING: host: expected str, got bin"),
    ]
    for body, needle in cases:
        reply = ask(sock, serving_report(body))
        assert not reply["ok"] and needle in reply["error"], (body, reply)
        assert reply["data"] is None
    assert broker.status()["serving"] == []          # nothing refused was kept
    reply = ask(sock, msgpack.packb([1, "SERVING", {"host": "peer"}, "extra"]))
    assert not reply["ok"] and "4 elements, expected 3" in reply["error"]

    reply = ask(sock, serving_report(good))
    assert reply["ok"] and reply["data"] == {"production_version": 0}
    [entry] = broker.status()["serving"]
    assert (entry["host"], entry["pid"], entry["model_version"]) == ("peer", 4242, 0)

    # a peer that never moves to the promoted version is named when the wait ends
    broker.all_workers(trains=1)
    run = retrain(broker, "stale peer")
    assert run["state"] == "succeeded"
    assert run["outcome"].endswith("; after 1s 1 of 1 inference workers lag: peer:4242 serves v0"), run["outcome"]
    assert ask(sock, serving_report(good))["data"] == {"production_version": 1}
    sock.close()


def test_load_wait_flag_is_checked():
    import subprocess
    out = subprocess.run([exe("mlops-broker"), "--load-wait", "soon"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2 and "--load-wait" in out.stderr
    out = subprocess.run([exe("mlops-broker"), "--help"], capture_output=True, text=True, timeout=10)
    assert "--load-wait DURATION" in out.stdout
    out = subprocess.run([exe("mlops-worker"), "--stage", "infer", "--report", "5"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 2 and "--report: duration '5' has no unit" in out.stderr


def test_broker_restarted_during_the_wait_waits_again(procs):
    # --liveness 10: a restarted broker gives the inference workers 10 s to
    # report before it decides there are none; this test's peer reports at once
    broker = Broker(procs, extra=["--load-wait", "10m", "--liveness", "10"])
    peer = {"host": "peer", "pid": 4242, "model_version": 0, "interval_ms": 60000}
    sock = control_socket(broker)
    assert ask(sock, serving_report(peer))["ok"]
    sock.close()
    broker.all_workers(trains=1)
    run_id = broker.request("RETRAIN", {"source": SOURCE, "reason": "restart"})["run_id"]
    waiting = "%d-load_model waits: 0 of 1 inference workers serve v1" % run_id
    wait_for(lambda: broker.status()["waiting"] == waiting, timeout=30, what="the load wait")
    assert broker.models()["production"] == 1

    broker.kill()   # SIGKILL mid-wait: the task is running in the store, held by no worker
    broker.start()
    sock = control_socket(broker)
    assert ask(sock, serving_report(peer))["ok"]   # a real worker reports every interval
    wait_for(lambda: broker.status()["waiting"] == waiting, timeout=30, what="the wait, resumed")
    run = broker.run(run_id)
    assert run["state"] == "running" and run["promoted"]
    load = next(t for t in run["tasks"] if t["stage"] == "load_model")
    assert load["state"] == "running" and "interrupted by a broker restart" in load["error"]
    assert [v["stage"] for v in broker.models()["versions"]] == ["production"]   # promoted once

    assert ask(sock, serving_report(dict(peer, model_version=1)))["data"] == {"production_version": 1}
    run = broker.wait_run(run_id)
    assert run["state"] == "succeeded" and run["outcome"].endswith("; 1 inference worker serves v1")
    sock.close()


def test_model_file_stays_until_production_changes(procs, brokers, tmp_path):
    """--model FILE with a broker: the first SERVING answer only marks the
    production version (the file stays, as `--model` promises); a later
    change of it, with no event, is fetched."""
    import subprocess
    arts = {}
    for version, seed in ((1, 1), (2, 2), (3, 3)):
        path = str(tmp_path / ("a%d.art" % version))
        r = subprocess.run([exe("mlops"), "train", "--source", "synthetic:300:%d" % seed, "--out", path],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        arts[version] = path
    broker = FakeBroker({v: open(arts[v], "rb").read() for v in (2, 3)}, answer_serving=True)
    brokers.append(broker)
    assert broker.production == 2
    worker = start_infer(procs, free_endpoint(), "--broker", broker.endpoint, "--model", arts[1],
                         "--model-version", "1", "--report", "50ms")

    def reports(version):
        return [b for c, b in list(broker.requests) if c == "SERVING" and b["model_version"] == version]
    wait_for(lambda: len(reports(1)) >= 5, what="several answers naming production v2")
    assert not [b for c, b in broker.requests if c == "GET_MODEL"]   # the file stays
    assert reports(1)[0]["pid"] == worker.pid and reports(1)[0]["interval_ms"] == 50
    broker.production = 3   # no event: only the next SERVING answer tells
    wait_for(lambda: reports(3), what="the worker serving v3")
    assert ("GET_MODEL", {"version": 3}) in broker.requests
    assert "production is version=3 (no event seen for it): fetching" in read_log(worker)
