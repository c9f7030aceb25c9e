"""test_serving_broker.py: serving with the real broker: infer workers fetch
the production model from mlops-broker, follow promotions and rollbacks
under load without a non-2xx answer, and keep serving when the broker stops.
Models come from real retrain runs (stage workers on synthetic data)."""
import signal
import time

import requests

from procs import Broker, Gateway, start_infer
from serving_util import PASSENGER
from test_serving_infer import Load

REPLY_MS = 10000    # a control request under load


def retrain(broker, source):
    r = broker.cli("retrain", "--source", source, "--wait", "--timeout", "60s", timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr


def test_promotions_under_load_and_broker_stopped(procs):
    broker = Broker(procs)
    broker.all_workers(trains=2)
    retrain(broker, "synthetic:800:1")
    retrain(broker, "synthetic:800:2")
    models = broker.request("MODELS", {}, REPLY_MS)
    versions = sorted(v["version"] for v in models["versions"])
    assert versions[:2] == [1, 2], versions
    if models["production"] != 1:
        broker.request("PROMOTE", {"version": 1, "reason": "test"}, REPLY_MS)
    gw = Gateway(procs)
    for _ in range(2):
        start_infer(procs, gw.backend, "--broker", broker.control)
    gw.wait_workers(2, version=1, timeout=20)
    load = Load(gw.url)
    end, v = time.time() + 10, 1
    while time.time() < end:   # promote and roll back every 200 ms for 10 s
        v = 3 - v
        broker.request("PROMOTE" if v == 2 else "ROLLBACK", {"version": 2, "reason": "t"} if v == 2
                       else {"reason": "t"}, REPLY_MS)
        time.sleep(0.2)
    answers = load.finish()
    assert not load.errors, load.errors[:3]
    assert len(answers) > 100 and [a for a in answers if a[0] != 200] == []
    assert {a["model_version"] for _, a in answers} <= {1, 2}
    assert len({a["model_version"] for _, a in answers}) == 2
    # the broker stops: predictions go on with the model in hand
    broker.proc.send_signal(signal.SIGTERM)
    broker.proc.wait(10)
    served = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5).json()["model_version"]
    for _ in range(30):
        r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
        assert r.status_code == 200 and r.json()["model_version"] == served
        time.sleep(0.05)
    assert gw.health().json()["status"] == "ok"
