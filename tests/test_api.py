"""test_api.py: the gateway's /api endpoints and its admin token.

A real broker (empty store, no stage workers) behind a real gateway for the
reads, the actions and the broker's refusals; a scripted fake broker for the
answers a real one does not give (a failure of its own, a reply that is not
a map, a silent broker); a fake inference worker for `infer_workers`.
Every process on 127.0.0.1 with free ports, stopped by pid at the end.
"""
import os
import threading
import time

import pytest
import requests
import zmq

from procs import Broker, Gateway, bind_free, exe, free_endpoint, wait_for
from serving_util import FakeWorker
from wire import pack, unpack

TOKEN = "s3cret-token"
NO_SYNC = ["--no-sync"]    # a real broker with an empty store; its durability is not under test here
NO_POLL = ["--rollout-poll", "0"]   # a scripted broker answers in order: no CANARY may take a turn


class ScriptedBroker:
    """A control ROUTER that answers each request with the next scripted
    REPLY body (raw bytes for a payload that is not one), recording what it
    got; None in the script means: stay silent."""

    def __init__(self, script):
        self.script = list(script)
        self.got = []
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = bind_free(self.sock)
        self.endpoint = "tcp://127.0.0.1:%d" % port
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            if not self.sock.poll(50):
                continue
            frames = self.sock.recv_multipart()
            self.got.append(unpack(frames[-1]))
            answer = self.script.pop(0) if self.script else None
            if answer is None:
                continue
            frames[-1] = answer if isinstance(answer, bytes) else pack("REPLY", answer)
            self.sock.send_multipart(frames)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        self.ctx.term()


@pytest.fixture
def scripted():
    made = []

    def make(script):
        made.append(ScriptedBroker(script))
        return made[-1]
    yield make
    for b in made:
        b.close()


def auth(token):
    return {"Authorization": "Bearer " + token}


JSON = {"Content-Type": "application/json"}   # the /api actions take nothing else (test_http_guard.py)


def test_reads_answer_the_broker_data_as_json(procs, tmp_path, workers):
    broker = Broker(procs, NO_SYNC)
    gw = Gateway(procs, "--broker", broker.control)
    wait_for(lambda: requests.get(gw.url + "/api/runs", timeout=5).status_code == 200,
             what="broker answering")
    runs = requests.get(gw.url + "/api/runs", timeout=5)
    assert runs.headers["Content-Type"] == "application/json"
    assert runs.json() == {"runs": []}
    assert requests.get(gw.url + "/api/models", timeout=5).json() == {"production": 0, "versions": []}
    workers.append(FakeWorker(gw.backend, version=4, host="box-7"))
    gw.wait_workers(1)
    status = requests.get(gw.url + "/api/workers", timeout=5).json()
    assert status["workers"] == [] and status["production_version"] == 0 and "waiting" in status
    [infer] = status["infer_workers"]
    assert infer["stage"] == "infer" and infer["host"] == "box-7" and infer["pid"] == os.getpid()
    assert infer["model_version"] == 4 and infer["state"] == "idle"
    assert abs(infer["last_seen_ms"] - time.time() * 1000) < 60000   # wall clock, not monotonic


def test_actions_need_the_admin_token(procs, tmp_path):
    broker = Broker(procs, NO_SYNC)
    gw = Gateway(procs, "--broker", broker.control, "--admin-token", TOKEN)
    url = gw.url + "/api/retrain"
    r = requests.post(url, json={}, timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in r.json()["detail"]
    assert requests.post(url, json={}, headers={"Authorization": "Basic eDp5"}, timeout=5).status_code == 401
    for wrong in ("wrong", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        r = requests.post(url, json={}, headers=auth(wrong), timeout=5)
        assert r.status_code == 403 and "not the right one" in r.json()["detail"], wrong
        assert "WWW-Authenticate" not in r.headers
    for path in ("/api/promote", "/api/rollback"):
        assert requests.post(gw.url + path, json={"version": 1}, timeout=5).status_code == 401
        assert requests.post(gw.url + path, json={"version": 1}, headers=auth("no"), timeout=5).status_code == 403
    #  nothing was started by the refused requests
    assert requests.get(gw.url + "/api/runs", headers=auth(TOKEN), timeout=5).json() == {"runs": []}
    r = requests.post(url, json={"source": "synthetic:200", "reason": "from the test"},
                      headers=auth(TOKEN), timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["run_id"] >= 1 and body["state"] in ("queued", "running")
    [run] = requests.get(gw.url + "/api/runs", headers=auth(TOKEN), timeout=5).json()["runs"]
    assert run["id"] == body["run_id"] and run["reason"] == "from the test"
    assert run["source"] == "synthetic:200"
    #  reads take the token too; predictions stay open
    assert requests.get(gw.url + "/api/models", timeout=5).status_code == 401
    assert requests.get(gw.url + "/api/models", headers=auth(TOKEN), timeout=5).status_code == 200
    assert requests.get(gw.url + "/api/workers", headers=auth(TOKEN), timeout=5).status_code == 200
    assert requests.post(gw.url + "/predict", json={"Age": 3}, timeout=5).status_code == 503


def test_token_from_the_environment(procs, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_ADMIN_TOKEN", TOKEN)
    broker = Broker(procs, NO_SYNC)
    gw = Gateway(procs, "--broker", broker.control)
    assert requests.post(gw.url + "/api/rollback", json={}, timeout=5).status_code == 401
    assert requests.post(gw.url + "/api/rollback", json={}, headers=auth("x"), timeout=5).status_code == 403
    r = requests.post(gw.url + "/api/rollback", json={}, headers=auth(TOKEN), timeout=5)
    assert r.status_code == 409 and "roll back" in r.json()["detail"]


def test_refusals_and_bad_bodies(procs, tmp_path):
    broker = Broker(procs, NO_SYNC)
    gw = Gateway(procs, "--broker", broker.control)

    def post(path, data=None, **kw):
        return requests.post(gw.url + path, data=data, headers=JSON, timeout=5, **kw)
    r = post("/api/promote", json={"version": 99, "reason": "x"})
    assert r.status_code == 404 and "no version 99" in r.json()["detail"]
    r = post("/api/rollback")
    assert r.status_code == 409 and "roll back" in r.json()["detail"]
    r = post("/api/promote", data=b'{"version": 1,')
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    cases = [({}, '"version" is required'), ({"version": "2"}, '"version" must be a whole number'),
             ({"version": 0}, ">= 1"), ({"version": 2.5}, "whole number"),
             ({"version": 2, "reasn": "typo"}, 'unknown key "reasn"'),
             ({"version": 2, "reason": 5}, '"reason" must be a string')]
    for body, why in cases:
        r = post("/api/promote", json=body)
        assert r.status_code == 422 and why in r.json()["detail"], (body, r.text)
    r = post("/api/retrain", json=["synthetic"])
    assert r.status_code == 422 and "JSON object" in r.json()["detail"]
    r = post("/api/retrain", json={"source": 3})
    assert r.status_code == 422 and '"source"' in r.json()["detail"]
    r = post("/api/retrain", data=b"x" * (70 << 10))
    assert r.status_code == 413
    r = requests.get(gw.url + "/api/retrain", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    r = post("/api/runs")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    r = requests.get(gw.url + "/api/nothing", timeout=5)
    assert r.status_code == 404 and "/api/runs" in r.json()["detail"]
    #  none of this reached the registry
    assert requests.get(gw.url + "/api/runs", timeout=5).json() == {"runs": []}


def test_requests_sent_and_answers_passed_on(procs, scripted):
    b = scripted([
        {"ok": True, "error": "", "data": {"version": 3, "previous": 2}},
        {"ok": False, "error": "store: MDB_MAP_FULL", "data": None},
        {"ok": True, "error": "", "data": [1, 2]},
        b"\x93\x01",   # not an MLOPS/1 message at all
        {"ok": True, "error": "", "data": {"runs": [{"id": 1, "tasks": [], "x": b"\x00\x01"}]}},
    ])
    gw = Gateway(procs, "--broker", b.endpoint, *NO_POLL)
    r = requests.post(gw.url + "/api/promote", json={"version": 3, "reason": "better"}, timeout=5)
    assert r.status_code == 200 and r.json() == {"version": 3, "previous": 2}
    assert b.got[0] == ("PROMOTE", {"version": 3, "reason": "better"})
    r = requests.post(gw.url + "/api/retrain", headers=JSON, timeout=5)   # an empty body
    assert r.status_code == 502 and r.json()["detail"] == "store: MDB_MAP_FULL"
    assert b.got[1] == ("RETRAIN", {"source": "", "reason": ""})
    r = requests.get(gw.url + "/api/models", timeout=5)
    assert r.status_code == 502 and "not a map" in r.json()["detail"]
    assert b.got[2] == ("MODELS", {})
    r = requests.get(gw.url + "/api/workers", timeout=5)
    assert r.status_code == 502 and "not a REPLY" in r.json()["detail"]
    assert b.got[3] == ("STATUS", {})
    r = requests.get(gw.url + "/api/runs", timeout=5)
    assert r.status_code == 200 and r.json() == {"runs": [{"id": 1, "tasks": [], "x": {"bin_bytes": 2}}]}
    assert b.got[4] == ("RUNS", {"limit": 20})


def test_refusal_status_follows_the_reply_code(procs, scripted):
    # the same sentence under each code: the code decides, not the words
    answers = [
        {"ok": False, "error": "no luck", "data": None, "code": "conflict"},
        {"ok": False, "error": "no luck", "data": None, "code": "invalid"},
        {"ok": False, "error": "store: MDB_MAP_FULL", "data": None, "code": "unavailable"},
        {"ok": False, "error": "no version 9", "data": None, "code": "not_found"},
        {"ok": False, "error": "nothing to roll back", "data": None, "code": "not_found"},
        {"ok": False, "error": "no luck", "data": None, "code": "on_fire"},
        {"ok": False, "error": "no version 9", "data": None},   # an older broker: no code
    ]
    b = scripted(answers)
    gw = Gateway(procs, "--broker", b.endpoint, *NO_POLL)

    def post(path, body=None):
        return requests.post(gw.url + path, json=body or {}, timeout=5)
    want = [("/api/promote", {"version": 3}, 409), ("/api/retrain", None, 422),
            ("/api/retrain", None, 503), ("/api/promote", {"version": 9}, 404),
            ("/api/rollback", None, 409), ("/api/retrain", None, 502),
            ("/api/promote", {"version": 9}, 404)]
    for (path, body, status), answer in zip(want, answers):
        r = post(path, body)
        assert r.status_code == status, (path, answer, r.status_code, r.text)
        assert r.json()["detail"] == answer["error"]


def test_silent_broker_is_503_and_predict_is_not_blocked(procs, scripted, workers):
    b = scripted([None, {"ok": True, "error": "", "data": {"runs": []}}])
    gw = Gateway(procs, "--broker", b.endpoint, "--broker-timeout", "3s", *NO_POLL)
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    got = {}

    def ask():
        got["api"] = requests.get(gw.url + "/api/runs", timeout=10)
    t = threading.Thread(target=ask)
    t.start()
    wait_for(lambda: len(b.got) == 1, what="request at the broker")
    #  while /api waits on the broker, predictions are answered
    for _ in range(5):
        assert requests.post(gw.url + "/predict", json={"Age": 30}, timeout=5).status_code == 200
    assert t.is_alive(), "the /api request was answered before the broker's timeout"
    t.join(10)
    r = got["api"]
    assert r.status_code == 503
    assert r.json()["detail"] == ("broker unreachable at %s: no answer within 3000 ms" % b.endpoint)
    #  a fresh socket after the timeout: the next request gets its own answer
    r = requests.get(gw.url + "/api/runs", timeout=5)
    assert r.status_code == 200 and r.json() == {"runs": []}


def test_no_broker_listening(procs):
    endpoint = free_endpoint()
    gw = Gateway(procs, "--broker", endpoint, "--broker-timeout", "300ms")
    r = requests.get(gw.url + "/api/models", timeout=5)
    assert r.status_code == 503 and r.json()["detail"].startswith("broker unreachable at " + endpoint)
    assert gw.health().status_code == 503   # the gateway itself is fine: no worker yet


def test_bad_broker_flag(procs):
    p = procs.start("bad-broker", [exe("mlops-gateway"), "--port", "0", "--broker", "host:99999"])
    assert p.wait(10) == 2
    assert "--broker" in procs.log(p)


def test_control_socket_is_a_curve_client(procs, tmp_path, monkeypatch):
    from test_curve_broker import CURVE_VARS, Keys
    keys = Keys(tmp_path)
    keys.client("gateway")
    keys.client("stranger", allowed=False)
    for var in CURVE_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in keys.server_env().items():
        if var in CURVE_VARS:
            monkeypatch.setenv(var, value)
    broker = Broker(procs, NO_SYNC, wait=False)   # answers only allowed keys
    answers = {}
    for name in ("gateway", "stranger"):
        for var in CURVE_VARS:
            monkeypatch.delenv(var, raising=False)
        for var, value in keys.client_env(name).items():
            if var in CURVE_VARS:
                monkeypatch.setenv(var, value)
        gw = Gateway(procs, "--broker", broker.control, "--broker-timeout", "1s")
        answers[name] = requests.get(gw.url + "/api/models", timeout=5)
    assert answers["gateway"].status_code == 200
    assert answers["gateway"].json() == {"production": 0, "versions": []}
    #  a key the broker does not know gets silence, which the gateway reports
    assert answers["stranger"].status_code == 503
    assert "broker unreachable" in answers["stranger"].json()["detail"]
