"""test_canary_broker.py: the broker's side of canary and shadow rollouts
(PROTOCOL.md, PROMOTE "Rollouts" and CANARY) through a real broker, its
stage workers and the CLI. The gateways are played by this test: it sends
CANARY requests with fabricated counters, as a gateway does once a second.
(tests/test_canary.py runs a real gateway.)

Each test builds two versions with two runs (every challenger promotes:
--margin -1), so v2 is in production and v1 archived, then rolls one out.
"""
import zmq

import wire
from procs import Broker, wait_for

SOURCE = "synthetic:400:7"
ALWAYS_PROMOTE = ["--margin", "-1"]


def send(broker, command, body):
    """The REPLY body to one MLOPS/2 control request (CANARY and PROMOTE's
    rollout keys need the version-2 envelope)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    try:
        return wire.exchange(sock, wire.pack(command, body, version=2))
    finally:
        sock.close()


def ok(broker, command, body):
    return wire.data(send(broker, command, body), command)


def refused(broker, command, body, code, words):
    reply = send(broker, command, body)
    assert reply is not None and not reply["ok"], reply
    assert reply["code"] == code and words in reply["error"], reply
    return reply["error"]


def side(requests, errors=0, p99=3.0, labelled=0, metric=float("nan")):
    return {"requests": requests, "errors": errors, "p99_ms": p99, "labelled": labelled,
            "metric": metric}


def report(broker, gateway, version, cand, prod, compared=0, agreed=0):
    """A gateway's CANARY with its counters; the broker's state back."""
    return ok(broker, "CANARY", {"gateway": gateway, "report": {
        "version": version, "prod": prod, "cand": cand, "compared": compared, "agreed": agreed,
        "skipped": 0}})


def state(broker):
    return ok(broker, "CANARY", {})


def two_versions(broker):
    """Two runs: v2 in production, v1 archived."""
    broker.all_workers(trains=1)
    for reason in ("first", "second"):
        run_id = broker.request("RETRAIN", {"source": SOURCE, "reason": reason})["run_id"]
        assert broker.wait_run(run_id, timeout=60)["state"] == "succeeded"
    assert broker.models()["production"] == 2


def version(broker, v):
    return next(x for x in broker.models()["versions"] if x["version"] == v)


def audit(broker):
    return ok(broker, "AUDIT", {})["audit"]


def test_canary_promotes_on_good_figures_and_bad_requests_are_refused(procs):
    broker = Broker(procs, extra=ALWAYS_PROMOTE)
    two_versions(broker)
    assert state(broker)["rollout"] == "none" and state(broker)["production"] == 2

    canary = {"version": 1, "reason": "", "canary_percent": 50.0, "canary_requests": 40}
    refused(broker, "PROMOTE", dict(canary, canary_percent=150.0), "invalid", "not in (0, 100]")
    refused(broker, "PROMOTE", dict(canary, canary_percent=float("nan")), "invalid", "not in (0, 100]")
    refused(broker, "PROMOTE", dict(canary, shadow=True), "invalid", "exclude each other")
    refused(broker, "PROMOTE", dict(canary, canary_for_ms=60000), "invalid",
            "canary_for_ms and canary_requests exclude each other")
    refused(broker, "PROMOTE", {"version": 1, "shadow": True, "canary_for_ms": 5},
            "invalid", "canary_for_ms needs canary_percent")
    refused(broker, "PROMOTE", dict(canary, version=99), "not_found", "no version 99 in the registry")
    refused(broker, "PROMOTE", dict(canary, version=2), "conflict", "v2 is in production itself")

    answer = ok(broker, "PROMOTE", canary)
    assert answer == {"version": 1, "previous": 2, "rollout": "canary"}
    refused(broker, "PROMOTE", {"version": 1, "shadow": True}, "conflict",
            "v1 is in canary: end it first with mlops rollback")
    s = state(broker)
    assert (s["rollout"], s["version"], s["production"], s["percent"], s["requests_target"],
            s["ends_ms"]) == ("canary", 1, 2, 50.0, 40, 0)
    refused(broker, "CANARY", {"report": {"version": 1, "prod": side(1), "cand": side(1),
                                          "compared": 0, "agreed": 0, "skipped": 0}},
            "invalid", "needs the gateway's id")
    refused(broker, "CANARY", {"gateway": "gw-x", "report": {"version": 1}}, "invalid", "report: ")

    # two gateways, each with its latest counters: summed, p99 the largest
    s = report(broker, "gw-a", 1, side(20, p99=4.0), side(20, p99=3.0))
    assert s["cand_requests"] == 20 and s["rollout"] == "canary"
    s = report(broker, "gw-b", 1, side(10, p99=6.0), side(10, errors=1, p99=3.5))
    assert (s["cand_requests"], s["prod_requests"], s["prod_errors"], s["cand_p99_ms"]) == \
        (30, 30, 1, 6.0)
    assert broker.models()["production"] == 2     # 30 of 40 requests: still going
    report(broker, "gw-a", 1, side(30, p99=4.0), side(30, p99=3.0))   # 40: the period is over

    wait_for(lambda: broker.models()["production"] == 1, what="the canary promoted")
    s = state(broker)
    assert s["rollout"] == "none" and s["production"] == 1
    assert s["last"].startswith("promoted v1: canary 50% for 40 requests: errors 0% vs 2.5%, p99 6.0 vs 3.5 ms")
    entry = audit(broker)[-1]
    assert (entry["action"], entry["version"], entry["previous"]) == ("promote", 1, 2)
    assert entry["reason"].startswith("canary: 50% for 40 requests: errors 0%")
    # a late report of the ended rollout counts for nothing
    assert report(broker, "gw-a", 1, side(99), side(99))["cand_requests"] == 0


def test_canary_rolls_back_on_bad_figures_across_a_broker_restart(procs):
    broker = Broker(procs, extra=ALWAYS_PROMOTE)
    two_versions(broker)
    # a time-boxed canary: long enough to restart the broker within it
    ok(broker, "PROMOTE", {"version": 1, "reason": "try", "canary_percent": 10.0,
                           "canary_for_ms": 6000})
    before = state(broker)
    report(broker, "gw-a", 1, side(40, errors=20), side(400, errors=1))

    broker.kill()   # SIGKILL: the rollout is in the store, the reports were in memory
    broker.start()
    after = state(broker)
    assert (after["rollout"], after["version"], after["started_ms"], after["ends_ms"]) == \
        (before["rollout"], before["version"], before["started_ms"], before["ends_ms"])
    assert after["cand_requests"] == 0
    # the gateway reports again (cumulative counters), as it does every second
    assert report(broker, "gw-a", 1, side(50, errors=25), side(450, errors=1))["cand_requests"] == 50

    wait_for(lambda: state(broker)["rollout"] == "none", timeout=30, what="the canary's end")
    assert broker.models()["production"] == 2
    s = state(broker)
    assert s["last"] == "rolled back v1: canary 10% for 6s: error rate 50% > 0.22% + 1 point", s
    v1 = version(broker, 1)
    assert v1["stage"] == "archived"
    assert v1["reason"] == "rolled back: canary: 10% for 6s: error rate 50% > 0.22% + 1 point"
    entry = audit(broker)[-1]
    assert (entry["action"], entry["version"], entry["previous"]) == ("rollback", 1, 2)
    assert entry["reason"].startswith("canary: 10% for 6s: error rate 50%")

    # too little evidence: a canary that saw 5 requests is rolled back
    ok(broker, "PROMOTE", {"version": 1, "canary_percent": 10.0, "canary_for_ms": 1000})
    report(broker, "gw-b", 1, side(5), side(50))
    wait_for(lambda: state(broker)["rollout"] == "none", timeout=30, what="the short canary's end")
    assert state(broker)["last"] == "rolled back v1: canary 10% for 1s: too little evidence: 5 requests"
    assert broker.models()["production"] == 2


def test_rollback_ends_a_rollout_and_promote_via_starts_one(procs):
    broker = Broker(procs, extra=ALWAYS_PROMOTE + ["--promote-via", "canary:25%:1h"])
    broker.all_workers(trains=1)
    first = broker.wait_run(broker.request("RETRAIN", {"source": SOURCE})["run_id"], timeout=60)
    assert first["outcome"].startswith("promoted v1")   # nothing in production: direct
    second = broker.wait_run(broker.request("RETRAIN", {"source": SOURCE})["run_id"], timeout=60)
    assert second["state"] == "succeeded" and not second["promoted"]
    assert second["outcome"].startswith("canary of v2 started (25% for 1h): ")
    s = state(broker)
    assert (s["rollout"], s["version"], s["production"], s["percent"]) == ("canary", 2, 1, 25.0)

    # mlops rollback ends the canary at once; production stays
    done = broker.cli("rollback", "--reason", "not today")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ended the canary of v2; production stays v1"
    assert broker.models()["production"] == 1 and state(broker)["rollout"] == "none"
    assert audit(broker)[-1]["reason"] == "canary: 25% for 1h: ended by ROLLBACK: not today"
    assert version(broker, 2)["stage"] == "archived"

    # a shadow through the CLI, its agreement figures, mlops canary's table
    bad = broker.cli("promote", "2", "--canary", "150%")
    assert bad.returncode == 2 and "canary percentage '150%' is not a number in (0, 100]" in bad.stderr
    for args, words in ((("--shadow", "--canary", "5%"), "--shadow and --canary exclude each other"),
                        (("--canary", "5%", "--for", "1m", "--requests", "9"),
                         "--for and --requests exclude each other"),
                        (("--for", "1m"), "--for needs --canary")):
        bad = broker.cli("promote", "2", *args)
        assert bad.returncode == 2 and words in bad.stderr, bad.stderr
    started = broker.cli("promote", "v2", "--shadow")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "shadow of v2 started; production stays v1 (mlops canary shows it)"
    again = broker.cli("promote", "2", "--canary", "5%")
    assert again.returncode == 1 and "v2 is in shadow: end it first with mlops rollback" in again.stderr
    report(broker, "gw-a", 2, side(100, p99=9.0), side(100), compared=100, agreed=97)
    table = broker.cli("canary")
    assert table.returncode == 0, table.stderr
    assert "shadow of v2 (its answers go to no client); production v1" in table.stdout
    assert "compared 100, agreed 97 (97%)" in table.stdout
    assert "last: rolled back v2: canary 25% for 1h: ended by ROLLBACK: not today" in table.stdout

    # a plain PROMOTE of the candidate ends its shadow: promoted, not rolled back
    ok(broker, "PROMOTE", {"version": 2, "reason": "by hand"})
    assert state(broker)["last"] == "promoted v2: shadow: promoted by hand"
    assert broker.models()["production"] == 2
