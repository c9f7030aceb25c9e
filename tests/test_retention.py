"""test_retention.py: a real mlops-broker's --trigger-min-interval (a second
RETRAIN of one source within the interval is refused `unavailable`, naming
the limit; another source is not) and --keep-runs (after three runs the
store holds the newest one), and the collection of the data service's
objects that follows it (broker/retention.c, store_object_collect). The
rules in detail: tests/test_engine.c, tests/test_throttle.c and
tests/test_store.c."""
import hashlib
import os
import re

import requests

from procs import Broker, free_port, read_log, wait_for
from test_broker_metrics import parse, value
from test_interop_data import answer, data_socket, head

CHUNK = 1 << 20   # the data service's chunk (PROTOCOL.md 15)


def test_trigger_min_interval_refuses_the_same_source(procs):
    broker = Broker(procs, extra=["--trigger-min-interval", "1h"])
    first = broker.reply("RETRAIN", {"source": "synthetic:300:1", "reason": "a"})
    assert first["ok"], first
    again = broker.reply("RETRAIN", {"source": "synthetic:300:1", "reason": "b"})
    assert not again["ok"] and again["code"] == "unavailable", again
    assert "source synthetic:300:1 was triggered less than 1h ago (--trigger-min-interval)" in again["error"]
    other = broker.reply("RETRAIN", {"source": "synthetic:300:2", "reason": "c"})
    assert other["ok"], other
    assert len(broker.runs()) == 2


def test_keep_runs_removes_older_ended_runs(procs):
    broker = Broker(procs, extra=["--keep-runs", "1"])
    broker.all_workers(trains=1)
    for seed in (1, 2, 3):
        run = broker.request("RETRAIN", {"source": "synthetic:300:%d" % seed, "reason": "r"})
        assert broker.wait_run(run["run_id"], timeout=60)["state"] == "succeeded"
    assert [r["id"] for r in broker.runs()] == [3]
    assert broker.models()["production"] >= 1
    assert "retention runs_removed=1" in procs.log(broker.proc)


def _stored(sock, name):
    """True when the data service has object name (GET of size 0)."""
    sock.send_multipart([head("GET", name)])
    return answer(sock)[0]["cmd"] == "CHUNK"


def test_keep_runs_collects_the_objects_only_removed_runs_named(procs):
    port = free_port()
    broker = Broker(procs, extra=["--keep-runs", "1", "--metrics", "127.0.0.1:%d" % port])
    broker.all_workers(trains=1)
    sock = data_socket(broker)
    # an upload in progress across both runs: its first chunk only
    pending = os.urandom(CHUNK + 10)
    name = hashlib.sha256(pending).hexdigest()
    sock.send_multipart([head("PUT", name, size=CHUNK, total=len(pending)), pending[:CHUNK]])
    assert answer(sock)[0]["cmd"] == "ACK"
    # two runs on different data (and sizes, so no split is shared)
    for run_id, source in ((1, "synthetic:300:1"), (2, "synthetic:400:2")):
        broker.request("RETRAIN", {"source": source, "reason": "r"})
        assert broker.wait_run(run_id, timeout=60)["state"] == "succeeded"
    assert [r["id"] for r in broker.runs()] == [2]
    # run 1 named seven objects (table, recipe, split, matrix, test table,
    # two artifacts); its version still names its table and artifact, so
    # five go
    log = procs.log(broker.proc)
    found = re.findall(r"objects collected=(\d+) bytes=(\d+)", log)
    assert [int(n) for n, _ in found] == [5], log
    collected_bytes = int(found[0][1])
    assert collected_bytes > 0

    def scraped():
        s = parse(requests.get("http://127.0.0.1:%d/metrics" % port, timeout=5).text)
        return s if value(s, "mlops_runs_total", state="succeeded") == 2 else None
    s = wait_for(scraped, what="both runs in the metrics")
    assert value(s, "mlops_store_objects_collected_total") == 5
    assert value(s, "mlops_store_objects_collected_bytes_total") == collected_bytes
    # production's artifact and dataset, and every version's, stay
    versions = broker.models()["versions"]
    assert len(versions) == 2
    for v in versions:
        assert _stored(sock, v["sha256"]) and _stored(sock, v["dataset_hash"]), v
    assert _stored(sock, broker.run(2)["dataset_hash"])
    # the upload in progress was not touched: it completes
    sock.send_multipart([head("PUT", name, offset=CHUNK, size=10, total=len(pending)),
                         pending[CHUNK:]])
    assert answer(sock)[0]["cmd"] == "STORED"
    assert _stored(sock, name)
