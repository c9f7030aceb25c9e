"""test_pipeline_gbdt.py: the gbdt family through the whole distributed
pipeline: a broker started with --families logreg,forest,gbdt fans train
out to three train workers and judges the three candidates; the same store
under --families gbdt registers a gbdt version, which is promoted and then
served by /predict through a real gateway and inference worker."""
import os

import requests

from procs import TITANIC, Broker, Gateway, start_infer
from serving_util import PASSENGER

SOURCE = TITANIC if os.path.exists(TITANIC) else "synthetic:891:42"


def retrain(broker):
    r = broker.cli("retrain", "--source", SOURCE, "--wait", "--timeout", "60s", timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_gbdt_trained_registered_and_served(procs):
    broker = Broker(procs, extra=("--families", "logreg,forest,gbdt"))
    broker.all_workers(trains=3)
    out = retrain(broker)
    assert "1-train-gbdt" in out.stdout
    run1 = broker.run(1)
    assert run1["state"] == "succeeded" and run1["version"] == 1
    assert {t["task_id"] for t in run1["tasks"]} >= {"1-train-logreg", "1-train-forest",
                                                      "1-train-gbdt"}
    assert all(t["state"] == "done" for t in run1["tasks"])

    # the same store, gbdt alone: its candidate is registered whatever it scores
    broker.kill()
    broker.extra = ["--families", "gbdt"]
    broker.start()
    broker.all_workers(trains=1)
    retrain(broker)
    models = broker.models()
    v2 = next(v for v in models["versions"] if v["version"] == 2)
    assert v2["family"] == "gbdt" and 0.5 < v2["metrics"]["auc"] <= 1
    if models["production"] != 2:
        broker.request("PROMOTE", {"version": 2, "reason": "serve the gbdt"})

    gw = Gateway(procs)
    start_infer(procs, gw.backend, "--broker", broker.control)
    gw.wait_workers(1, version=2, timeout=20)
    r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["model_version"] == 2
    assert 0 < answer["probability"] < 1
    assert answer["prediction"] == int(answer["probability"] >= 0.5)
