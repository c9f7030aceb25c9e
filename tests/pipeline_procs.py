"""pipeline_procs.py: helpers of the pipeline's multi-process tests: a
broker and stage workers started as real processes (tests/procs.py: free
ports, stopped by pid) in a fresh store, and a control client written from
proto/PROTOCOL.md alone (pyzmq + msgpack)."""
import os
import subprocess

import msgpack
import zmq

from procs import exe, free_port, wait_for

STAGES = ["extract", "preprocess", "train", "evaluate", "load_model"]


class Broker:
    """A real mlops-broker on free loopback ports with its own store."""

    def __init__(self, procs, store=None, ports=None, extra=()):
        self.procs = procs
        self.store = store or os.path.join(procs.tmp, "store")
        self.ports = ports or (free_port(), free_port(), free_port())
        self.work = "tcp://127.0.0.1:%d" % self.ports[0]
        self.control = "tcp://127.0.0.1:%d" % self.ports[1]
        self.events = "tcp://127.0.0.1:%d" % self.ports[2]
        self.extra = list(extra)
        self.start()

    def start(self):
        self.proc = self.procs.start("broker", [
            exe("mlops-broker"), "--store", self.store, "--work", self.work,
            "--control", self.control, "--events", self.events, "--heartbeat", "200ms",
            "--backoff", "100ms"] + self.extra)
        wait_for(lambda: self.try_request("STATUS", {}) is not None, what="broker up")

    def kill(self):
        self.procs.kill(self.proc)

    def worker(self, stage, env=None):
        """A stage worker; env: variables added to ours."""
        return self.procs.start("worker-" + stage, [
            exe("mlops-worker"), "--stage", stage, "--broker", self.work,
            "--heartbeat", "200ms"], env=dict(os.environ, **env) if env else None)

    def all_workers(self, trains=2, env=None):
        out = []
        for stage in STAGES:
            for _ in range(trains if stage == "train" else 1):
                out.append(self.worker(stage, env))
        wait_for(lambda: len(self.status()["workers"]) == len(out), what="workers ready")
        return out

    # --- the control client, from PROTOCOL.md section 5.2 / 9 ---
    def reply(self, command, body, timeout_ms=5000):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.control)
        try:
            sock.send(msgpack.packb([1, command, body], use_bin_type=True))
            if not sock.poll(timeout_ms):
                return None
            version, name, reply = msgpack.unpackb(sock.recv(), raw=False)
            assert version == 1 and name == "REPLY", (version, name)
            return reply
        finally:
            sock.close()

    def try_request(self, command, body):
        r = self.reply(command, body, timeout_ms=300)
        return r["data"] if r and r["ok"] else None

    def request(self, command, body):
        r = self.reply(command, body)
        assert r is not None, "no REPLY to %s" % command
        assert r["ok"], "%s refused: %s" % (command, r["error"])
        return r["data"]

    def status(self):
        return self.request("STATUS", {})

    def runs(self, limit=50):
        return self.request("RUNS", {"limit": limit})["runs"]

    def run(self, run_id):
        for r in self.runs():
            if r["id"] == run_id:
                return r
        return None

    def models(self):
        return self.request("MODELS", {})

    def wait_run(self, run_id, timeout=30.0):
        return wait_for(lambda: (lambda r: r if r and r["state"] in ("succeeded", "failed")
                                 else None)(self.run(run_id)), timeout=timeout,
                        what="run %d to end" % run_id)

    def cli(self, *args, timeout=60):
        return subprocess.run([exe("mlops")] + list(args) + ["--control", self.control,
                                                               "--events", self.events],
                              capture_output=True, text=True, timeout=timeout)

