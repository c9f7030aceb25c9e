"""test_data_refs.py: stage payloads by reference (PROTOCOL.md sections 14
and 15) through real processes: TASK and RESULT messages stay small while
the data goes through the data service; a second run over the same data
fetches nothing (the workers' blob cache); a forged dataset version and a
RESULT naming a blob never uploaded are refused and retried; a worker
killed half-way through an upload leaves nothing behind and the retry
succeeds. Counts come from the processes' own log lines (`dispatch ...
bytes=`, `task done ... bytes=`, `fetched ... from=`)."""
import hashlib
import os
import re

import msgpack

from procs import STAGES, Broker, read_log, wait_for
from test_interop_control import FakeWorker
from test_interop_data import answer, data_socket, head

SMALL = 2048                  # bytes: the largest TASK or RESULT of a run (evaluate's input)
SOURCE = "synthetic:20000:3"  # about 1.5 MB of table: many times SMALL


def _numbers(pattern, procs_):
    return [int(n) for p in procs_ for n in re.findall(pattern, read_log(p))]


def _fetches(workers, where):
    return len(_numbers(r"fetched \w+ hash=\w+ bytes=(\d+) from=" + where, workers))


def _run(broker, source, run_id, timeout=120.0):
    broker.request("RETRAIN", {"source": source})
    run = broker.wait_run(run_id, timeout=timeout)
    assert run["state"] == "succeeded", run
    return run


def test_messages_stay_small_and_a_second_run_fetches_nothing(procs):
    broker = Broker(procs)
    # one cache per worker, as on hosts of their own: each fetches what it needs once
    workers = [broker.worker(stage, extra=("--cache-dir", os.path.join(procs.tmp, "cache-%d" % i)))
               for i, stage in enumerate(STAGES + ["train"])]
    wait_for(lambda: len(broker.status()["workers"]) == len(workers), what="workers ready")
    run = _run(broker, SOURCE, 1)
    tasks = _numbers(r"dispatch task=\S+ attempt=\d+ worker=\S+ bytes=(\d+)", [broker.proc])
    results = _numbers(r"task done task=\S+ ms=\d+ bytes=(\d+)", workers)
    table = _numbers(r"dataset \w+ rows=20000 cols=\d+ bytes=(\d+)", [broker.proc])
    assert len(tasks) == len(run["tasks"]) and len(results) == len(run["tasks"])
    assert max(tasks) < SMALL and max(results) < SMALL, (tasks, results)
    assert table and table[0] > 100 * SMALL        # the data itself went beside them
    fetched = _fetches(workers, "service")
    assert fetched > 0
    cached = _fetches(workers, "cache")
    # the same data again: every blob is in the workers' cache already
    _run(broker, SOURCE, 2)
    assert _fetches(workers, "service") == fetched
    assert _fetches(workers, "cache") > cached


def _upload(sock, blob):
    """Stores blob through the data service (PROTOCOL.md 15); its ref."""
    name = hashlib.sha256(blob).hexdigest()
    sock.send_multipart([head("PUT", name, size=len(blob), total=len(blob)), blob])
    assert answer(sock)[0]["cmd"] == "STORED"
    return {"hash": name, "size": len(blob)}


def _output(**refs):
    return msgpack.packb({"v": 2, **refs}, use_bin_type=True)


def test_forged_dataset_version_is_refused(procs):
    broker = Broker(procs, extra=["--max-attempts", "3", "--liveness", "100"])
    w = FakeWorker(broker.work, "extract")
    wait_for(lambda: len(broker.status()["workers"]) == 1, what="fake worker known")
    broker.request("RETRAIN", {"source": "synthetic:100"})
    # a dataset version of bytes nobody uploaded
    task = w.next("TASK")
    forged = hashlib.sha256(b"a table I never sent").hexdigest()
    w.result(task, True, output=_output(table={"hash": forged, "size": 20}))
    task = w.next("TASK")
    assert task["attempt"] == 2
    error = broker.run(1)["tasks"][0]["error"]
    assert "extract output: table %s was never uploaded" % forged[:12] in error, error
    # bytes that were uploaded but are no table
    not_a_table = _upload(data_socket(broker), b"just some bytes")
    w.result(task, True, output=_output(table=not_a_table))
    task = w.next("TASK")
    error = broker.run(1)["tasks"][0]["error"]
    assert "is not a table: table: not the head of an encoded table" in error, error
    # a size other than the stored one
    w.result(task, True, output=_output(table=dict(not_a_table, size=999)))
    run = broker.wait_run(1)
    assert run["state"] == "failed" and run["dataset_hash"] == ""
    assert "has 15 bytes, the output says 999" in run["error"], run["error"]
    assert broker.status()["active_run"] == 0       # and the broker goes on


def test_result_naming_a_blob_never_uploaded_is_refused(procs):
    broker = Broker(procs, extra=["--families", "logreg", "--liveness", "100"])
    broker.worker("extract")
    broker.worker("preprocess")
    w = FakeWorker(broker.work, "train")
    wait_for(lambda: len(broker.status()["workers"]) == 3, what="workers known")
    broker.request("RETRAIN", {"source": "synthetic:500"})
    task = w.next("TASK", timeout=60, heartbeat=True)
    assert task["task_id"] == "1-train-logreg"
    ghost = hashlib.sha256(b"an artifact never uploaded").hexdigest()
    metrics = {k: 0.5 for k in ("accuracy", "precision", "recall", "f1", "auc", "log_loss")}
    metrics.update({"tp": 1, "fp": 1, "tn": 1, "fn": 1})
    w.result(task, True, output=_output(family="logreg", params="{}",
                                        artifact={"hash": ghost, "size": 10}, metrics=metrics))
    retry = w.next("TASK", heartbeat=True)
    assert retry["task_id"] == "1-train-logreg" and retry["attempt"] == 2
    error = broker.run(1)["tasks"][2]["error"]
    assert ("train output: artifact %s was never uploaded (the data service does not have it)"
            % ghost[:12]) in error, error
    assert broker.models()["versions"] == []        # nothing registered from it


def test_worker_killed_mid_upload_then_the_retry_succeeds(procs):
    broker = Broker(procs)
    # this extract worker dies right after the second chunk of its table
    doomed = broker.worker("extract", env={"MLOPS_DATA_PUT_EXIT_AFTER": "2"})
    for stage in ("preprocess", "train", "evaluate", "load_model"):
        broker.worker(stage)
    wait_for(lambda: len(broker.status()["workers"]) == 5, what="workers ready")
    broker.request("RETRAIN", {"source": "synthetic:60000:2"})   # a table of several chunks
    wait_for(lambda: doomed.poll() is not None, what="the doomed worker to die mid-upload")
    assert doomed.returncode == 3
    assert "uploaded table" not in read_log(doomed)
    broker.worker("extract")
    run = broker.wait_run(1, timeout=120)
    assert run["state"] == "succeeded", run
    extract = run["tasks"][0]
    assert extract["attempts"] == 2 and extract["state"] == "done"
