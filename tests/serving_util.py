"""serving_util.py: Python peers for the serving tests (tests/test_serving*.py,
test_api.py, test_load_wait.py, bench/api_latency.py): a fake inference
worker and a fake broker that speak MLOPS/1 through tests/wire.py, so the
gateway can be driven into every corner without a trained model, and the
real infer worker can be fed promotions without a real broker. Real
processes (the gateway, the broker) are tests/procs.py's.
"""
import hashlib
import os
import subprocess
import threading
import time

import zmq

from procs import BIN, TITANIC, free_port_run
from wire import pack, unpack

def train_artifact(directory, name="m.art"):
    """`mlops train --out`: an artifact of the real Titanic file (a
    synthetic source where it is absent) in directory; its path."""
    out = os.path.join(str(directory), name)
    source = TITANIC if os.path.exists(TITANIC) else "synthetic:1500:3"
    r = subprocess.run([os.path.join(BIN, "mlops"), "train", "--source", source, "--out", out],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


PASSENGER = {"Pclass": 3, "Sex": "male", "Age": 22, "SibSp": 1, "Parch": 0, "Fare": 7.25,
             "Embarked": "S", "Name": "Braund, Mr. Owen Harris"}


class FakeWorker:
    """An inference worker in Python. mode: "echo" answers probability =
    Age/100 (0.5 without Age) and remembers what it got; "silent" never
    answers; "slow" answers as "echo" after 0.5 s; "error" answers ERROR 422
    naming each field called "bad"; "short" answers as "echo" with the last
    record left out; "uneven" as "echo" with one probability fewer than
    predictions (a PREDICTION that does not decode). pins: it sends
    SIGNATURE after READY, so the gateway sends it pinned PREDICTs too."""

    def __init__(self, endpoint, version=1, mode="echo", host="fake", pins=False):
        self.endpoint, self.version, self.mode, self.host = endpoint, version, mode, host
        self.pins = pins
        self.received = []
        self.disconnects = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _answer(self, sock, body):
        req_id, records = body["req_id"], body["records"]
        self.received.append(records)
        if self.mode == "silent":
            return
        if self.mode == "slow":
            time.sleep(0.5)
        if self.mode == "error":
            detail = [{"index": i, "field": k, "msg": "is bad"}
                      for i, r in enumerate(records) for k in r if k == "bad"]
            sock.send(pack("ERROR", {"req_id": req_id, "status": 422, "message": "bad records",
                                     "detail": detail}))
            return
        probs = [float(r["Age"]) / 100 if isinstance(r.get("Age"), (int, float)) else 0.5 for r in records]
        predictions = [int(p >= 0.5) for p in probs]
        if self.mode == "short":
            probs, predictions = probs[:-1], predictions[:-1]
        if self.mode == "uneven":
            probs = probs[:-1]
        sock.send(pack("PREDICTION", {"req_id": req_id, "model_version": self.version,
                                      "predictions": predictions, "probabilities": probs}))

    def _run(self):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        sock.send(pack("READY", {"stage": "infer", "host": self.host, "pid": os.getpid(),
                                 "model_version": self.version}))
        if self.pins:
            sock.send(pack("SIGNATURE", {"model_version": self.version, "signature": "{}"}, version=2))
        last = time.time()
        while not self.stop_flag.is_set():
            if sock.poll(50):
                command, body = unpack(sock.recv())
                if command == "PREDICT":
                    self._answer(sock, body)
                elif command == "DISCONNECT":
                    self.disconnects.append(body["reason"])
            if time.time() - last > 0.5:
                sock.send(pack("HEARTBEAT", {"task_id": "", "model_version": self.version}))
                last = time.time()
        sock.close()
        ctx.term()

    def close(self):
        self.stop_flag.set()
        self.thread.join(5)


class FakeBroker:
    """The broker's control ROUTER (answers GET_MODEL with artifacts held in
    memory, inline, refusing GET_MODEL's by_hash as a broker older than it
    does; with answer_serving, SERVING with the production version) and
    events PUB (publishes `model` events), on free ports."""

    def __init__(self, artifacts, port=None, events_port=None, answer_serving=False):
        self.artifacts = {v: (data, hashlib.sha256(data).hexdigest()) for v, data in artifacts.items()}
        self.production = min(self.artifacts)
        self.answer_serving = answer_serving
        self.requests = []
        self.ctx = zmq.Context()
        self.control = self.ctx.socket(zmq.ROUTER)
        self.control.setsockopt(zmq.LINGER, 0)
        self.events = self.ctx.socket(zmq.PUB)
        self.events.setsockopt(zmq.LINGER, 0)
        # control on a free port P, events on P + 1 (PROTOCOL.md's layout)
        self.port = port or free_port_run(2)
        self.control.bind("tcp://127.0.0.1:%d" % self.port)
        self.events.bind("tcp://127.0.0.1:%d" % (events_port or self.port + 1))
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _reply(self, body):
        if "by_hash" in body:   # as a broker older than the key: the worker asks again without it
            return {"ok": False, "error": 'GET_MODEL: unknown key "by_hash" at byte 22', "data": None,
                    "code": "invalid"}
        version = body.get("version", 0) or self.production
        if version not in self.artifacts:
            return {"ok": False, "error": "no version %d" % version, "data": None}
        data, sha = self.artifacts[version]
        return {"ok": True, "error": "", "data": {"version": version, "sha256": sha,
                                                  "family": "x", "artifact": data}}

    def _answer(self, command, body):
        """The REPLY payload to a request, or None for no answer."""
        if command == "GET_MODEL":
            return pack("REPLY", self._reply(body))
        if command == "SERVING" and self.answer_serving:
            return pack("REPLY", {"ok": True, "error": "",
                                  "data": {"production_version": self.production}})
        return None

    def _run(self):
        while not self.stop_flag.is_set():
            if not self.control.poll(50):
                continue
            frames = self.control.recv_multipart()
            command, body = unpack(frames[-1])
            self.requests.append((command, body))
            answer = self._answer(command, body)
            if answer is not None:
                frames[-1] = answer
                self.control.send_multipart(frames)

    def promote(self, version):
        with self.lock:
            self.production = version
            self.events.send_multipart([b"model", pack("EVENT", {
                "kind": "model", "run_id": 0, "stage": "", "state": "production", "version": version,
                "message": "", "ts_ms": int(time.time() * 1000)})])

    def close(self):
        self.stop_flag.set()
        self.thread.join(5)
        self.control.close()
        self.events.close()
        self.ctx.term()
