"""test_promotion_checks.py: what stands between a RESULT and production
(README, Security), through real processes on loopback.

- A forged evaluate (a stage worker played from Python that reports metrics
  the artifact does not have) cannot promote: load_model re-scores the
  registered artifact, the run fails naming the metric and both values, and
  the version is archived.
- A retrain on a file with other columns is registered but not promoted
  (the run succeeds and its outcome says what differs); a plain PROMOTE of
  it is refused naming --schema-change; `mlops promote V --schema-change`
  puts it in production and the version's reason (the audit reason) says
  schema-change."""
import os

import msgpack

from procs import Broker, wait_for
from test_interop_control import FakeWorker

METRICS = ("accuracy", "precision", "recall", "f1", "auc", "log_loss")


def _version(models, number):
    return next(v for v in models["versions"] if v["version"] == number)


def _forged(task):
    """evaluate's output for every candidate of its input: perfect scores."""
    inp = msgpack.unpackb(task["input"], raw=False)
    best = dict({k: 1.0 for k in METRICS}, log_loss=0.01, tp=50, fp=0, tn=50, fn=0)
    scored = [{"key": c["key"], "family": c["family"], "metrics": best} for c in inp["candidates"]]
    zero = dict({k: 0.0 for k in METRICS}, tp=0, fp=0, tn=0, fn=0)
    return msgpack.packb({"v": 2, "scored": scored, "production_version": 0, "production": zero},
                         use_bin_type=True)


def test_forged_evaluate_is_refused(procs):
    broker = Broker(procs, extra=["--families", "logreg", "--max-attempts", "2", "--backoff", "10ms"])
    for stage in ("extract", "preprocess", "train", "load_model"):
        broker.worker(stage)
    fake = FakeWorker(broker.work, "evaluate")
    wait_for(lambda: len(broker.status()["workers"]) == 5, what="workers known")
    broker.request("RETRAIN", {"source": "synthetic:400:3"})
    task = fake.next("TASK", timeout=60, heartbeat=True)
    assert task["task_id"] == "1-evaluate"
    fake.result(task, True, output=_forged(task))
    run = broker.wait_run(1, timeout=60)
    assert run["state"] == "failed" and not run["promoted"], run
    # the worker's re-score names the first metric that is not the artifact's
    assert "1-load_model failed after 2 attempts: load_model: accuracy is " in run["error"]
    assert "on the test rows but evaluate recorded 1.000000000" in run["error"], run["error"]
    models = broker.models()
    assert models["production"] == 0
    v1 = _version(models, 1)
    assert v1["stage"] == "archived" and v1["reason"].startswith("run failed: "), v1


def _csv(path):
    """A binary table with none of Titanic's columns: height decides."""
    with open(path, "w") as f:
        f.write("Height,Color,Survived\n")
        for i in range(400):
            height = 150 + (i * 37) % 50
            f.write("%d,%s,%d\n" % (height, ("red", "green", "blue")[i % 3], int(height > 175)))
    return path


def test_schema_change_is_not_promoted_until_asked(procs):
    broker = Broker(procs, extra=["--families", "logreg"])
    broker.all_workers(trains=1)
    broker.request("RETRAIN", {"source": "synthetic:400:3"})
    assert broker.wait_run(1, timeout=60)["promoted"]
    broker.request("RETRAIN", {"source": _csv(os.path.join(procs.tmp, "other.csv"))})
    run = broker.wait_run(2, timeout=60)
    assert run["state"] == "succeeded" and not run["promoted"], run
    assert run["outcome"].startswith("v2 not promoted: schema differs from production v1: "), run
    assert run["outcome"].endswith("fields added: Height, Color; fields removed: Pclass, Name, Sex, "
                                   "Age, SibSp, Parch, Fare, Embarked"), run["outcome"]
    models = broker.models()
    assert models["production"] == 1
    assert _version(models, 2)["stage"] == "archived"
    # a plain promote is refused, naming the flag
    out = broker.cli("promote", "2")
    assert out.returncode != 0
    assert "v2 has another schema than production" in out.stderr
    assert "promote it with --schema-change if that is meant" in out.stderr, out.stderr
    bad = broker.reply("PROMOTE", {"version": 2})
    assert bad["code"] == "conflict" and "--schema-change" in bad["error"]
    assert broker.models()["production"] == 1
    # on purpose: in production, and the reason says so
    out = broker.cli("promote", "v2", "--schema-change", "--reason", "new form")
    assert out.returncode == 0, out.stderr
    assert "v2 is in production (was v1)" in out.stdout
    models = broker.models()
    assert models["production"] == 2
    assert _version(models, 2)["reason"] == "promote: schema-change: new form"
