"""test_progress.py: progress of a running task through real processes
(PROTOCOL.md, HEARTBEAT done/total/unit and the `progress` event). A train
worker with MLOPS_TASK_BUSY_MS computes for a while and reports how many of
those milliseconds it has done; the broker keeps the latest report with an
estimate and shows it in STATUS (`mlops status`), and `mlops retrain
--wait` prints the progress events, at most one a second per task; the
dashboard shows it under the running run. A worker played by hand shows a
malformed progress HEARTBEAT refused while the broker goes on."""
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


def test_bad_progress_is_refused_and_the_broker_goes_on(procs):
    # a stage worker played by hand: the broker keeps and publishes a sound
    # report, drops a malformed HEARTBEAT as a bad frame, and carries on
    import zmq
    from wire import pack, unpack
    broker = Broker(procs)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"progress")
    sub.connect(broker.events)
    worker = zmq.Context.instance().socket(zmq.DEALER)
    worker.setsockopt(zmq.LINGER, 0)
    worker.connect(broker.work)
    worker.send(pack("READY", {"stage": "extract", "host": "fake", "pid": 4242}))
    wait_for(lambda: broker.status()["workers"], what="the worker")
    broker.request("RETRAIN", {"source": "synthetic:500:7"})

    def task():
        worker.send(pack("HEARTBEAT", {"task_id": ""}))
        if worker.poll(100):
            command, body = unpack(worker.recv())
            return body if command == "TASK" else None
    task_id = wait_for(task, what="the TASK")["task_id"]

    def beat(done, total, unit, version=2):
        worker.send(pack("HEARTBEAT", {"task_id": task_id, "done": done, "total": total,
                                       "unit": unit}, version=version))

    def shown():
        return next(w.get("progress") for w in broker.status()["workers"])
    beat(3, 10, "rows")
    assert wait_for(shown, what="progress in STATUS") == "3/10 rows (30%)"

    def event():
        # reported again until the SUB, subscribed late (slow joiner), hears one
        beat(3, 10, "rows")
        return sub.recv_multipart() if sub.poll(200) else None
    topic, frame = wait_for(event, what="a progress event")
    command, event = unpack(frame)
    assert topic == b"progress" and command == "EVENT"
    assert event["kind"] == "progress" and event["stage"] == "extract"
    assert event["message"] == "%s: 3/10 rows (30%%)" % task_id
    for bad in ((11, 10, "rows", 2), (-1, 10, "rows", 2), (1, 10, "k" * 16, 2),
                (1, 10, "Rows", 2), (1, 10, "", 2), (1, 10, "rows", 1)):
        beat(*bad)
    beat(4, 10, "rows")   # after the bad ones on the same socket: the first change seen
    assert wait_for(lambda: shown() != "3/10 rows (30%)" and shown(), what="next report") \
        .startswith("4/10 rows (40%")
    log = procs.log(broker.proc)
    assert '"done" 11 is not in 0..10' in log and "needs version 2" in log
    assert broker.status()["active_run"] == 1


def test_dashboard_shows_the_running_stages_progress(procs):
    # the dashboard reads /api/workers (the broker's STATUS through the
    # gateway) and shows a running task's progress under its run
    import pytest
    pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed")
    from procs import Gateway
    from test_dashboard_browser import chromium
    broker = slow_pipeline(procs)
    gw = Gateway(procs, "--broker", broker.control)
    driver_gen = chromium()
    driver = next(driver_gen)
    try:
        driver.get(gw.url + "/")
        broker.request("RETRAIN", {"source": SOURCE})

        def shown():
            return driver.execute_script(
                "const e = document.querySelector('#runs .progress'); return e ? e.innerText : ''")
        text = wait_for(shown, timeout=30, what="progress on the dashboard")
        assert re.match(r"train:logreg \d+/%d ms \(\d+%%" % BUSY_MS, text), text
    finally:
        next(driver_gen, None)   # runs the rest of chromium(): quit, profile removed
