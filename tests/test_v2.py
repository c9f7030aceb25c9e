"""test_v2.py: the Open Inference Protocol (V2 REST) on a real gateway and
a real inference worker serving an artifact of `mlops train --out`: every
endpoint, every refusal with its status and the tensor it names, the
binary extension refused with the client option to switch off, and a
swap during which the model stays ready. The client is written from the
protocol's text (tritonclient is not packaged for Debian)."""
import json
import os
import struct
import subprocess

import pytest
import requests

from procs import BIN, TITANIC, Gateway, start_infer, wait_for
from serving_util import PASSENGER, FakeBroker

COLUMNS = {"Pclass": "INT64", "Sex": "BYTES", "Age": "FP64", "SibSp": "INT32", "Parch": "UINT8",
           "Fare": "FP32", "Embarked": "BYTES", "Name": "BYTES"}


def tensors(rows, **override):
    """The V2 inputs for rows (dicts), one column tensor per field."""
    inputs = []
    for name, dtype in COLUMNS.items():
        inputs.append({"name": name, "shape": [len(rows)], "datatype": dtype,
                       "data": [r[name] for r in rows]})
    for t in inputs:
        t.update(override.get(t["name"], {}))
    return inputs


def _train(tmp, source, name):
    out = os.path.join(tmp, name)
    r = subprocess.run([os.path.join(BIN, "mlops"), "train", "--source", source, "--out", out],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip("mlops train cannot write artifacts here: " + r.stderr[:200])
    return out


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("v2art"))
    return _train(tmp, TITANIC if os.path.exists(TITANIC) else "synthetic:1500:3", "a.art")


@pytest.fixture
def served(procs, artifact):
    gw = Gateway(procs)
    start_infer(procs, gw.backend, "--model", artifact, "--model-version", "5")
    gw.wait_workers(1, version=5)
    # the SIGNATURE follows READY: wait until the metadata has the inputs
    wait_for(lambda: requests.get(gw.url + "/v2/models/titanic", timeout=2).status_code == 200,
             what="signature at the gateway")
    return gw


def infer(gw, body, path="/v2/models/titanic/infer", **kw):
    return requests.post(gw.url + path, data=json.dumps(body) if not isinstance(body, (bytes, str)) else body,
                         timeout=5, **kw)


def test_server_endpoints(served):
    r = requests.get(served.url + "/v2", timeout=2)
    assert r.status_code == 200 and r.json()["name"] == "mlops-gateway"
    assert r.json()["extensions"] == ["model_repository"]
    assert requests.get(served.url + "/v2/health/live", timeout=2).json() == {"live": True}
    r = requests.get(served.url + "/v2/health/ready", timeout=2)
    assert r.status_code == 200 and r.json() == {"ready": True}
    r = requests.post(served.url + "/v2/repository/index", json={}, timeout=2)
    assert r.json() == [{"name": "titanic", "version": "5", "state": "READY"}]


def test_model_metadata_from_signature(served):
    m = requests.get(served.url + "/v2/models/titanic", timeout=2).json()
    assert m["name"] == "titanic" and m["versions"] == ["5"]
    inputs = {t["name"]: t["datatype"] for t in m["inputs"]}
    assert inputs == {"Pclass": "INT64", "Name": "BYTES", "Sex": "BYTES", "Age": "FP64",
                      "SibSp": "INT64", "Parch": "INT64", "Fare": "FP64", "Embarked": "BYTES"}
    assert all(t["shape"] == [-1] for t in m["inputs"])
    assert [(t["name"], t["datatype"]) for t in m["outputs"]] == [("predict", "INT64"),
                                                                   ("probability", "FP64")]
    assert requests.get(served.url + "/v2/models/titanic/versions/5", timeout=2).json()["versions"] == ["5"]
    assert requests.get(served.url + "/v2/models/titanic/ready", timeout=2).json() == {"ready": True}
    assert requests.get(served.url + "/v2/models/titanic/versions/5/ready", timeout=2).status_code == 200


def test_infer_matches_predict(served):
    rows = [PASSENGER, dict(PASSENGER, Sex="female", Pclass=1, Age=38.0)]
    r = infer(served, {"id": "req-\"7\"", "parameters": {"note": 1}, "inputs": tensors(rows)})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["model_name"] == "titanic" and a["model_version"] == "5" and a["id"] == 'req-"7"'
    out = {o["name"]: o for o in a["outputs"]}
    assert out["predict"]["datatype"] == "INT64" and out["predict"]["shape"] == [2]
    assert out["probability"]["datatype"] == "FP64" and out["probability"]["shape"] == [2]
    b = requests.post(served.url + "/predict/batch", json={"instances": rows}, timeout=5).json()
    assert out["probability"]["data"] == b["probabilities"]
    assert out["predict"]["data"] == b["predictions"]
    # the outputs filter, nested [N, 1] data, no id: the gateway's request id
    body = {"inputs": tensors([PASSENGER], Age={"shape": [1, 1], "data": [[22.0]]}),
            "outputs": [{"name": "probability"}]}
    r = infer(served, body, path="/v2/models/titanic/versions/5/infer")
    a = r.json()
    assert a["id"] == r.headers["X-Request-Id"] and [o["name"] for o in a["outputs"]] == ["probability"]


@pytest.mark.parametrize("override,status,needle", [
    ({"Pclass": {"datatype": "FP64"}}, 400, "input 'Pclass': datatype FP64 does not fit"),
    ({"Age": {"datatype": "BYTES"}}, 400, "input 'Age': datatype BYTES does not fit"),
    ({"Age": {"shape": [3]}}, 400, "input 'Age': shape says 3 values, data holds 2"),
    ({"Age": {"shape": [1], "data": [22.0]}}, 400, "input 'Age' has 1 rows, input 'Pclass' has 2"),
    ({"Sex": {"data": ["male", "robot"]}}, 400, "input 'Sex' row 1: \"robot\" is not one of male, female"),
    ({"Pclass": {"data": [3, 4]}}, 400, "input 'Pclass' row 1: must be between 1 and 3"),
    ({"Pclass": {"datatype": "INT9"}}, 400, "input 'Pclass': datatype \"INT9\" is not one of"),
    ({"Parch": {"data": [0, -1]}}, 400, "input 'Parch' row 1: not a value of datatype UINT8"),
])
def test_infer_refusals(served, override, status, needle):
    r = infer(served, {"inputs": tensors([PASSENGER, PASSENGER], **override)})
    assert r.status_code == status and needle in r.json()["error"], r.text


def test_infer_missing_unknown_nan(served):
    ins = [t for t in tensors([PASSENGER]) if t["name"] != "Sex"]
    r = infer(served, {"inputs": ins})
    assert r.status_code == 400 and r.json()["error"] == "input 'Sex' is required by the model"
    r = infer(served, {"inputs": tensors([PASSENGER]) + [{"name": "Deck", "shape": [1],
                                                           "datatype": "BYTES", "data": ["C"]}]})
    assert r.status_code == 400 and "input 'Deck' is not an input of the model" in r.json()["error"]
    text = json.dumps({"inputs": tensors([PASSENGER], Age={"data": [float("nan")]})})
    assert "NaN" in text   # Python writes the bare token
    r = infer(served, text)
    assert r.status_code == 400 and "input 'Age' row 0: NaN is not allowed" in r.json()["error"]
    r = infer(served, b'{"inputs": [')
    assert r.status_code == 400 and "not valid JSON at byte" in r.json()["error"]
    r = infer(served, {"inputs": tensors([PASSENGER]), "outputs": [{"name": "logits"}]})
    assert r.status_code == 400 and "unknown output 'logits'" in r.json()["error"]


def test_binary_extension_refused(served):
    """A tritonclient-style request: a JSON header, then raw tensor bytes."""
    header = json.dumps({"inputs": [{"name": "Pclass", "shape": [1], "datatype": "INT64",
                                     "parameters": {"binary_data_size": 8}}]}).encode()
    body = header + struct.pack("<q", 3)
    r = infer(served, body, headers={"Inference-Header-Content-Length": str(len(header)),
                                     "Content-Type": "application/octet-stream"})
    assert r.status_code == 400 and "binary_data=False" in r.json()["error"]
    r = infer(served, body, headers={"Inference-Header-Content-Length": str(len(body) + 1)})
    assert r.status_code == 400
    assert r.json()["error"] == "Inference-Header-Content-Length %d is past the body of %d bytes" % (
        len(body) + 1, len(body))


def test_unknown_paths_and_methods(served):
    cases = [("GET", "/v2/models/iris", 404, "unknown model 'iris': this server serves 'titanic'"),
             ("GET", "/v2/models/titanic/versions/4", 404, "model 'titanic' version 4 is not served"),
             ("GET", "/v2/models/titanic/versions/4/ready", 404, "version 4 is not served"),
             ("POST", "/v2/models/titanic/versions/x/infer", 404, "a version is a whole number"),
             ("GET", "/v2/models/titanic/explain", 404, "the model paths are"),
             ("GET", "/v2/nothing", 404, "the V2 paths are"),
             ("GET", "/v2/models/titanic/infer", 405, "use POST"),
             ("POST", "/v2/health/ready", 405, "use GET")]
    for method, path, status, needle in cases:
        r = requests.request(method, served.url + path, timeout=2)
        assert r.status_code == status and needle in r.json()["error"], (path, r.text)
    assert requests.get(served.url + "/v2/models/titanic/infer", timeout=2).headers["Allow"] == "POST"


def test_not_ready_without_a_model(procs):
    gw = Gateway(procs)
    r = requests.get(gw.url + "/v2/health/ready", timeout=2)
    assert r.status_code == 400 and r.json() == {"ready": False}
    assert requests.get(gw.url + "/v2/health/live", timeout=2).status_code == 200
    r = infer(gw, {"inputs": tensors([PASSENGER])})
    assert r.status_code == 503 and r.json()["error"] == "no inference worker is connected"


def test_ready_through_a_swap(procs, artifact, tmp_path):
    """Ready stays true while a new version is swapped in (Triton's lesson)."""
    with open(artifact, "rb") as f:
        blob = f.read()
    broker = FakeBroker({3: blob, 4: blob})
    try:
        gw = Gateway(procs)
        start_infer(procs, gw.backend, "--broker", broker.endpoint)
        gw.wait_workers(1, version=3)
        seen = []
        broker.promote(4)
        wait_for(lambda: seen.append(requests.get(gw.url + "/v2/models/titanic/ready", timeout=2).status_code)
                 or requests.get(gw.url + "/v2/models/titanic/versions/4/ready", timeout=2).status_code == 200,
                 what="version 4 ready")
        assert set(seen) == {200}
        a = infer(gw, {"inputs": tensors([PASSENGER])}).json()
        assert a["model_version"] == "4"
    finally:
        broker.close()
