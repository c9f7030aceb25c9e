"""test_dashboard.py: the gateway serves the dashboard's files: GET / and
/static/NAME from the directory it finds (--static, $MLOPS_STATIC, beside
the executable in the repo or as installed by `make install`), with the
right Content-Type, 404 for a missing file and 403 for any path that tries
to leave the directory; the page loads the Live feedback and Rollout
panels' script (live.js, after app.js whose helpers it uses), which puts
API text on the page as text only. Processes on 127.0.0.1, free ports,
stopped by pid.
"""
import http.client
import os
import re
import subprocess

import requests

from procs import REPO, Gateway, free_endpoint, free_port, wait_for

STATIC = os.path.join(REPO, "gateway", "static")


def read(name):
    with open(os.path.join(STATIC, name), "rb") as f:
        return f.read()


def raw_get(port, path, method="GET"):
    """A request with the path sent exactly as given (no client clean-up)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def test_files_served_from_the_repo_by_default(procs, monkeypatch):
    monkeypatch.delenv("MLOPS_STATIC", raising=False)
    gw = Gateway(procs)
    r = requests.get(gw.url + "/", timeout=5)
    assert r.status_code == 200 and r.content == read("index.html")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    for name, ctype in (("app.js", "text/javascript; charset=utf-8"),
                        ("style.css", "text/css; charset=utf-8"),
                        ("index.html", "text/html; charset=utf-8")):
        r = requests.get(gw.url + "/static/" + name, timeout=5)
        assert r.status_code == 200 and r.content == read(name), name
        assert r.headers["Content-Type"] == ctype
    r = requests.get(gw.url + "/static/missing.js", timeout=5)
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    r = requests.get(gw.url + "/static/live.js", timeout=5)
    assert r.status_code == 200 and r.content == read("live.js")
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    r = requests.get(gw.url + "/static/missing.js", timeout=5)
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    status, _, body = raw_get(gw.port, "/", "HEAD")
    assert status == 200 and body == b""
    r = requests.post(gw.url + "/", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"


def test_live_panels_on_the_page():
    page = read("index.html").decode()
    for element in ('id="feedback-panel"', 'id="feedback-counts"', 'id="feedback"',
                    'id="rollout-panel"', 'id="rollout-state"', 'id="rollout-agreement"',
                    'id="rollout-sides"', 'id="rollout-last"'):
        assert element in page, element
    scripts = re.findall(r'<script src="/static/([a-z]+\.js)"></script>', page)
    assert scripts.index("live.js") > scripts.index("app.js"), scripts
    code = read("live.js").decode()
    for call in ("/api/feedback", "/api/canary", "textContent"):
        assert call in code, call
    #  text only: no API string is ever parsed as markup
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in code, sink


def test_no_way_out_of_the_directory(procs, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<p>inside</p>")
    (tmp_path / "secret.txt").write_text("TOPSECRET")
    (static / "out.txt").symlink_to(tmp_path / "secret.txt")
    gw = Gateway(procs, "--static", str(static))
    assert raw_get(gw.port, "/")[2] == b"<p>inside</p>"
    for path in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt",
                 "/static/%2E%2E%2Fsecret.txt", "/static/./index.html", "/static//etc/passwd",
                 "/static/.%2e/secret.txt", "/static/out.txt"):
        status, ctype, body = raw_get(gw.port, path)
        assert status == 403, (path, status, body)
        assert b"TOPSECRET" not in body and ctype == "application/json"
    #  (MHD decodes %00 and the path ends there: "/static/a", not found)
    for path in ("/../secret.txt", "/secret.txt", "/static", "/static/a%00b"):
        status, _, body = raw_get(gw.port, path)
        assert status == 404 and b"TOPSECRET" not in body, path


def test_directory_from_the_environment_and_missing(procs, tmp_path, monkeypatch):
    static = tmp_path / "env-static"
    static.mkdir()
    (static / "index.html").write_text("from env")
    monkeypatch.setenv("MLOPS_STATIC", str(static))
    gw = Gateway(procs)
    assert requests.get(gw.url + "/", timeout=5).text == "from env"
    gw2 = Gateway(procs, "--static", str(tmp_path / "nowhere"))
    r = requests.get(gw2.url + "/", timeout=5)
    assert r.status_code == 404 and "nowhere" in r.json()["detail"]


def test_make_install_serves_the_dashboard(procs, tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    run = subprocess.run(["make", "-s", "install", "PREFIX=/opt/mlops", "DESTDIR=%s" % dest],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    share = dest / "opt" / "mlops" / "share" / "mlops" / "static"
    for name in ("index.html", "app.js", "style.css"):
        assert (share / name).read_bytes() == read(name)
    exe = dest / "opt" / "mlops" / "bin" / "mlops-gateway"
    assert os.access(exe, os.X_OK)
    monkeypatch.delenv("MLOPS_STATIC", raising=False)
    port = free_port()
    procs.start("installed-gateway", [str(exe), "--port", str(port), "--bind", "127.0.0.1",
                                      "--backend", free_endpoint()])
    url = "http://127.0.0.1:%d" % port
    wait_for(lambda: requests.get(url + "/health", timeout=1).status_code == 503, what="gateway up")
    r = requests.get(url + "/static/app.js", timeout=5)
    assert r.status_code == 200 and r.content == read("app.js")
    assert requests.get(url + "/", timeout=5).content == read("index.html")
