"""test_feedback.py: feedback through a real gateway and a real inference
worker serving an artifact from `mlops train --out` (`--model FILE`, no
broker). Every prediction answer carries a request id (header and body,
the client's when valid); POST /feedback joins labels to the logged
predictions (one and a list); live accuracy and log loss on a known
sequence on /metrics and GET /api/feedback; and each refusal: unknown id,
expired id (a ring of 4 rows), duplicate, a label of the wrong type, a
malformed body, a body over the limit, the wrong Content-Type, a foreign
Origin, the token."""
import json
import math
import os
import re
import subprocess

import pytest
import requests

from procs import BIN, Gateway, start_infer
from serving_util import PASSENGER, train_artifact

VERSION = 6


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return train_artifact(tmp_path_factory.mktemp("feedback"))


def _serve(procs, artifact, *extra):
    gw = Gateway(procs, *extra)
    start_infer(procs, gw.backend, "--model", artifact, "--model-version", str(VERSION))
    gw.wait_workers(1, version=VERSION)
    return gw


def _feedback(gw, body, **headers):
    headers.setdefault("Content-Type", "application/json")
    return requests.post(gw.url + "/feedback", data=json.dumps(body), headers=headers, timeout=5)


def _predict(gw, record=PASSENGER, **headers):
    r = requests.post(gw.url + "/predict", json=record, headers=headers, timeout=5)
    assert r.status_code == 200, r.text
    return r


def test_every_prediction_carries_an_id(procs, artifact):
    gw = _serve(procs, artifact)
    a, b = _predict(gw), _predict(gw)
    for r in (a, b):
        rid = r.headers["X-Request-Id"]
        assert r.json()["request_id"] == rid and re.fullmatch(r"[0-9a-f]{16}-[0-9a-f]{12}", rid)
    assert a.headers["X-Request-Id"] != b.headers["X-Request-Id"]
    # the client's id when valid; a bad one is replaced, not echoed
    assert _predict(gw, **{"X-Request-Id": "order-17:a.b_c"}).json()["request_id"] == "order-17:a.b_c"
    for bad in ("has space", "x" * 65, "quote\"d"):
        r = _predict(gw, **{"X-Request-Id": bad})
        assert r.headers["X-Request-Id"] != bad and r.json()["request_id"] == r.headers["X-Request-Id"]
    r = requests.post(gw.url + "/predict/batch", json={"instances": [PASSENGER] * 3}, timeout=5)
    assert r.status_code == 200 and r.json()["request_id"] == r.headers["X-Request-Id"]
    # V2: the body's id echoed (and used as the request id), else ours
    kinds = {str: "BYTES", int: "INT64", float: "FP64"}
    tensors = [{"name": k, "datatype": kinds[type(v)], "shape": [1], "data": [v]}
               for k, v in PASSENGER.items() if v is not None]
    r = requests.post(gw.url + "/v2/models/titanic/infer", json={"inputs": tensors}, timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == r.headers["X-Request-Id"]
    r = requests.post(gw.url + "/v2/models/titanic/infer", json={"id": "v2-9", "inputs": tensors}, timeout=5)
    assert r.json()["id"] == "v2-9" and r.headers["X-Request-Id"] == "v2-9"
    assert _feedback(gw, {"request_id": "v2-9", "label": 1}).status_code == 200
    # an error answer of a prediction carries its id too
    r = requests.post(gw.url + "/predict", json=dict(PASSENGER, Age=-1), timeout=5,
                      headers={"X-Request-Id": "bad-age"})
    assert r.status_code == 422 and r.headers["X-Request-Id"] == "bad-age"


def _gauge(gw, name):
    text = requests.get(gw.url + "/metrics", timeout=5).text
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def test_labels_join_and_live_metrics(procs, artifact):
    gw = _serve(procs, artifact)
    records = [dict(PASSENGER, Pclass=c, Sex=s, Age=a) for c in (1, 3) for s in ("male", "female")
               for a in (8, 40)]
    answers = [_predict(gw, rec).json() for rec in records]
    # labels chosen so that exactly the first five predictions are right
    labels = [a["prediction"] if i < 5 else 1 - a["prediction"] for i, a in enumerate(answers)]
    first = _feedback(gw, {"request_id": answers[0]["request_id"], "label": labels[0]})
    assert first.status_code == 200, first.text
    assert first.json() == {"request_id": answers[0]["request_id"], "index": 0, "status": "accepted"}
    items = [{"request_id": a["request_id"], "label": bool(l) if i % 2 else l}
             for i, (a, l) in enumerate(zip(answers, labels)) if i > 0]
    r = _feedback(gw, {"items": items})
    assert r.status_code == 200 and r.json() == {"accepted": 7, "results": [{"status": 200}] * 7}
    # a batch's records by index
    b = requests.post(gw.url + "/predict/batch", json={"instances": records[:2]}, timeout=5).json()
    r = _feedback(gw, {"items": [{"request_id": b["request_id"], "index": i,
                                  "label": b["predictions"][i]} for i in (0, 1)]})
    assert r.json()["accepted"] == 2
    p_true = [a["probability"] if l == 1 else 1 - a["probability"] for a, l in zip(answers, labels)]
    p_true += [max(p, 1 - p) for p in b["probabilities"]]
    loss = -sum(math.log(p) for p in p_true) / len(p_true)
    # AUC over the gateway's 0.001-wide buckets of p(1): a pair in one bucket counts half
    scored = [(a["probability"], l) for a, l in zip(answers, labels)]
    scored += [(p, c) for p, c in zip(b["probabilities"], b["predictions"])]
    bucket = [(min(int(p * 1000), 999), l) for p, l in scored]
    pos, neg = [k for k, l in bucket if l == 1], [k for k, l in bucket if l == 0]
    auc = sum((kp > kn) + 0.5 * (kp == kn) for kp in pos for kn in neg) / (len(pos) * len(neg))
    assert _gauge(gw, 'mlops_live_accuracy{version="%d"}' % VERSION) == pytest.approx(7 / 10)
    assert _gauge(gw, 'mlops_live_log_loss{version="%d"}' % VERSION) == pytest.approx(loss, rel=1e-9)
    assert _gauge(gw, 'mlops_live_auc{version="%d"}' % VERSION) == pytest.approx(auc, rel=1e-12)
    assert _gauge(gw, 'mlops_feedback_total{result="accepted"}') == 10
    s = requests.get(gw.url + "/api/feedback", timeout=5).json()
    assert s["accepted"] == 10 and s["logged"] == 10 and s["log_rows"] == 100000 and s["sample"] == 1
    assert s["versions"] == [{"version": VERSION, "labelled": 10, "accuracy": pytest.approx(0.7),
                              "log_loss": pytest.approx(loss, rel=1e-9),
                              "auc": pytest.approx(auc, rel=1e-12), "mae": None}]


def test_refusals(procs, artifact):
    gw = _serve(procs, artifact, "--feedback-log", "4", "--body-max", "2000")
    rid = _predict(gw).json()["request_id"]
    ok = _feedback(gw, {"request_id": rid, "label": 0})
    assert ok.status_code == 200
    r = _feedback(gw, {"request_id": rid, "label": 1})
    assert r.status_code == 409 and "label already" in r.json()["detail"]
    r = _feedback(gw, {"request_id": "never-seen", "label": 1})
    assert r.status_code == 404 and "unknown or expired" in r.json()["detail"]
    # expired: four newer predictions overwrite the ring of 4
    old = _predict(gw).json()["request_id"]
    for _ in range(4):
        _predict(gw)
    assert _feedback(gw, {"request_id": old, "label": 1}).status_code == 404
    fresh = _predict(gw).json()["request_id"]
    for label in (2, "1", None, [1], 0.5):
        r = _feedback(gw, {"request_id": fresh, "label": label})
        assert r.status_code == 422 and "0, 1, true or false" in r.json()["detail"], label
    for body, why in (({"label": 1}, "request_id must be"), ({"request_id": "a b", "label": 1}, "request_id must be"),
                      ({"request_id": fresh}, "label is missing"),
                      ({"request_id": fresh, "index": -1, "label": 1}, "index must be"),
                      ({"items": []}, "items must be a list"), ([1], "must be an object")):
        r = _feedback(gw, body)
        assert r.status_code == 422 and why in json.dumps(r.json()["detail"]), body
    # a list answers each item
    r = _feedback(gw, {"items": [{"request_id": fresh, "label": 1}, {"request_id": fresh, "label": 1},
                                 {"request_id": "nope", "label": 1}, {"request_id": fresh, "label": "x"}, 7]})
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == [200, 409, 404, 409, 422]
    r = requests.post(gw.url + "/feedback", data="{\"request_id\":", timeout=5,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = _feedback(gw, {"items": [{"request_id": fresh, "label": 1}] * 100})
    assert r.status_code == 413
    r = requests.post(gw.url + "/feedback", data=json.dumps({"request_id": fresh, "label": 1}),
                      headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 415
    r = _feedback(gw, {"request_id": fresh, "label": 1}, Origin="http://evil.example")
    assert r.status_code == 403
    r = requests.get(gw.url + "/feedback", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    counts = requests.get(gw.url + "/api/feedback", timeout=5).json()
    assert counts["duplicate"] == 3 and counts["unknown"] == 3 and counts["invalid"] == 5   # wrong types; malformed items are not labels
    assert _gauge(gw, 'mlops_feedback_total{result="invalid"}') == 5


def test_tokens(procs, artifact):
    gw = _serve(procs, artifact, "--admin-token", "adm", "--feedback-token", "app")
    rid = _predict(gw).json()["request_id"]   # predictions stay open
    r = _feedback(gw, {"request_id": rid, "label": 1})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert _feedback(gw, {"request_id": rid, "label": 1}, Authorization="Bearer adm").status_code == 403
    assert _feedback(gw, {"request_id": rid, "label": 1}, Authorization="Bearer app").status_code == 200
    assert requests.get(gw.url + "/api/feedback", timeout=5).status_code == 401
    assert requests.get(gw.url + "/api/feedback", headers={"Authorization": "Bearer adm"},
                        timeout=5).status_code == 200
    # no feedback token: the admin token's rule
    gw2 = _serve(procs, artifact, "--admin-token", "adm")
    rid = _predict(gw2).json()["request_id"]
    assert _feedback(gw2, {"request_id": rid, "label": 1}).status_code == 401
    assert _feedback(gw2, {"request_id": rid, "label": 1}, Authorization="Bearer adm").status_code == 200


def test_sampling_and_flags(procs, artifact):
    gw = _serve(procs, artifact, "--feedback-sample", "0")
    rid = _predict(gw).json()["request_id"]   # still has an id, but is not logged
    assert _feedback(gw, {"request_id": rid, "label": 1}).status_code == 404
    assert requests.get(gw.url + "/api/feedback", timeout=5).json()["unsampled"] == 1
    for flag, value in (("--feedback-sample", "1.5"), ("--feedback-sample", "x"), ("--feedback-log", "0")):
        r = subprocess.run([os.path.join(BIN, "mlops-gateway"), flag, value], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 2 and flag in r.stderr, (flag, value, r.stderr)


@pytest.fixture(scope="module")
def multiclass_artifacts(tmp_path_factory):
    """Two multiclass forests: string classes a/b/c and integer classes 3/5/8."""
    tmp = str(tmp_path_factory.mktemp("feedback_mc"))
    out = {}
    for name, classes in (("strings", ["a", "b", "c"]), ("ints", [3, 5, 8])):
        csv = os.path.join(tmp, name + ".csv")
        with open(csv, "w") as f:
            f.write("x1,x2,label\n")
            for i in range(240):
                c = i % 3
                f.write("%.3f,%.3f,%s\n" % (2 * c + (i % 7) / 7.0, (i % 5) / 5.0 + (c == 1), classes[c]))
        out[name] = os.path.join(tmp, name + ".art")
        r = subprocess.run([os.path.join(BIN, "mlops"), "train", "--source", csv, "--target", "label",
                            "--task", "multiclass", "--families", "logreg", "--out", out[name]],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    return out


def test_multiclass_labels_are_scored(procs, multiclass_artifacts):
    """A multiclass label is one of the classes as the target had them; live
    accuracy and log loss (from the answered probabilities) per version."""
    gw = _serve(procs, multiclass_artifacts["strings"])
    records = [{"x1": 0.2, "x2": 0.1}, {"x1": 2.1, "x2": 1.3}, {"x1": 4.3, "x2": 0.4}, {"x1": 2.0, "x2": 0.2}]
    r = requests.post(gw.url + "/predict/batch", json={"instances": records}, timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    rid, truth = body["request_id"], ["a", "b", "c", "a"]
    items = [{"request_id": rid, "index": i, "label": t} for i, t in enumerate(truth)]
    assert _feedback(gw, {"items": items}).json()["accepted"] == 4
    right = sum(p == t for p, t in zip(body["predictions"], truth))
    loss = -sum(math.log(max(p[t], 1e-15)) for p, t in zip(body["probabilities"], truth)) / 4
    summary = requests.get(gw.url + "/api/feedback", timeout=5).json()
    assert summary["unkept"] == 0   # every row kept its record (from the PREDICT frame)
    v = summary["versions"][0]
    assert v["version"] == VERSION and v["labelled"] == 4 and v["auc"] is None
    assert v["accuracy"] == right / 4 and abs(v["log_loss"] - loss) < 1e-5
    assert _gauge(gw, 'mlops_live_accuracy{version="%d"}' % VERSION) == right / 4
    # anything but one of the classes: 422 naming the label
    rid = _predict(gw, records[0]).json()["request_id"]
    for bad, said in (("z", '"z"'), (1, "label 1 "), (True, "a boolean"), (None, "non-label")):
        r = _feedback(gw, {"request_id": rid, "label": bad})
        assert r.status_code == 422 and said in r.json()["detail"], (bad, r.text)
        assert "not one of the model's classes" in r.json()["detail"]
    assert _feedback(gw, {"request_id": rid, "label": "b"}).status_code == 200
    # integer classes: the number, not its text
    gw2 = _serve(procs, multiclass_artifacts["ints"])
    rid = _predict(gw2, records[1]).json()["request_id"]
    assert _feedback(gw2, {"request_id": rid, "label": "5"}).status_code == 422
    assert _feedback(gw2, {"request_id": rid, "label": 4}).status_code == 422
    assert _feedback(gw2, {"request_id": rid, "label": 5}).status_code == 200
