"""test_progress.py: progress of a running task through real processes
(PROTOCOL.md, HEARTBEAT done/total/unit and the `progress` event). A train
worker with MLOPS_TASK_BUSY_MS computes for a while and reports how many of
those milliseconds it has done; the broker keeps the latest report with an
estimate and shows it in STATUS (`mlops status`), and `mlops retrain
--wait` prints the progress events, at most one a second per task."""
import os
import re

from procs import TITANIC, Broker, wait_for

SOURCE = TITANIC if os.path.exists(TITANIC) else "synthetic:891:42"
BUSY_MS = 4000


def slow_pipeline(procs):
    broker = Broker(procs, extra=["--families", "logreg"])
    for stage in ("extract", "preprocess", "evaluate", "load_model"):
        broker.worker(stage)
    broker.worker("train", {"MLOPS_TASK_BUSY_MS": str(BUSY_MS)})
    wait_for(lambda: len(broker.status()["workers"]) == 5, what="workers")
    return broker


def train_progress(broker):
    """The progress STATUS shows for the train worker, else None."""
    for w in broker.status()["workers"]:
        if w["stage"] == "train" and w.get("progress"):
            return w["progress"]
    return None


def test_status_shows_a_running_tasks_progress(procs):
    broker = slow_pipeline(procs)
    run_id = broker.request("RETRAIN", {"source": SOURCE})["run_id"]
    shown = wait_for(lambda: train_progress(broker), timeout=30, what="train progress")
    done, total = map(int, re.match(r"(\d+)/(\d+) ms \(\d+%", shown).groups())
    assert total == BUSY_MS and 0 <= done <= total
    out = broker.cli("status")
    assert out.returncode == 0, out.stderr
    # the CLI prints it under the worker's line, unless the task ended meanwhile
    assert "progress " in out.stdout or train_progress(broker) is None
    run = broker.wait_run(run_id, timeout=60)
    assert run["state"] == "succeeded", run["error"]
    # a task's progress goes with its RESULT
    assert train_progress(broker) is None
    assert all("progress" not in w for w in broker.status()["workers"])


def test_retrain_wait_prints_progress_with_an_estimate(procs):
    broker = slow_pipeline(procs)
    out = broker.cli("retrain", "--source", SOURCE, "--wait", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [l for l in out.stdout.splitlines() if re.search(r"-train-logreg +\d+/%d ms" % BUSY_MS, l)]
    assert lines, out.stdout
    assert any("s left)" in l for l in lines), lines
    # published at most once a second per task (the heartbeats come every 200 ms)
    run = broker.run(1)
    train = next(t for t in run["tasks"] if t["task_id"] == "1-train-logreg")
    assert len(lines) <= (train["ended_ms"] - train["started_ms"]) // 1000 + 1, lines
