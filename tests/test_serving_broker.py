"""test_serving_broker.py: serving with the real broker: infer workers fetch
the production model from mlops-broker, follow promotions and rollbacks
under load without a non-2xx answer, and keep serving when the broker stops.
Models come from real retrain runs (stage workers on synthetic data)."""
import signal
import subprocess
import time

import pytest
import requests
import zmq

from procs import BIN, exe, free_endpoint, free_port_run
from serving_util import PASSENGER, Gateway, pack, unpack
from test_serving_infer import Load


class Broker:
    def __init__(self, procs, store):
        self.work = free_endpoint()
        self.port = free_port_run(2)   # control P, events P + 1 (PROTOCOL.md's layout)
        self.control = "tcp://127.0.0.1:%d" % self.port
        self.proc = procs.start("broker", [exe("mlops-broker"), "--store", store, "--work", self.work,
                                           "--control", self.control, "--events",
                                           "tcp://127.0.0.1:%d" % (self.port + 1)])
        for stage in ("extract", "preprocess", "train", "train", "evaluate", "load_model"):
            procs.start("stage-" + stage, [exe("mlops-worker"), "--stage", stage, "--broker",
                                           self.work])
        self.ctx = zmq.Context()

    def request(self, command, body, timeout_ms=10000):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.control)
        try:
            s.send(pack(command, body))
            assert s.poll(timeout_ms), "no REPLY to " + command
            name, reply = unpack(s.recv())
            assert name == "REPLY" and reply["ok"], reply
            return reply["data"]
        finally:
            s.close()

    def retrain(self, source):
        r = subprocess.run([BIN + "/mlops", "retrain", "--broker", self.control, "--source", source,
                            "--wait", "--timeout", "60s"], capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr

    def close(self):
        self.ctx.term()


@pytest.fixture
def stack(procs, tmp_path):
    broker = Broker(procs, str(tmp_path / "store"))
    yield procs, broker
    broker.close()


def test_promotions_under_load_and_broker_stopped(stack):
    procs, broker = stack
    broker.retrain("synthetic:800:1")
    broker.retrain("synthetic:800:2")
    models = broker.request("MODELS", {})
    versions = sorted(v["version"] for v in models["versions"])
    assert versions[:2] == [1, 2], versions
    if models["production"] != 1:
        broker.request("PROMOTE", {"version": 1, "reason": "test"})
    gw = Gateway(procs)
    for _ in range(2):
        procs.start("infer", [exe("mlops-worker"), "--stage", "infer", "--gateway", gw.backend,
                              "--broker", broker.control])
    gw.wait_workers(2, version=1, timeout=20)
    load = Load(gw.url)
    end, v = time.time() + 10, 1
    while time.time() < end:   # promote and roll back every 200 ms for 10 s
        v = 3 - v
        broker.request("PROMOTE" if v == 2 else "ROLLBACK", {"version": 2, "reason": "t"} if v == 2
                       else {"reason": "t"})
        time.sleep(0.2)
    answers = load.finish()
    assert not load.errors, load.errors[:3]
    assert len(answers) > 100 and [a for a in answers if a[0] != 200] == []
    assert {a["model_version"] for _, a in answers} <= {1, 2}
    assert len({a["model_version"] for _, a in answers}) == 2
    # the broker stops: predictions go on with the model in hand
    broker.proc.send_signal(signal.SIGTERM)
    broker.proc.wait(10)
    served = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5).json()["model_version"]
    for _ in range(30):
        r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
        assert r.status_code == 200 and r.json()["model_version"] == served
        time.sleep(0.05)
    assert gw.health().json()["status"] == "ok"
