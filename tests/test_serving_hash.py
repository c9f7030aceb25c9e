"""test_serving_hash.py: an inference worker gets its model by hash (issue 14
item 3, issue 15 point 3): the broker answers GET_MODEL by_hash with the
registry's sha256 and size, and the worker fetches the bytes from the
broker's data service (found from --broker as the stage workers find it),
through real processes on loopback.

- a worker fetches v1 by hash from the data service, and a worker with
  --cache-dir keeps it under the registry's sha256; one whose --data names
  no service gets it inline after one silent wait;
- a worker whose --data names a data service that serves other bytes under
  the registry's name refuses them: the error names both hashes, it goes on
  serving what it had (SERVING reports v0), and the broker's load wait
  names it as lagging.
Infer workers connect to a gateway endpoint nobody binds: only what they
fetch and tell the broker is under test here.
"""
import hashlib
import os
import threading

import msgpack
import zmq

from procs import Broker, bind_free, free_endpoint, read_log, start_infer, wait_for

SOURCE = "synthetic:400:7"


def serving(broker):
    return {w["pid"]: w["model_version"] for w in broker.status()["serving"]}


def infer(procs, broker, *extra):
    return start_infer(procs, free_endpoint(), "--broker", broker.control, "--events", broker.events,
                       "--report", "200ms", *extra)


def test_a_worker_fetches_its_model_by_hash(procs):
    broker = Broker(procs)
    broker.all_workers(trains=1)
    cache = os.path.join(procs.tmp, "infer-cache")
    plain, cached = infer(procs, broker), infer(procs, broker, "--cache-dir", cache)
    nowhere = free_endpoint()   # no data service there: the worker falls back to inline bytes
    lost = infer(procs, broker, "--data", nowhere)
    wait_for(lambda: serving(broker) == {plain.pid: 0, cached.pid: 0, lost.pid: 0}, what="all reporting")
    broker.request("RETRAIN", {"source": SOURCE, "reason": "by hash"})
    run = broker.wait_run(1, timeout=120)
    assert run["state"] == "succeeded" and run["promoted"], run
    wait_for(lambda: serving(broker) == {plain.pid: 1, cached.pid: 1, lost.pid: 1}, what="all serving v1")
    [version] = broker.models()["versions"]
    for p in (plain, cached):
        log = read_log(p)
        assert "artifacts by hash from data=%s" % broker.data in log, log
        assert "artifact of version 1 fetched by hash from the data service" in log, log
        assert "received inline" not in log
    log = read_log(lost)
    assert "not fetched from %s: the data service %s did not answer within 3000 ms: artifacts come " \
        "inline from now on" % (nowhere, nowhere) in log, log
    assert "artifact of version 1 received inline" in log
    assert os.listdir(cache) == [version["sha256"]]   # kept under the registry's name
    with open(os.path.join(cache, version["sha256"]), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == version["sha256"]


class LyingDataService:
    """A data service (PROTOCOL.md section 15) that serves `bytes_` under
    whatever name it is asked for, on a free port; counts the GETs."""

    def __init__(self, bytes_):
        self.bytes = bytes_
        self.gets = 0
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.endpoint = "tcp://127.0.0.1:%d" % bind_free(self.sock)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            if not self.sock.poll(50):
                continue
            peer, head = self.sock.recv_multipart()[:2]
            h = msgpack.unpackb(head)
            self.gets += 1
            part = self.bytes[h["offset"]:h["offset"] + h["size"]]
            out = dict(h, cmd="CHUNK", size=len(part), total=len(self.bytes))
            self.sock.send_multipart([peer, msgpack.packb(out), part])

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_bytes_that_fail_the_registrys_hash_are_refused(procs):
    broker = Broker(procs, extra=["--load-wait", "2s"])
    broker.all_workers(trains=1)
    liar = LyingDataService(b"not the model the registry names")
    try:
        duped = infer(procs, broker, "--data", liar.endpoint)
        wait_for(lambda: serving(broker) == {duped.pid: 0}, what="the worker reporting")
        broker.request("RETRAIN", {"source": SOURCE, "reason": "lied to"})
        run = broker.wait_run(1, timeout=120)
        [version] = broker.models()["versions"]
        got = hashlib.sha256(liar.bytes).hexdigest()
        refusal = "version 1 refused: blob %s: the bytes received hash to %s: still serving version 0" % (
            version["sha256"], got)
        wait_for(lambda: refusal in read_log(duped), what="the refusal logged")
        assert liar.gets >= 2   # the size, then the bytes
        # what it had goes on, and the broker hears it: the wait names it lagging
        assert run["state"] == "succeeded" and run["promoted"], run
        assert "1 of 1 inference workers lag: " in run["outcome"] and "serves v0" in run["outcome"], run
        assert serving(broker) == {duped.pid: 0}
        assert "artifact of version 1" not in read_log(duped)
    finally:
        liar.close()
