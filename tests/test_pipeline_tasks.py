"""test_pipeline_tasks.py: multiclass and regression retrains through the
whole distributed pipeline (a real broker and one worker per stage) on
small CSVs generated with a fixed seed in the test's tmp dir: the task type
decided at preprocess reaches train, evaluate and load_model, the version
is registered with the task's metrics, judged on the task's default metric
and promoted; a run of another task type than production is not compared
with it; a regression on a string target and a one-class target fail the
run at preprocess with their own error."""
import random

from procs import Broker, read_log

ROWS = 300


def write_multiclass(path, seed=7):
    """3 classes (a, b, c) from two numbers and a category, with noise."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("x1,x2,colour,label\n")
        for _ in range(ROWS):
            x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
            colour = rng.choice(["red", "green", "blue"])
            score = x1 + 0.5 * (colour == "red") + rng.gauss(0, 0.3)
            label = "a" if score < -0.5 else ("b" if x2 < 0.3 else "c")
            f.write("%.4f,%.4f,%s,%s\n" % (x1, x2, colour, label))


def write_regression(path, seed=11, missing=4):
    """y = 3 x1 - 2 x2 + 5 + noise; the first `missing` rows have no y."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("x1,x2,shop,y\n")
        for i in range(ROWS):
            x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
            shop = rng.choice(["north", "south"])
            y = 3 * x1 - 2 * x2 + 5 + (1.5 if shop == "north" else 0) + rng.gauss(0, 0.5)
            f.write("%.4f,%.4f,%s,%s\n" % (x1, x2, shop, "" if i < missing else "%.4f" % y))


def retrain(broker, source):
    out = broker.cli("retrain", "--source", source, "--wait", "--timeout", "60s", timeout=90)
    return out


def version(broker, number):
    return next(v for v in broker.models()["versions"] if v["version"] == number)


def test_multiclass_run_registers_and_promotes(procs, tmp_path):
    path = str(tmp_path / "three.csv")
    write_multiclass(path)
    broker = Broker(procs, extra=("--target", "label"))   # --task auto (the default)
    broker.all_workers(trains=1)
    out = retrain(broker, path)
    assert out.returncode == 0, out.stdout + out.stderr
    run = broker.run(1)
    assert run["state"] == "succeeded" and run["promoted"] and run["version"] == 1
    v1 = version(broker, 1)
    m = v1["metrics"]
    assert m["task"] == "multiclass"
    assert 0.6 < m["accuracy"] <= 1 and 0 < m["macro_f1"] <= 1 and m["log_loss"] > 0
    assert v1["stage"] == "production" and broker.models()["production"] == 1
    assert "accuracy" in v1["reason"]        # the multiclass default metric
    assert "auc" not in run["outcome"]
    shown = broker.cli("models")
    assert shown.returncode == 0 and " - " in shown.stdout   # no AUC for a multiclass row


def test_regression_run_drops_rows_and_promotes(procs, tmp_path):
    path = str(tmp_path / "numbers.csv")
    write_regression(path)
    broker = Broker(procs, extra=("--target", "y", "--task", "regression"))
    workers = broker.all_workers(trains=1)
    out = retrain(broker, path)
    assert out.returncode == 0, out.stdout + out.stderr
    run = broker.run(1)
    assert run["state"] == "succeeded" and run["promoted"]
    v1 = version(broker, 1)
    m = v1["metrics"]
    assert m["task"] == "regression"
    assert 0.8 < m["r2"] <= 1 and 0 < m["mae"] <= m["rmse"] < 2
    assert "r2" in v1["reason"]              # the regression default metric
    preprocess = workers[1]
    assert "4 rows without a target left out" in read_log(preprocess)
    shown = broker.cli("models")
    assert "r2 " in shown.stdout and "rmse " in shown.stdout

    # the same store, now a multiclass run: not compared with the regression
    # in production, archived with the reason, production unchanged
    multi = str(tmp_path / "three.csv")
    write_multiclass(multi)
    broker.kill()
    broker.extra = ["--target", "label"]
    broker.start()
    out = retrain(broker, multi)
    assert out.returncode == 0, out.stdout + out.stderr
    v2 = version(broker, 2)
    assert v2["metrics"]["task"] == "multiclass" and v2["stage"] == "archived"
    assert "task changed" in v2["reason"] and "production v1 regression" in v2["reason"]
    assert broker.models()["production"] == 1


def test_bad_targets_fail_at_preprocess(procs, tmp_path):
    strings = str(tmp_path / "three.csv")
    write_multiclass(strings)
    one = str(tmp_path / "one.csv")
    with open(one, "w") as f:
        f.write("x1,label\n" + "".join("%d,a\n" % i for i in range(50)))
    broker = Broker(procs, extra=("--target", "label", "--task", "regression",
                                  "--max-attempts", "1"))
    broker.all_workers(trains=1)
    out = retrain(broker, strings)
    assert out.returncode == 1
    run = broker.run(1)
    assert run["state"] == "failed"
    assert [t["stage"] for t in run["tasks"] if t["state"] == "failed"] == ["preprocess"]
    assert "--task regression needs a numeric target; 'label' holds strings" in run["error"]
    out = retrain(broker, one)
    assert out.returncode == 1
    run = broker.run(2)
    assert run["state"] == "failed"
    assert "target 'label' has one value only: nothing to learn" in run["error"]
    assert broker.models()["versions"] == []
