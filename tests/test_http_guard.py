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


# --- a real browser ---------------------------------------------------------

EVIL_PAGE = """<!doctype html><html><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="POST" action="GW/api/retrain" enctype="text/plain" target="sink1">
<input name='{"source":"synthetic:50","reason":"csrf","x":"' value='"}'></form>
<form id="f2" method="POST" action="GW/api/promote" target="sink2">
<input name="version" value="1"></form>
<script>
const results = {};
async function attempt(name, url, init) {
  try { const r = await fetch(url, init); results[name] = "status " + r.status; }
  catch (e) { results[name] = "blocked"; }
}
(async () => {
  document.getElementById("f1").submit();
  document.getElementById("f2").submit();
  const retrain = JSON.stringify({source: "synthetic:50", reason: "csrf"});
  const promote = JSON.stringify({version: 1});
  await attempt("no-cors retrain", "GW/api/retrain",
                {method: "POST", mode: "no-cors", body: retrain, headers: {"Content-Type": "text/plain"}});
  await attempt("no-cors promote", "GW/api/promote", {method: "POST", mode: "no-cors", body: promote});
  await attempt("json retrain", "GW/api/retrain",
                {method: "POST", headers: {"Content-Type": "application/json"}, body: retrain});
  await attempt("json promote", "GW/api/promote",
                {method: "POST", headers: {"Content-Type": "application/json"}, body: promote});
  await attempt("read runs", "GW/api/runs", {});
  window.results = results;
})();
</script></body></html>"""


class EvilSite:
    """A page on another loopback port (another origin) that tries every
    way a page has to make the browser POST to the gateway's /api."""

    def __init__(self):
        import http.server
        page = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = page["html"].encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.page = page
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def aim(self, gateway_url):
        self.page["html"] = EVIL_PAGE.replace("GW", gateway_url)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def evil():
    site = EvilSite()
    yield site
    site.close()


@pytest.fixture
def chrome():
    pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed")
    from test_dashboard_browser import chromium
    yield from chromium("--host-resolver-rules=MAP evil.test 127.0.0.1")


def refused(gw, status):
    """How many /api requests the gateway answered with status (/metrics)."""
    text = requests.get(gw.url + "/metrics", timeout=5).text
    key = 'mlops_gateway_requests_total{endpoint="/api",status="%d"} ' % status
    return sum(int(line[len(key):]) for line in text.splitlines() if line.startswith(key))


@pytest.mark.parametrize("allow_evil,status", [(False, 403), (True, 415)])
def test_a_page_from_another_origin_changes_nothing(procs, evil, chrome, allow_evil, status):
    """No token at all (the open default): a page elsewhere makes the browser
    POST forms and fetches to /api/retrain and /api/promote. They reach the
    gateway and are refused: by Origin (403) or, with that origin allowed,
    by Content-Type (415); JSON fetches never leave the browser (the
    gateway grants no CORS preflight). No run starts, nothing is promoted."""
    from selenium.webdriver.support.ui import WebDriverWait
    broker = Broker(procs, ["--no-sync"])
    extra = ["--allowed-origins", evil.origin] if allow_evil else []
    gw = Gateway(procs, "--broker", broker.control, *extra)
    evil.aim(gw.url)
    chrome.get(evil.origin + "/")
    results = WebDriverWait(chrome, 30, poll_frequency=0.2).until(
        lambda d: d.execute_script("return window.results"))
    assert results == {"no-cors retrain": "status 0", "no-cors promote": "status 0",
                       "json retrain": "blocked", "json promote": "blocked", "read runs": "blocked"}
    #  the two forms and the two no-cors fetches did arrive, and were refused
    wait_for(lambda: refused(gw, status) == 4, 30, "4 refused POSTs")
    assert no_runs(gw)
    assert requests.get(gw.url + "/api/models", timeout=5).json() == {"production": 0, "versions": []}


def test_dns_rebinding_in_a_browser(procs, chrome):
    """evil.test resolves to 127.0.0.1 (as a rebinding attacker's name does
    after its first answer): its pages are same-origin with the gateway's
    port, so Origin and Content-Type pass; the Host does not."""
    broker = Broker(procs, ["--no-sync"])
    gw = Gateway(procs, "--broker", broker.control)
    chrome.get("http://evil.test:%d/" % gw.port)
    assert "DNS rebinding" in chrome.find_element("tag name", "body").text
    status = chrome.execute_async_script(
        "const done = arguments[0];"
        "fetch('/api/retrain', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        "  body: JSON.stringify({source: 'synthetic:50'})}).then(r => done(r.status), e => done(String(e)));")
    assert status == 403
    assert no_runs(gw)
