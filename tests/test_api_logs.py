"""test_api_logs.py: GET /api/runs/{run}/logs[?task=TASK_ID], the gateway's
read of a run's task logs (the broker's LOGS through the /api link).

- a real broker with an extract worker: after the run's extract task, its
  lines come back through the gateway, for the run and for one task; an
  unknown run or task is the broker's not_found, 404;
- a bad run id or task id is 400 at the gateway (nothing reaches the broker);
- with an admin token, an unauthenticated read is 401 and a token opens it;
- a scripted broker: what the gateway sends (run_id, task_id) and that the
  REPLY data is answered as it came.
"""
import requests

from procs import Broker, Gateway, wait_for
from test_api import NO_POLL, NO_SYNC, TOKEN, auth, scripted  # noqa: F401 (scripted: a fixture)


def logs_url(gw, run, task=None):
    return gw.url + "/api/runs/%s/logs" % run + ("?task=%s" % task if task is not None else "")


def test_a_runs_logs_through_the_gateway(procs):
    broker = Broker(procs, NO_SYNC)
    broker.worker("extract")
    wait_for(lambda: broker.status()["workers"], what="extract worker")
    name = broker.status()["workers"][0]["name"]
    gw = Gateway(procs, "--broker", broker.control)
    run_id = broker.request("RETRAIN", {"source": "synthetic:100:1"})["run_id"]
    task = "%d-extract" % run_id

    def extract_done():
        r = broker.run(run_id)
        return any(t["task_id"] == task and t["state"] == "done" for t in r["tasks"]) if r else False
    wait_for(extract_done, timeout=30, what="the extract task done")
    r = requests.get(logs_url(gw, run_id), timeout=5)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    [entry] = r.json()["logs"]   # preprocess has no worker: only extract ran
    assert entry["task_id"] == task and entry["attempt"] == 1 and entry["worker"] == name
    assert "task done task=%s" % task in entry["text"]
    one = requests.get(logs_url(gw, run_id, task), timeout=5)
    assert one.status_code == 200 and one.json() == r.json()
    r = requests.get(logs_url(gw, run_id, "%d-nope" % run_id), timeout=5)
    assert r.status_code == 404 and "has no task '%d-nope'" % run_id in r.json()["detail"]
    r = requests.get(logs_url(gw, 999), timeout=5)
    assert r.status_code == 404 and r.json()["detail"] == "LOGS: no run 999"


def test_bad_run_or_task_id_is_400(procs, scripted):  # noqa: F811
    b = scripted([])
    gw = Gateway(procs, "--broker", b.endpoint, *NO_POLL)
    for run in ("abc", "0", "-1", "07", "1.5", "99999999999999999999"):
        r = requests.get(logs_url(gw, run), timeout=5)
        assert r.status_code == 400, (run, r.text)
        assert "the run in /api/runs/RUN/logs must be a whole number > 0" in r.json()["detail"]
    for task in ("a%20b", "%3Cb%3E", "x" * 48, "7-extract%0A"):
        r = requests.get(logs_url(gw, 7, task), timeout=5)
        assert r.status_code == 400 and "query parameter task" in r.json()["detail"], task
    assert requests.get(gw.url + "/api/runs/7/log", timeout=5).status_code == 404
    assert requests.post(logs_url(gw, 7), json={}, timeout=5).status_code == 405
    assert b.got == []   # refused at the gateway


def test_logs_need_a_token_when_an_admin_token_is_set(procs):
    broker = Broker(procs, NO_SYNC)
    gw = Gateway(procs, "--broker", broker.control, "--admin-token", TOKEN)
    r = requests.get(logs_url(gw, 3), timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(logs_url(gw, 3), headers=auth("wrong"), timeout=5).status_code == 403
    r = requests.get(logs_url(gw, 3), headers=auth(TOKEN), timeout=5)
    assert r.status_code == 404 and r.json()["detail"] == "LOGS: no run 3"


def test_request_sent_and_data_answered(procs, scripted):  # noqa: F811
    data = {"logs": [{"task_id": "5-train-forest", "attempt": 2, "worker": "vm-3fa9c2",
                      "bytes_dropped": 10, "text": "line one\nline <two>\n"}]}
    b = scripted([{"ok": True, "error": "", "data": data, "code": ""},
                  {"ok": True, "error": "", "data": {"logs": []}, "code": ""}])
    gw = Gateway(procs, "--broker", b.endpoint, *NO_POLL)
    r = requests.get(logs_url(gw, 5, "5-train-forest"), timeout=5)
    assert r.status_code == 200 and r.json() == data
    assert b.got[0] == ("LOGS", {"run_id": 5, "task_id": "5-train-forest"})
    r = requests.get(logs_url(gw, 5), timeout=5)
    assert r.status_code == 200 and r.json() == {"logs": []}
    assert b.got[1] == ("LOGS", {"run_id": 5})   # task_id "" (every task) is its default: left out
