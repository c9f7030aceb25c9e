"""test_serving_tasks.py: serving follows the model's task type. A
multiclass and a regression artifact are trained with `mlops train --task
... --out` on CSVs generated here, each served by a real inference worker
(`--model FILE`, no broker) behind a real gateway; /predict,
/predict/batch, V2 infer and model metadata and /openapi.json are checked
for their shapes, and their values against what the model computes: the
logistic (multinomial) and ridge models are evaluated here from the
artifact's own recipe and coefficients (proto/PROTOCOL.md, "Artifacts"). A
forest with integer labels checks the labels' types and that every path
answers the same numbers."""
import math
import os
import random
import subprocess

import pytest
import requests

from procs import BIN, Gateway, start_infer, wait_for

msgpack = pytest.importorskip("msgpack", reason="python3-msgpack is not installed")

MODEL = "wine"
CLASSES = ["a", "b", "c"]


def _write_csvs(tmp):
    """Three classes that overlap (no probability is 0 or 1) and a noisy
    linear target; x2 is sometimes missing, so serving imputes it."""
    r = random.Random(18)
    mc, rg, ints = (os.path.join(tmp, n) for n in ("mc.csv", "rg.csv", "ints.csv"))
    with open(mc, "w") as f, open(ints, "w") as g:
        f.write("x1,x2,label\n")
        g.write("x1,x2,grade\n")
        for i in range(300):
            c = r.randrange(3)
            x1, x2 = 2 * c + r.gauss(0, 1), r.gauss(0, 1) + (c == 1)
            x2s = "" if i % 17 == 0 else "%.3f" % x2
            f.write("%.3f,%s,%s\n" % (x1, x2s, CLASSES[c]))
            g.write("%.3f,%s,%d\n" % (x1, x2s, (3, 5, 8)[c]))
    with open(rg, "w") as f:
        f.write("x1,x2,y\n")
        for i in range(300):
            x1, x2 = r.uniform(0, 10), r.uniform(-5, 5)
            f.write("%.3f,%.3f,%.3f\n" % (x1, x2, 3 * x1 - 2 * x2 + 100 + r.gauss(0, 1)))
    return mc, rg, ints


def _train(tmp, source, target, task, families, name):
    out = os.path.join(tmp, name)
    r = subprocess.run([os.path.join(BIN, "mlops"), "train", "--source", source, "--target", target,
                        "--task", task, "--families", families, "--out", out],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def _load(path):
    """The artifact's body and recipe, decoded."""
    with open(path, "rb") as f:
        envelope = msgpack.unpackb(f.read(), raw=False, strict_map_key=False)
    body = msgpack.unpackb(envelope[3], raw=False, strict_map_key=False)
    return body, msgpack.unpackb(body["recipe"], raw=False, strict_map_key=False)


class Linear:
    """A generic recipe of number inputs and a logreg-family model, evaluated
    as PROTOCOL.md says: x_j = (raw_j or fill_j - mean_j) / scale_j, then
    softmax(W x + b) (multiclass) or w . x + b (regression)."""

    def __init__(self, path):
        body, self.recipe = _load(path)
        assert body["family"] == "logreg"
        self.model = body["model"]

    def features(self, record):
        x = []
        for j, inp in enumerate(self.recipe["inputs"]):
            raw = record.get(inp["name"])
            raw = inp["fill"] if raw is None else raw
            x.append((raw - self.recipe["mean"][j]) / self.recipe["scale"][j])
        return x

    def value(self, record):
        x = self.features(record)
        return self.model["intercept"] + sum(w * v for w, v in zip(self.model["coef"], x))

    def probabilities(self, record):
        x, p = self.features(record), len(self.recipe["features"])
        b = self.model["intercepts"]
        z = [b[c] + sum(w * v for w, v in zip(self.model["coef"][c * p:(c + 1) * p], x))
             for c in range(len(b))]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        return [v / sum(e) for v in e]


RECORDS = [{"x1": 0.1, "x2": -0.5}, {"x1": 2.2, "x2": 1.4}, {"x1": 4.7}, {"x1": 3.0, "x2": 0.2}]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("tasks"))
    mc, rg, ints = _write_csvs(tmp)
    return {"multiclass": _train(tmp, mc, "label", "multiclass", "logreg", "mc.art"),
            "regression": _train(tmp, rg, "y", "regression", "logreg", "rg.art"),
            "ints": _train(tmp, ints, "grade", "multiclass", "forest", "ints.art")}


def _serve(procs, path, version):
    gw = Gateway(procs, "--model-name", MODEL)
    start_infer(procs, gw.backend, "--model", path, "--model-version", str(version))
    gw.wait_workers(1, version=version)
    wait_for(lambda: requests.get(gw.url + "/v2/models/" + MODEL, timeout=2).status_code == 200,
             what="signature at the gateway")
    return gw


def _post(gw, path, body):
    r = requests.post(gw.url + path, json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _v2_body(records, names=("x1", "x2")):
    """Column tensors of the records (every record has every name)."""
    return {"inputs": [{"name": n, "datatype": "FP64", "shape": [len(records)],
                        "data": [rec[n] for rec in records]} for n in names]}


def test_multiclass_answers_what_the_model_computes(procs, artifacts):
    model = Linear(artifacts["multiclass"])
    assert model.recipe["classes"] == CLASSES
    gw = _serve(procs, artifacts["multiclass"], 3)
    for rec in RECORDS:
        want = model.probabilities(rec)
        a = _post(gw, "/predict", rec)
        assert set(a) == {"prediction", "probabilities", "model_version", "request_id"}
        assert a["model_version"] == 3
        assert list(a["probabilities"]) == CLASSES
        for c, label in enumerate(CLASSES):
            assert a["probabilities"][label] == pytest.approx(want[c], rel=1e-9, abs=1e-12)
        assert a["prediction"] == CLASSES[want.index(max(want))]
    b = _post(gw, "/predict/batch", {"instances": RECORDS})
    assert set(b) == {"predictions", "probabilities", "model_version", "request_id"}
    assert b["predictions"] == [_post(gw, "/predict", rec)["prediction"] for rec in RECORDS]
    assert b["probabilities"] == [_post(gw, "/predict", rec)["probabilities"] for rec in RECORDS]
    # the classes the CSV had are what the model answers with
    assert set(b["predictions"]) <= set(CLASSES) and len(set(b["predictions"])) > 1


def test_multiclass_v2_and_metadata(procs, artifacts):
    gw = _serve(procs, artifacts["multiclass"], 3)
    full = [r for r in RECORDS if "x2" in r]
    batch = _post(gw, "/predict/batch", {"instances": full})
    v2 = _post(gw, "/v2/models/%s/infer" % MODEL, _v2_body(full))
    outs = {o["name"]: o for o in v2["outputs"]}
    assert outs["predict"]["datatype"] == "BYTES" and outs["predict"]["shape"] == [len(full)]
    assert outs["predict"]["data"] == batch["predictions"]
    p = outs["probability"]
    assert p["datatype"] == "FP64" and p["shape"] == [len(full), 3]
    assert p["data"] == [row[c] for row in batch["probabilities"] for c in CLASSES]
    meta = requests.get(gw.url + "/v2/models/" + MODEL, timeout=5).json()
    assert meta["outputs"] == [{"name": "predict", "datatype": "BYTES", "shape": [-1]},
                               {"name": "probability", "datatype": "FP64", "shape": [-1, 3]}]
    schemas = requests.get(gw.url + "/openapi.json", timeout=5).json()["components"]["schemas"]
    one = schemas["Prediction"]["properties"]
    assert one["prediction"] == {"type": "string", "enum": CLASSES}
    assert list(one["probabilities"]["properties"]) == CLASSES
    many = schemas["Predictions"]["properties"]
    assert many["predictions"]["items"]["enum"] == CLASSES
    assert list(many["probabilities"]["items"]["properties"]) == CLASSES


def test_regression_answers_what_the_model_computes(procs, artifacts):
    model = Linear(artifacts["regression"])
    gw = _serve(procs, artifacts["regression"], 4)
    for rec in RECORDS:
        a = _post(gw, "/predict", rec)
        assert set(a) == {"prediction", "model_version", "request_id"} and a["model_version"] == 4
        assert a["prediction"] == pytest.approx(model.value(rec), rel=1e-12)
    b = _post(gw, "/predict/batch", {"instances": RECORDS})
    assert set(b) == {"predictions", "model_version", "request_id"}
    assert b["predictions"] == [_post(gw, "/predict", rec)["prediction"] for rec in RECORDS]
    full = [r for r in RECORDS if "x2" in r]
    v2 = _post(gw, "/v2/models/%s/infer" % MODEL, _v2_body(full))
    assert [o["name"] for o in v2["outputs"]] == ["predict"]   # no probability
    assert v2["outputs"][0]["datatype"] == "FP64" and v2["outputs"][0]["shape"] == [len(full)]
    assert v2["outputs"][0]["data"] == [_post(gw, "/predict", rec)["prediction"] for rec in full]
    meta = requests.get(gw.url + "/v2/models/" + MODEL, timeout=5).json()
    assert meta["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    schemas = requests.get(gw.url + "/openapi.json", timeout=5).json()["components"]["schemas"]
    assert schemas["Prediction"]["properties"] == {"prediction": {"type": "number"},
                                                   "model_version": {"type": "integer"},
                                                   "request_id": {"type": "string"}}
    assert schemas["Predictions"]["properties"]["predictions"] == {"type": "array",
                                                                   "items": {"type": "number"}}
    assert "probabilities" not in schemas["Predictions"]["properties"]


def test_regression_errors_name_the_field(procs, artifacts):
    gw = _serve(procs, artifacts["regression"], 4)
    r = requests.post(gw.url + "/predict", json={"x1": "ten", "x2": 1}, timeout=5)
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "x1"]]
    r = requests.post(gw.url + "/predict/batch", json={"instances": [{"x1": 1}, {"x1": 2, "x2": "y"}]},
                      timeout=5)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "instances", 1, "x2"]
    body = _v2_body([{"x1": 1.0, "x2": 2.0}])
    body["inputs"][1]["datatype"] = "BYTES"
    body["inputs"][1]["data"] = ["two"]
    r = requests.post(gw.url + "/v2/models/%s/infer" % MODEL, json=body, timeout=5)
    assert r.status_code == 400 and "x2" in r.json()["error"]
    body = dict(_v2_body([{"x1": 1.0, "x2": 2.0}]), outputs=[{"name": "probability"}])
    r = requests.post(gw.url + "/v2/models/%s/infer" % MODEL, json=body, timeout=5)
    assert r.status_code == 400 and "no output 'probability'" in r.json()["error"]


def test_integer_labels_stay_numbers(procs, artifacts):
    body, recipe = _load(artifacts["ints"])
    assert body["family"] == "forest" and recipe["classes"] == [3, 5, 8]
    gw = _serve(procs, artifacts["ints"], 6)
    full = [r for r in RECORDS if "x2" in r]
    b = _post(gw, "/predict/batch", {"instances": full})
    for label, probs in zip(b["predictions"], b["probabilities"]):
        assert list(probs) == ["3", "5", "8"]   # JSON keys are strings
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-12)
        assert isinstance(label, int) and str(label) == max(probs, key=probs.get)
    v2 = _post(gw, "/v2/models/%s/infer" % MODEL, _v2_body(full))
    outs = {o["name"]: o for o in v2["outputs"]}
    assert outs["predict"]["datatype"] == "INT64" and outs["predict"]["data"] == b["predictions"]
    assert outs["probability"]["data"] == [row[c] for row in b["probabilities"] for c in ("3", "5", "8")]
    meta = requests.get(gw.url + "/v2/models/" + MODEL, timeout=5).json()
    assert meta["outputs"][0] == {"name": "predict", "datatype": "INT64", "shape": [-1]}
    one = requests.get(gw.url + "/openapi.json", timeout=5).json()["components"]["schemas"]["Prediction"]
    assert one["properties"]["prediction"] == {"type": "integer", "enum": [3, 5, 8]}


# --- the dashboard --------------------------------------------------------------

VERSIONS = {
    "binary": [{"auc": 0.8512, "accuracy": 0.8101, "f1": 0.7523, "log_loss": 0.4402},
               {"auc": 0.8633, "accuracy": 0.8212, "f1": 0.7634, "log_loss": 0.4301}],
    "multiclass": [{"accuracy": 0.81, "macro_f1": 0.7963, "log_loss": 0.4703},
                   {"accuracy": 0.85, "macro_f1": 0.8412, "log_loss": 0.4101}],
    "regression": [{"r2": 0.9412, "rmse": 1.2345, "mae": 0.9876},
                   {"r2": 0.9544, "rmse": 1.1001, "mae": 0.8765}],
}
HEADS = {"binary": ["AUC", "accuracy", "F1"], "multiclass": ["accuracy", "macro F1", "log loss"], "regression": ["R²", "RMSE", "MAE"]}


def _metrics(task, i):
    """Version i's metrics as the registry keeps them: a multiclass one names
    its task (the dashboard reads it), a regression one is told by its names."""
    return dict(VERSIONS[task][i], task=task) if task == "multiclass" else VERSIONS[task][i]


def _control(task):
    """A control ROUTER (test_api's ScriptedBroker with another loop)
    answering the dashboard's reads: MODELS with two versions whose metrics
    are those of task, RUNS and STATUS empty."""
    from test_api import ScriptedBroker
    from wire import pack, unpack
    versions = [{"version": i + 1, "run_id": i + 1, "dataset_hash": "ab" * 32, "family": "logreg",
                 "params": "{}", "metrics": _metrics(task, i), "sha256": "cd" * 32, "artifact_len": 100,
                 "stage": "production" if i else "archived", "reason": "test", "created_ms": 1}
                for i in range(len(VERSIONS[task]))]
    data = {"MODELS": {"production": 2, "versions": versions}, "RUNS": {"runs": []},
            "STATUS": {"active_run": 0, "queued": 0, "next_schedule_ms": 0, "production_version": 2,
                       "workers": [], "waiting": "", "serving": []}}

    class Control(ScriptedBroker):
        def _run(self):
            while not self.stop.is_set():
                if not self.sock.poll(50):
                    continue
                frames = self.sock.recv_multipart()
                command, _ = unpack(frames[-1])
                frames[-1] = pack("REPLY", {"ok": command in data, "error": "", "data": data.get(command)})
                self.sock.send_multipart(frames)
    return Control([])


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_dashboard_metrics_follow_the_task(procs, task):
    pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed")
    from selenium.webdriver.support.ui import WebDriverWait
    from test_dashboard_browser import cells, chromium
    control = _control(task)
    try:
        gw = Gateway(procs, "--broker", control.endpoint)
        for browser in chromium():
            browser.get(gw.url + "/")
            WebDriverWait(browser, 30, poll_frequency=0.2).until(
                lambda d: len(cells(d, "models")) == 2 and cells(d, "models")[0][0] == "2")
            heads = browser.execute_script(
                "return Array.from(document.querySelectorAll('#models th.metric')).map(t => t.textContent)")
            assert heads == HEADS[task]
            rows = {r[0]: r[3:6] for r in cells(browser, "models")}
            for v, metrics in enumerate(VERSIONS[task], 1):
                assert rows[str(v)] == ["%.4f" % x for x in list(metrics.values())[:3]]
            options = browser.execute_script(
                "return Array.from(document.querySelectorAll('#metric option')).map(o => o.value)")
            assert options == list(VERSIONS[task][0])
            assert len(browser.find_elements("css selector", "#chart circle")) == 2
            csp = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
            assert not csp, csp
    finally:
        control.close()
