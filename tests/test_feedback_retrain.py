"""test_feedback_retrain.py: labelled live rows persisted through the
broker and trained on. A real broker, gateway and inference worker: rows
predicted and labelled at the gateway reach the broker's feedback set
(FEEDBACK, counted on its answer and its /metrics), survive a gateway
restart and a broker restart, a duplicate (request id, index) is refused
and counted, the byte cap rotates the oldest out; a gateway whose broker
is away keeps answering and sends the rows once the broker is back."""
import json
import os
import subprocess

import pytest
import requests
import zmq

import wire
from procs import BIN, TITANIC, Broker, Gateway, start_infer, wait_for
from serving_util import PASSENGER, train_artifact

VERSION = 4


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return train_artifact(tmp_path_factory.mktemp("feedback_retrain"))


def feedback_set(broker, rows=None):
    """The broker's FEEDBACK answer (rows: a list of row maps to store)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    try:
        body = {"rows": wire.msgpack.packb(rows, use_bin_type=True)} if rows else {}
        return wire.data(wire.exchange(sock, wire.pack("FEEDBACK", body, version=2)), "FEEDBACK")
    finally:
        sock.close()


def _serve(procs, broker, artifact, port=None, backend_port=None):
    gw = Gateway(procs, "--broker", broker.control, port=port, backend_port=backend_port)
    start_infer(procs, gw.backend, "--model", artifact, "--model-version", str(VERSION))
    gw.wait_workers(1, version=VERSION)
    return gw


def _label(gw, n, label=1):
    """n predictions labelled; their request ids."""
    ids = []
    for i in range(n):
        rid = requests.post(gw.url + "/predict", json=dict(PASSENGER, Age=20 + i), timeout=5).json()["request_id"]
        r = requests.post(gw.url + "/feedback", data=json.dumps({"request_id": rid, "label": label}),
                          headers={"Content-Type": "application/json"}, timeout=5)
        assert r.status_code == 200, r.text
        ids.append(rid)
    return ids


def test_rows_reach_the_broker_and_survive_restarts(procs, artifact):
    broker = Broker(procs)
    gw = _serve(procs, broker, artifact)
    _label(gw, 5)
    s = wait_for(lambda: (lambda a: a if a["rows"] == 5 else None)(feedback_set(broker)), what="5 rows stored")
    assert s["stored_total"] == 5 and s["rotated_total"] == 0 and s["max_bytes"] == 64 << 20
    assert wait_for(lambda: requests.get(gw.url + "/api/feedback", timeout=5).json()["forwarded"] == 5)
    # a row is what was predicted: the record's fields, the label, the version
    row = {"request_id": "manual-1", "index": 0, "version": VERSION, "record": {"Age": 30.0, "Sex": "female"},
           "label": 1, "time_ms": 1}
    assert feedback_set(broker, [row])["stored"] == 1
    again = feedback_set(broker, [row])
    assert again["stored"] == 0 and again["duplicate"] == 1 and again["duplicate_total"] == 1
    # the gateway restarts (its log is gone): the broker still has the rows
    procs.kill(gw.proc)
    gw = _serve(procs, broker, artifact, port=gw.port, backend_port=gw.backend_port)
    assert feedback_set(broker)["rows"] == 6
    # so does a broker restart
    broker.kill()
    broker.start()
    s = feedback_set(broker)
    assert s["rows"] == 6 and s["duplicate_total"] == 1


def test_cap_rotates_the_oldest(procs, artifact):
    broker = Broker(procs, extra=("--feedback-max-bytes", "2K"))
    gw = _serve(procs, broker, artifact)
    _label(gw, 20, label=0)
    s = wait_for(lambda: (lambda a: a if a["stored_total"] == 20 else None)(feedback_set(broker)),
                 what="20 rows sent")
    assert s["bytes"] <= 2048 and s["rows"] < 20 and s["rotated_total"] == 20 - s["rows"]
    assert s["max_bytes"] == 2048


def test_broker_away_then_back(procs, artifact):
    broker = Broker(procs)
    broker.kill()
    gw = _serve(procs, broker, artifact)
    _label(gw, 3)   # answered while the broker is away
    assert requests.get(gw.url + "/api/feedback", timeout=5).json()["forwarded"] == 0
    broker.start()
    wait_for(lambda: feedback_set(broker)["rows"] == 3, timeout=30, what="rows sent once the broker is back")


def test_bad_rows_and_flag(procs):
    broker = Broker(procs)
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    bad = wire.msgpack.packb([{"request_id": "x", "index": 0, "version": 1, "record": {"a": [1]},
                               "label": 1, "time_ms": 0}], use_bin_type=True)
    r = wire.exchange(sock, wire.pack("FEEDBACK", {"rows": bad}, version=2))
    assert not r["ok"] and "feedback row 0" in r["error"] and r["code"] == "invalid"
    sock.close()
    r = subprocess.run([os.path.join(BIN, "mlops-broker"), "--feedback-max-bytes", "10"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--feedback-max-bytes" in r.stderr


SOURCE = TITANIC if os.path.exists(TITANIC) else None


@pytest.mark.skipif(SOURCE is None, reason="the Titanic CSV is not there")
def test_retrain_on_source_plus_feedback(procs, artifact):
    """`mlops retrain --source csv:PATH+feedback --wait`: extract's table is
    the CSV's rows and then the labelled live rows (the log says how many of
    each), and the run goes through; with an empty set the run fails saying
    so."""
    broker = Broker(procs)
    broker.all_workers(trains=1)
    empty = broker.cli("retrain", "--source", "csv:%s+feedback" % SOURCE, "--wait", timeout=120)
    assert empty.returncode != 0
    run = broker.runs()[0]
    assert run["state"] == "failed" and "the feedback set is empty" in run["error"], run
    gw = _serve(procs, broker, artifact)
    _label(gw, 3)
    r = requests.post(gw.url + "/predict/batch", json={"instances": [PASSENGER, dict(PASSENGER, Sex="female")]},
                      timeout=5).json()
    items = [{"request_id": r["request_id"], "index": i, "label": i} for i in range(2)]
    assert requests.post(gw.url + "/feedback", data=json.dumps({"items": items}),
                         headers={"Content-Type": "application/json"}, timeout=5).json()["accepted"] == 2
    wait_for(lambda: feedback_set(broker)["rows"] == 5, what="5 rows stored")
    with open(SOURCE) as f:
        source_rows = sum(1 for line in f if line.strip()) - 1
    out = broker.cli("retrain", "--source", "csv:%s+feedback" % SOURCE, "--wait", timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    run = broker.runs()[0]
    assert run["state"] == "succeeded" and run["source"] == "csv:%s+feedback" % SOURCE
    logs = broker.cli("logs", str(run["id"]))
    assert "extract: %d source rows and 5 feedback rows" % source_rows in logs.stdout, logs.stdout
    # the same CSV without the join is another dataset (fewer rows)
    plain = broker.cli("retrain", "--source", "csv:" + SOURCE, "--wait", timeout=180)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert broker.runs()[0]["dataset_hash"] != run["dataset_hash"]
    # a label that does not fit the target column (sent straight to the
    # broker: the gateway refuses it for a binary model) fails the run, naming it
    row = {"request_id": "odd-1", "index": 0, "version": VERSION, "record": {"Age": 30.0}, "label": "yes",
           "time_ms": 1}
    assert feedback_set(broker, [row])["stored"] == 1
    bad = broker.cli("retrain", "--source", "csv:%s+feedback" % SOURCE, "--wait", timeout=180)
    assert bad.returncode != 0
    run = broker.runs()[0]
    assert run["state"] == "failed" and 'label "yes" is not a number, as column Survived is' in run["error"], run
