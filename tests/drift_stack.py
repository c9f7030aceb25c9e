"""drift_stack.py: the drift tests' and bench/drift.sh's shared pieces: a
real stack watching drift (broker, stage workers, gateway, inference
worker, v1 trained on the Titanic file), Titanic rows as /predict records,
the shift that must be detected, and the broker's drift answer."""
import csv
import json

import requests

from procs import TITANIC, Broker, Gateway, start_infer

NUMBERS = {"Pclass": int, "Age": float, "SibSp": int, "Parch": int, "Fare": float}


def titanic_records():
    """The file's rows as /predict records (input fields only, "" as null)."""
    out = []
    with open(TITANIC, newline="") as f:
        for row in csv.DictReader(f):
            rec = {}
            for k in ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"):
                v = row[k]
                rec[k] = None if v == "" else NUMBERS[k](v) if k in NUMBERS else v
            out.append(rec)
    return out


def shifted(rec):
    return dict(rec, Fare=(rec["Fare"] or 0) * 3 + 30, Pclass=1, Sex="female")


def post(gw, records, chunk=200):
    """records through /predict/batch, chunk of them a request."""
    for i in range(0, len(records), chunk):
        r = requests.post(gw.url + "/predict/batch", json={"instances": records[i:i + chunk]}, timeout=10)
        assert r.status_code == 200, r.text


def drift(broker):
    out = broker.cli("drift", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def window_rows(broker, version):
    v = [v for v in drift(broker)["versions"] if v["version"] == version]
    return v[0]["rows"] if v else 0


def drift_runs(broker):
    return [r for r in broker.runs() if r["reason"].startswith("drift:")]


def watched_stack(procs, min_rows, threshold, *flags, gateway=(), report="100ms"):
    """A broker watching drift (--drift-min-rows min_rows, --drift-threshold
    threshold, flags added), its stage workers, a gateway (gateway: its
    flags added) and an inference worker reporting every `report`, v1
    trained on Titanic and served.
    --margin 1: no retrain is promoted, so v1 serves (and is watched)
    throughout."""
    broker = Broker(procs, extra=["--source", TITANIC, "--margin", "1", "--drift-threshold", str(threshold),
                                  "--drift-min-rows", str(min_rows), *flags])
    broker.all_workers(trains=1)
    gw = Gateway(procs, "--broker", broker.control, *gateway)   # /api/drift asks the broker
    start_infer(procs, gw.backend, "--broker", broker.control, "--events", broker.events,
                "--report", report)
    run_id = broker.request("RETRAIN", {"source": TITANIC, "reason": "first"})["run_id"]
    assert broker.wait_run(run_id, timeout=120)["state"] == "succeeded"
    gw.wait_workers(1, version=1, timeout=30)
    return broker, gw
