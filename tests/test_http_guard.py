"""test_http_guard.py: the gateway's HTTP hardening (gateway/guard.h), one
test per rule, each asserting the status and the message: Host (DNS
rebinding), Origin and Content-Type on the /api actions (cross-site request
forgery), the read token, the security headers, the per-address connection
limit and the header deadline (slowloris), plus the refusals at start.
A real broker (empty store) or fake inference workers behind real gateways
on 127.0.0.1, free ports, stopped by pid at the end.
"""
import http.client
import socket
import threading
import time

import pytest
import requests

from procs import Broker, Gateway, exe, wait_for
from serving_util import FakeWorker, PASSENGER

TOKEN = "admin-tok"
READ = "read-tok"
JSON = {"Content-Type": "application/json"}
ACTIONS = (("/api/retrain", b'{"source": "synthetic:50"}'), ("/api/promote", b'{"version": 1}'),
           ("/api/rollback", b"{}"))


def raw(port, method, path, headers, body=None):
    """A request with exactly these headers (http.client adds no Host when
    one is given); returns (status, headers, parsed JSON or bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    ctype = r.getheader("Content-Type") or ""
    import json
    return r.status, r, json.loads(data) if ctype.startswith("application/json") and data else data


def no_runs(gw, headers=None):
    return requests.get(gw.url + "/api/runs", headers=headers, timeout=5).json() == {"runs": []}


@pytest.fixture
def stack(procs):
    broker = Broker(procs, ["--no-sync"])
    return broker, Gateway(procs, "--broker", broker.control)


def test_host_must_be_one_we_serve(stack):
    _, gw = stack
    host = "127.0.0.1:%d" % gw.port
    for path, method in (("/health", "GET"), ("/", "GET"), ("/predict", "POST"), ("/api/runs", "GET")):
        status, _, body = raw(gw.port, method, path, {"Host": "evil.example:%d" % gw.port}, b"{}")
        assert status == 403, path
        assert "--allowed-hosts" in body["detail"] and "DNS rebinding" in body["detail"]
    #  another port of ours, or no Host at all (HTTP/1.0)
    assert raw(gw.port, "GET", "/health", {"Host": "localhost:%d" % (gw.port + 1)})[0] == 403
    c = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    c.sendall(b"GET /health HTTP/1.0\r\n\r\n")
    assert c.recv(100).split(b"\r\n")[0].endswith(b" 403 Forbidden")
    c.close()
    for good in (host, "localhost:%d" % gw.port, "localhost", "LOCALHOST:%d" % gw.port):
        assert raw(gw.port, "GET", "/health", {"Host": good})[0] == 503, good   # no worker yet
    #  a refused action changed nothing
    status, _, _ = raw(gw.port, "POST", "/api/retrain", {"Host": "evil.example", **JSON}, b"{}")
    assert status == 403 and no_runs(gw)


def test_allowed_hosts_flag(procs):
    gw = Gateway(procs, "--allowed-hosts", "127.0.0.1,gw.example:9999")
    assert raw(gw.port, "GET", "/health", {"Host": "gw.example:9999"})[0] == 503
    assert raw(gw.port, "GET", "/health", {"Host": "localhost:%d" % gw.port})[0] == 403
    gw2 = Gateway(procs, "--allowed-hosts", "*")
    assert raw(gw2.port, "GET", "/health", {"Host": "anything.example"})[0] == 503


@pytest.mark.parametrize("headers,body", [
    ({}, b"{}"),                                                          # no type
    ({"Content-Type": "text/plain"}, b"{}"),                              # a simple fetch
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b"),      # a form
    ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
    ({}, None),                                                           # an empty POST
])
def test_actions_take_json_only(stack, headers, body):
    _, gw = stack
    for path, _ in ACTIONS:
        status, _, answer = raw(gw.port, "POST", path, {"Host": "127.0.0.1:%d" % gw.port, **headers}, body)
        assert status == 415, (path, headers)
        assert "Content-Type: application/json" in answer["detail"]
    assert no_runs(gw)


def test_actions_from_another_origin(stack):
    _, gw = stack
    host = "127.0.0.1:%d" % gw.port
    for origin in ("http://evil.example", "null", "http://127.0.0.1:%d" % (gw.port + 1),
                   "http://localhost:%d" % gw.port):
        for path, body in ACTIONS:
            status, _, answer = raw(gw.port, "POST", path, {"Host": host, "Origin": origin, **JSON}, body)
            assert status == 403, (origin, path)
            assert "cross-origin request refused" in answer["detail"]
    assert no_runs(gw)
    #  our own origin goes through (the broker answers: nothing to roll back)
    status, _, answer = raw(gw.port, "POST", "/api/rollback",
                            {"Host": host, "Origin": "http://" + host, **JSON}, b"{}")
    assert status == 409 and "roll back" in answer["detail"]


def test_allowed_origins_flag(procs):
    broker = Broker(procs, ["--no-sync"])
    gw = Gateway(procs, "--broker", broker.control, "--allowed-origins", "https://ops.example")
    r = requests.post(gw.url + "/api/rollback", json={}, headers={"Origin": "https://ops.example"}, timeout=5)
    assert r.status_code == 409
    r = requests.post(gw.url + "/api/rollback", json={}, headers={"Origin": "http://ops.example"}, timeout=5)
    assert r.status_code == 403


def test_reads_need_a_token_with_an_admin_token(procs):
    broker = Broker(procs, ["--no-sync"])
    gw = Gateway(procs, "--broker", broker.control, "--admin-token", TOKEN, "--read-token", READ)
    for path in ("/api/runs", "/api/models", "/api/workers"):
        r = requests.get(gw.url + path, timeout=5)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "the admin or the read token" in r.json()["detail"]
        r = requests.get(gw.url + path, headers={"Authorization": "Bearer nope"}, timeout=5)
        assert r.status_code == 403 and r.json()["detail"] == "the token is not the right one"
        for token in (TOKEN, READ):
            assert requests.get(gw.url + path, headers={"Authorization": "Bearer " + token},
                                timeout=5).status_code == 200
    #  the read token reads only
    r = requests.post(gw.url + "/api/retrain", json={}, headers={"Authorization": "Bearer " + READ}, timeout=5)
    assert r.status_code == 403 and "not the right one" in r.json()["detail"]
    assert no_runs(gw, {"Authorization": "Bearer " + READ})
    #  /health, /predict and the dashboard's files stay open
    assert gw.health().status_code == 503
    assert requests.get(gw.url + "/", timeout=5).status_code == 200


def test_security_headers(procs, workers):
    gw = Gateway(procs)
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    for path in ("/", "/static/app.js", "/static/style.css", "/metrics"):
        r = requests.get(gw.url + path, timeout=5)
        assert r.status_code == 200, path
        assert r.headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
    for r in (requests.post(gw.url + "/predict", json=PASSENGER, timeout=5), gw.health(),
              requests.get(gw.url + "/nowhere", timeout=5)):
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in r.headers
    #  the page has nothing inline that the policy would block
    page = requests.get(gw.url + "/", timeout=5).text
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert "style=" not in requests.get(gw.url + "/static/app.js", timeout=5).text


def test_connections_per_address(procs, workers):
    gw = Gateway(procs, "--connections-per-ip", "2")
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    held = [http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10) for _ in range(2)]
    for c in held:
        c.request("GET", "/health")
        assert c.getresponse().read()   # kept alive: both slots taken
    extra = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    extra.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        assert extra.recv(100) == b""   # closed unanswered
    except ConnectionResetError:
        pass
    extra.close()
    held.pop().close()
    wait_for(lambda: requests.post(gw.url + "/predict", json=PASSENGER, timeout=5).status_code == 200,
             what="a slot freed")
    for c in held:
        c.close()


def test_slow_headers_are_cut_and_predict_answers(procs, workers):
    """Slowloris: every connection slot taken by clients that send a header
    line now and then (each one resets libmicrohttpd's idle timeout); the
    header deadline closes them, and /predict is served."""
    slots = 6
    gw = Gateway(procs, "--connections", str(slots), "--header-timeout", "1s", "--client-timeout", "1h")
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    stop = threading.Event()
    closed = []

    def dawdle():
        """Holds a slot with headers that never end; opens another when cut."""
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
            except OSError:
                return   # the gateway is gone: the test failed elsewhere
            try:
                s.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while not stop.is_set():
                    s.sendall(b"X-Slow: 1\r\n")
                    time.sleep(0.2)
            except OSError:
                closed.append(True)   # the gateway closed it (EPIPE / reset)
            finally:
                s.close()
    threads = [threading.Thread(target=dawdle, daemon=True) for _ in range(slots)]
    for t in threads:
        t.start()
    try:
        #  once each slow client was cut, they keep coming back while /predict asks
        wait_for(lambda: len(closed) >= slots, 60, "slow clients cut by the header deadline")
        for _ in range(3):
            r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=30)
            assert r.status_code == 200 and r.json()["prediction"] in (0, 1)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert "sent no whole request headers within 1000 ms" in procs.log(gw.proc)


@pytest.mark.parametrize("args,why", [
    (["--allowed-hosts", "a,b/c"], "--allowed-hosts: 'b/c' is not a host NAME[:PORT]"),
    (["--allowed-hosts", "a b"], "--allowed-hosts: 'a b' is not a host NAME[:PORT]"),
    (["--allowed-hosts", ""], "--allowed-hosts: the list is empty"),
    (["--allowed-origins", "evil.example"], "--allowed-origins: 'evil.example' is not an origin"),
    (["--read-token", "r"], "--read-token needs --admin-token"),
])
def test_bad_settings_refuse_to_start(procs, args, why):
    p = procs.start("bad", [exe("mlops-gateway"), "--port", "0", "--backend", "tcp://127.0.0.1:*", *args])
    assert p.wait(10) == 1
    assert why in procs.log(p)


@pytest.mark.parametrize("args", [["--connections-per-ip", "-1"], ["--header-timeout", "0s"]])
def test_bad_limit_flags(procs, args):
    p = procs.start("bad", [exe("mlops-gateway"), "--port", "0", *args])
    assert p.wait(10) == 2
    assert args[0] in procs.log(p)
