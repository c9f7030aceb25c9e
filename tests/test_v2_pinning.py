"""test_v2_pinning.py: requests pinned to a model version (`?version=V` on
the seed API, /v2/models/NAME/versions/V/infer) served by a real inference
worker that holds that version beside production, loading it from a (fake)
broker on demand: a pinned client keeps its version while production moves,
every answer names the version that made it, and a version that does not
exist gets a 404 naming it."""
import requests

from procs import Gateway, start_infer, wait_for
from serving_util import PASSENGER, FakeBroker
from test_v2 import artifact, tensors  # noqa: F401  (the module's artifact fixture)


def _two_models(tmp_path, artifact):  # noqa: F811
    """Two different artifacts (the second trained on synthetic data)."""
    import os
    import subprocess
    from procs import BIN
    other = str(tmp_path / "b.art")
    r = subprocess.run([os.path.join(BIN, "mlops"), "train", "--source", "synthetic:2000:7", "--out", other],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return open(artifact, "rb").read(), open(other, "rb").read()


def predict(gw, version=None):
    params = {"version": str(version)} if version is not None else None
    return requests.post(gw.url + "/predict", json=PASSENGER, params=params, timeout=10)


def test_pinned_client_keeps_its_version_across_a_promotion(procs, artifact, tmp_path):  # noqa: F811
    a1, a2 = _two_models(tmp_path, artifact)
    broker = FakeBroker({1: a1, 2: a2})
    try:
        gw = Gateway(procs)
        start_infer(procs, gw.backend, "--broker", broker.endpoint)
        gw.wait_workers(1, version=1)
        wait_for(lambda: requests.get(gw.url + "/v2/models/titanic", timeout=2).status_code == 200,
                 what="signature")
        p1 = predict(gw, 1).json()
        assert p1["model_version"] == 1
        broker.promote(2)
        wait_for(lambda: predict(gw).json()["model_version"] == 2, what="version 2 in production")
        production = predict(gw).json()
        pinned = predict(gw, 1).json()
        assert pinned["model_version"] == 1 and pinned["probability"] == p1["probability"]
        assert production["probability"] != p1["probability"]   # really another model
        assert ("GET_MODEL", {"version": 1}) in broker.requests  # loaded again on demand
        v2 = requests.post(gw.url + "/v2/models/titanic/versions/1/infer",
                           json={"inputs": tensors([PASSENGER])}, timeout=10).json()
        assert v2["model_version"] == "1"
        assert v2["outputs"][1]["data"] == [p1["probability"]]
        # a version the broker does not have: 404 naming it, on both APIs
        r = predict(gw, 9)
        assert r.status_code == 404 and "no version 9" in r.json()["detail"], r.text
        r = requests.post(gw.url + "/v2/models/titanic/versions/9/infer",
                          json={"inputs": tensors([PASSENGER])}, timeout=10)
        assert r.status_code == 404 and "no version 9" in r.json()["error"], r.text
    finally:
        broker.close()


def test_pin_without_a_broker_and_bad_values(procs, artifact):  # noqa: F811
    gw = Gateway(procs)
    start_infer(procs, gw.backend, "--model", artifact, "--model-version", "5")
    gw.wait_workers(1, version=5)
    wait_for(lambda: requests.get(gw.url + "/v2/models/titanic", timeout=2).status_code == 200,
             what="signature")
    assert predict(gw, 5).json()["model_version"] == 5
    r = predict(gw, 4)
    assert r.status_code == 404
    assert r.json()["detail"] == "version 4 is not held by this worker and it has no broker to load it from"
    for bad in ("0", "x", "-1", ""):
        r = requests.post(gw.url + "/predict", json=PASSENGER, params={"version": bad}, timeout=5)
        assert r.status_code == 400 and "version must be a whole number > 0" in r.json()["detail"], bad


def test_workers_that_predate_pinning_get_no_pinned_request(procs):
    """A worker that never sent SIGNATURE would refuse PREDICT's version key."""
    from serving_util import FakeWorker
    gw = Gateway(procs)
    w = FakeWorker(gw.backend, version=3)
    try:
        gw.wait_workers(1, version=3)
        r = predict(gw, 3)
        assert r.status_code == 503 and "predate it" in r.json()["detail"]
        assert predict(gw).json()["model_version"] == 3
        assert all("version" not in rec for recs in w.received for rec in recs)
    finally:
        w.close()
