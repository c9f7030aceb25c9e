"""test_serving_reap.py: the broker's table of inference workers (broker/fleet.c)
forgets a worker that stops sending SERVING after liveness x the interval
it promised (PROTOCOL.md 5.2, SERVING), and refuses a promise longer than a
minute, so no report keeps a dead worker counted for long (issue 15, point 6).

A fake reporter, a DEALER on the broker's control socket, reports twice
with interval_ms 200 and then stops: it is in STATUS while it reports, and
gone (with the broker's "inference worker lost" line naming it) once its
liveness is used up; a live one that keeps reporting stays.
"""
import wire
from procs import Broker, read_log, wait_for
from test_load_wait import ask, control_socket, serving_report


def names(broker):
    return sorted(w["name"] for w in broker.status()["serving"])


def report(sock, name, interval_ms):
    body = {"host": "fake", "pid": 4242, "model_version": 0, "interval_ms": interval_ms, "name": name}
    return ask(sock, wire.pack("SERVING", body, version=2))


def test_a_reporter_that_stops_is_forgotten_after_liveness_intervals(procs):
    broker = Broker(procs)
    quiet, steady = control_socket(broker), control_socket(broker)
    for _ in range(2):
        assert report(quiet, "quiet-1", 200)["ok"]
    assert report(steady, "steady-1", 1000)["ok"]
    assert names(broker) == ["quiet-1", "steady-1"]

    # quiet stops; steady keeps its promise until quiet is gone
    def quiet_gone():
        assert report(steady, "steady-1", 1000)["ok"]
        return names(broker) == ["steady-1"]
    wait_for(quiet_gone, what="the silent reporter forgotten", step=0.2)
    log = read_log(broker.proc)
    assert "inference worker lost name=quiet-1 host=fake pid=4242 version=0 (silent for 600 ms)" in log
    assert "name=steady-1" not in log.split("inference worker lost", 1)[1]
    quiet.close()
    steady.close()


def test_a_promise_over_a_minute_is_refused(procs):
    broker = Broker(procs)
    sock = control_socket(broker)
    reply = report(sock, "lazy-1", 10 * 60 * 1000)
    assert not reply["ok"] and reply["code"] == "invalid", reply
    assert "SERVING: interval_ms 600000 is over 60000" in reply["error"]
    assert broker.status()["serving"] == []
    assert report(sock, "lazy-1", 60000)["ok"]     # the bound itself is taken
    assert names(broker) == ["lazy-1"]
    reply = ask(sock, serving_report({"host": "old", "pid": 7, "model_version": 0, "interval_ms": 60001}))
    assert not reply["ok"] and "interval_ms 60001 is over 60000" in reply["error"]
    sock.close()
