"""test_canary.py: the gateway's side of a shadow or canary (gateway/README.md
"Canary and shadow"), end to end with a real gateway and a real inference
worker holding two model versions, and a Python broker that answers CANARY
with a rollout state the test sets and records each gateway's reports
(GET_MODEL as serving_util's FakeBroker does, for the worker's pinned
versions). The broker's own side (deciding, promoting, rolling back) is
tests/test_canary_broker.py's.

Covered: the canary's share of requests (binomial bounds, fixed request
ids), stickiness per X-Client-Key (across a gateway restart too, with a
new gateway id), a request its client pinned left alone and not counted,
the report's counters against what clients saw, a candidate that cannot
load counted as errors, a shadow whose answers never reach a client (every
answer is production's, byte for byte as without the shadow) while its
copies are compared, /metrics, GET /api/canary proxied, and a broker that
does not know CANARY (polled once, logged once)."""
import math
import time

import pytest
import requests
import zmq

from procs import Broker, Gateway, read_log, start_infer, wait_for
from serving_util import PASSENGER, FakeBroker, FakeWorker
from test_v2 import artifact  # noqa: F401  (the module's artifact fixture)
from test_v2_pinning import _two_models
from wire import pack, unpack

POLL = "100ms"


def state(rollout="none", version=0, production=1, percent=0.0, started_ms=1000):
    """A CANARY REPLY's data, keys in proto/rollout_io.c's order."""
    return {"rollout": rollout, "version": version, "production": production,
            "percent": float(percent), "started_ms": started_ms, "ends_ms": 0,
            "requests_target": 0, "cand_requests": 0, "cand_errors": 0, "prod_requests": 0,
            "prod_errors": 0, "cand_p99_ms": 0.0, "prod_p99_ms": 0.0, "compared": 0,
            "agreed": 0, "last": ""}


class CanaryBroker(FakeBroker):
    """FakeBroker that also answers CANARY with `state` (or, refuse=True,
    as a broker older than CANARY does) and keeps the CANARY bodies."""

    def __init__(self, artifacts, refuse=False):
        self.state = state()
        self.refuse = refuse
        self.canary = []
        super().__init__(artifacts)

    def _canary_reply(self):
        if self.refuse:
            return {"ok": False, "error": 'unknown command "CANARY" at byte 2', "data": None,
                    "code": "invalid"}
        return {"ok": True, "error": "", "data": self.state, "code": ""}

    def _answer(self, command, body):
        if command != "CANARY":
            return super()._answer(command, body)
        with self.lock:
            self.canary.append(body)
            return pack("REPLY", self._canary_reply(), version=2)

    def set_state(self, **kw):
        with self.lock:
            self.state = state(**kw)

    def reports(self):
        """The reports received, in order."""
        with self.lock:
            return [b["report"] for b in self.canary if b.get("report")]


@pytest.fixture
def setup(procs, artifact, tmp_path):  # noqa: F811
    """A CanaryBroker with versions 1 (production) and 2, a gateway polling
    it every 100 ms, one inference worker that took its signature."""
    a1, a2 = _two_models(tmp_path, artifact)
    broker = CanaryBroker({1: a1, 2: a2})
    gw = Gateway(procs, "--broker", broker.endpoint, "--rollout-poll", POLL)
    start_infer(procs, gw.backend, "--broker", broker.endpoint)
    gw.wait_workers(1, version=1)
    wait_for(lambda: requests.get(gw.url + "/v2/models/titanic", timeout=2).status_code == 200,
             what="signature")
    yield broker, gw
    broker.close()


def metrics(gw):
    return requests.get(gw.url + "/metrics", timeout=5).text


def applied(gw, line):
    wait_for(lambda: line in metrics(gw), what=line)


def warm(gw):
    """The first request of a new rollout warms the candidate up (rollout.h):
    sends it and waits until the warm-up copies are back."""
    assert predict(gw, rid="warm-up").status_code == 200
    applied(gw, "mlops_rollout_warming 0")


def predict(gw, rid=None, key=None, params=None):
    headers = {}
    if rid:
        headers["X-Request-Id"] = rid
    if key:
        headers["X-Client-Key"] = key
    r = requests.post(gw.url + "/predict", json=PASSENGER, headers=headers, params=params, timeout=10)
    return r


def latest_report(broker, cond, what):
    """Waits for a report that satisfies cond; returns it."""
    found = []

    def ok():
        reps = broker.reports()
        if reps and cond(reps[-1]):
            found.append(reps[-1])
            return True
        return False
    wait_for(ok, what=what)
    return found[0]


def test_canary_share_stickiness_and_report(setup, procs):
    broker, gw = setup
    broker.set_state(rollout="canary", version=2, production=1, percent=30)
    applied(gw, 'mlops_rollout_info{rollout="canary",version="2",percent="30"} 1')
    warm(gw)
    n, versions = 200, {1: 0, 2: 0}
    for i in range(n):
        r = predict(gw, rid="share-%04d" % i)
        assert r.status_code == 200, r.text
        versions[r.json()["model_version"]] += 1
    sd = math.sqrt(n * 0.3 * 0.7)
    assert abs(versions[2] - n * 0.3) < 5 * sd, versions
    # sticky per client key: each key always gets the same version
    seen = {}
    for key in ("alice", "bob", "carol", "dave", "erin", "frank"):
        got = {predict(gw, key=key).json()["model_version"] for _ in range(5)}
        assert len(got) == 1, (key, got)
        seen[key] = got.pop()
    # a pinned request is the client's choice: not routed, not counted
    assert predict(gw, params={"version": "1"}).json()["model_version"] == 1
    cand = versions[2] + sum(5 for v in seen.values() if v == 2)
    prod = versions[1] + sum(5 for v in seen.values() if v == 1) + 1   # and the warm-up
    rep = latest_report(broker, lambda r: r["cand"]["requests"] + r["prod"]["requests"] == n + 31,
                        "a report of every request")
    assert rep["version"] == 2
    assert (rep["cand"]["requests"], rep["prod"]["requests"]) == (cand, prod)
    assert rep["cand"]["errors"] == 0 and rep["prod"]["errors"] == 0
    assert rep["cand"]["p99_ms"] > 0 and rep["prod"]["p99_ms"] > 0
    assert 'mlops_rollout_requests_total{side="cand"} %d' % cand in metrics(gw)
    ids = {b["gateway"] for b in broker.canary}
    assert len(ids) == 1 and ids.pop().startswith("gw-")

    # a restarted gateway has a new id and routes each key as before
    first_id = broker.canary[-1]["gateway"]
    procs.kill(gw.proc)
    gw2 = Gateway(procs, "--broker", broker.endpoint, "--rollout-poll", POLL,
                  port=gw.port, backend_port=gw.backend_port)
    gw2.wait_workers(1)
    applied(gw2, 'mlops_rollout_info{rollout="canary",version="2",percent="30"} 1')
    warm(gw2)
    wait_for(lambda: broker.canary[-1]["gateway"] != first_id, what="the new gateway's poll")
    for key, version in seen.items():
        assert predict(gw2, key=key).json()["model_version"] == version, key


def test_candidate_that_cannot_load_counts_errors(setup):
    broker, gw = setup
    broker.set_state(rollout="canary", version=9, production=1, percent=100)
    applied(gw, 'mlops_rollout_info{rollout="canary",version="9",percent="100"} 1')
    warm(gw)   # its warm-up copy failed to load v9: warming is over all the same
    for i in range(4):
        r = predict(gw, rid="err-%d" % i)
        assert r.status_code == 404 and "no version 9" in r.json()["detail"], r.text
    rep = latest_report(broker, lambda r: r["cand"]["requests"] == 4, "4 candidate answers")
    assert rep["cand"]["errors"] == 4 and rep["prod"]["requests"] == 1   # the warm-up


def test_shadow_answers_never_reach_clients(setup):
    broker, gw = setup
    plain = [predict(gw, rid="plain-%d" % i) for i in range(5)]
    broker.set_state(rollout="shadow", version=2, production=1, started_ms=2000)
    applied(gw, 'mlops_rollout_info{rollout="shadow",version="2",percent="0"} 1')
    warm(gw)   # a shadow warms up too: its first request is not copied
    n = 40
    for i in range(n):
        r = predict(gw, rid="plain-%d" % (i % 5))
        assert r.status_code == 200 and r.json()["model_version"] == 1
        assert r.content == plain[i % 5].content   # production's answer, byte for byte
    batch = requests.post(gw.url + "/predict/batch", json={"instances": [PASSENGER] * 3}, timeout=10)
    assert batch.status_code == 200 and batch.json()["model_version"] == 1
    rep = latest_report(broker, lambda r: r["cand"]["requests"] + r["skipped"] == n + 1,
                        "every copy answered or skipped")
    assert rep["version"] == 2 and rep["prod"]["requests"] == n + 2
    copies = rep["cand"]["requests"]
    assert copies > 0   # one worker with 32 credits and one request at a time: room for copies
    assert rep["cand"]["errors"] == 0
    # each copy's records were compared with production's (a batch is 3)
    assert rep["compared"] in (copies, copies + 2) and 0 <= rep["agreed"] <= rep["compared"]
    text = metrics(gw)
    assert 'mlops_rollout_shadow_total{result="compared"} %d' % rep["compared"] in text
    assert "mlops_gateway_late_answers_total 0" in text   # no copy answer went astray


def test_api_canary_is_proxied(setup):
    broker, gw = setup
    broker.set_state(rollout="shadow", version=2, production=1)
    r = requests.get(gw.url + "/api/canary", timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rollout"] == "shadow" and body["version"] == 2 and body["production"] == 1
    asked = [b for b in broker.canary if not b.get("gateway")]
    assert asked and "report" not in asked[-1]   # a reader, not a gateway: no report
    assert requests.post(gw.url + "/api/canary", json={}, timeout=5).status_code == 405


def test_broker_without_canary_is_asked_once(procs):
    broker = CanaryBroker({1: b"unused"}, refuse=True)
    try:
        gw = Gateway(procs, "--broker", broker.endpoint, "--rollout-poll", POLL)
        wait_for(lambda: "does not know CANARY" in read_log(gw.proc), what="the log line")
        time.sleep(1.0)   # ten poll intervals: none may go
        assert len(broker.canary) == 1
        assert read_log(gw.proc).count("does not know CANARY") == 1
        assert 'mlops_rollout_info{rollout="none",version="0",percent="0"} 1' in metrics(gw)
    finally:
        broker.close()


def test_rollout_poll_zero_asks_nothing(procs):
    broker = CanaryBroker({1: b"unused"})
    try:
        gw = Gateway(procs, "--broker", broker.endpoint, "--rollout-poll", "0")
        assert requests.get(gw.url + "/api/canary", timeout=5).status_code == 200   # reaches it
        time.sleep(0.5)
        assert [b.get("gateway", "") for b in broker.canary] == [""]   # only that read
    finally:
        broker.close()


# --- with the real broker ------------------------------------------------------
# The broker decides (tests/test_canary_broker.py checks its margins with
# fabricated reports); here real gateways report what they counted.

SOURCE = "synthetic:400:7"


class PinningWorker(FakeWorker):
    """A Python inference worker that takes pinned PREDICTs (it sends
    SIGNATURE) and answers each pinned to `failing` with ERROR 500: a
    candidate that breaks on live traffic."""

    def __init__(self, endpoint, version, failing):
        self.failing = failing
        super().__init__(endpoint, version=version, pins=True)

    def _answer(self, sock, body):
        if body.get("version") == self.failing:
            sock.send(pack("ERROR", {"req_id": body["req_id"], "status": 500,
                                     "message": "candidate broke"}))
            return
        super()._answer(sock, body)


def control(broker, command, body):
    """The REPLY body to one MLOPS/2 control request."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    try:
        sock.send(pack(command, body, version=2))
        assert sock.poll(5000), command
        return unpack(sock.recv())[1]
    finally:
        sock.close()


def rollout(broker):
    return control(broker, "CANARY", {})["data"]


@pytest.fixture
def real(procs):
    """A real broker with three versions (v3 in production, v1 and v2
    archived), skipped when it predates CANARY."""
    broker = Broker(procs, extra=["--margin", "-1"])   # every run promotes
    if not control(broker, "CANARY", {})["ok"]:
        pytest.skip("this broker does not know CANARY (the broker side of #19 is not in this tree)")
    broker.all_workers(trains=1)
    for reason in ("first", "second", "third"):
        run_id = broker.request("RETRAIN", {"source": SOURCE, "reason": reason})["run_id"]
        assert broker.wait_run(run_id, timeout=90)["state"] == "succeeded"
    assert broker.models()["production"] == 3
    return broker


def drive(gw, until, what, prefix):
    """Sends /predict with fresh request ids until until() holds; the statuses."""
    statuses = []

    def step():
        for _ in range(5):
            statuses.append(predict(gw, rid="%s-%d" % (prefix, len(statuses))).status_code)
        return until()
    wait_for(step, timeout=60, what=what)
    return statuses


def test_real_broker_rolls_back_a_failing_candidate(procs, real):
    gw = Gateway(procs, "--broker", real.control, "--rollout-poll", POLL)
    worker = PinningWorker(gw.backend, version=3, failing=1)
    try:
        gw.wait_workers(1, version=3)
        started = control(real, "PROMOTE", {"version": 1, "reason": "try", "canary_percent": 50.0,
                                            "canary_requests": 30})
        assert started["ok"], started
        applied(gw, 'mlops_rollout_info{rollout="canary",version="1",percent="50"} 1')
        warm(gw)
        statuses = drive(gw, lambda: rollout(real)["rollout"] == "none", "the canary's end", "bad")
        assert set(statuses) == {200, 500}   # the candidate's clients saw its failures
        last = rollout(real)["last"]
        assert last.startswith("rolled back v1: canary 50% for 30 requests: error rate ") \
            and last.endswith("> 0% + 1 point"), last
        assert real.models()["production"] == 3
        applied(gw, 'mlops_rollout_info{rollout="none",version="0",percent="0"} 1')
        assert {predict(gw, rid="after-%d" % i).status_code for i in range(10)} == {200}
    finally:
        worker.close()


def test_real_broker_promotes_a_sound_canary_across_a_gateway_restart(procs, real):
    gw = Gateway(procs, "--broker", real.control, "--rollout-poll", POLL)
    start_infer(procs, gw.backend, "--broker", real.control)
    gw.wait_workers(1, version=3)
    # 200 requests: p99 then leaves out the two slowest, so a hiccup of the
    # shared machine on one candidate request does not decide the test
    assert control(real, "PROMOTE", {"version": 2, "reason": "try", "canary_percent": 50.0,
                                     "canary_requests": 200})["ok"]
    applied(gw, 'mlops_rollout_info{rollout="canary",version="2",percent="50"} 1')
    warm(gw)
    drive(gw, lambda: rollout(real)["cand_requests"] >= 60, "60 candidate requests", "one")
    counted = rollout(real)["cand_requests"]
    procs.kill(gw.proc)   # its last report stays counted at the broker
    gw2 = Gateway(procs, "--broker", real.control, "--rollout-poll", POLL,
                  port=gw.port, backend_port=gw.backend_port)
    gw2.wait_workers(1)
    applied(gw2, 'mlops_rollout_info{rollout="canary",version="2",percent="50"} 1')
    warm(gw2)
    assert rollout(real)["cand_requests"] >= counted   # the restart lost nothing reported
    statuses = drive(gw2, lambda: rollout(real)["rollout"] == "none", "the canary's end", "two")
    assert set(statuses) == {200}
    assert rollout(real)["last"].startswith("promoted v2: canary 50% for 200 requests"), rollout(real)
    wait_for(lambda: predict(gw2).json()["model_version"] == 2, what="v2 served")


def test_real_broker_shadow_is_compared_and_never_answers(procs, real):
    gw = Gateway(procs, "--broker", real.control, "--rollout-poll", POLL)
    start_infer(procs, gw.backend, "--broker", real.control)
    gw.wait_workers(1, version=3)
    assert control(real, "PROMOTE", {"version": 1, "reason": "look", "shadow": True})["ok"]
    applied(gw, 'mlops_rollout_info{rollout="shadow",version="1",percent="0"} 1')
    warm(gw)
    versions = set()

    def compared():
        for i in range(5):
            versions.add(predict(gw, rid="sh-%d" % i).json()["model_version"])
        return rollout(real)["compared"] >= 20
    wait_for(compared, timeout=60, what="20 records compared at the broker")
    assert versions == {3}   # only production answered clients
    s = rollout(real)
    assert s["cand_requests"] >= 20 and s["cand_errors"] == 0 and 0 <= s["agreed"] <= s["compared"]
    assert control(real, "ROLLBACK", {"reason": "seen enough"})["ok"]
    applied(gw, 'mlops_rollout_info{rollout="none",version="0",percent="0"} 1')
    assert real.models()["production"] == 3
