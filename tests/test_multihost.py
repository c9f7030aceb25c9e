"""test_multihost.py: the system across three hosts, played by network
namespaces this test creates and always removes.

    core  (broker + gateway)      10.200.1.1 / 10.200.2.1
      |  veth                       |  veth
    hosta (extract, train, infer)   hostb (preprocess, train, evaluate,
           10.200.1.2                     load_model, infer) 10.200.2.2

Every worker connects by IP address, never localhost. The test checks that a
retrain spreads its stages over both worker hosts, that predictions through
the gateway succeed, that cutting host A's link while it trains sends its task
to host B and the run still succeeds (with the extra attempt recorded), and
that restoring the link brings host A's workers back.

Needs root and iproute2; skipped otherwise. Traffic stays inside the
namespaces: nothing outside this machine is ever addressed.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from procs import BIN, Procs, read_log, wait_for
TAG = str(os.getpid())
NS_CORE, NS_A, NS_B = f"mlc{TAG}", f"mla{TAG}", f"mlb{TAG}"
CORE_A, CORE_B = "10.200.1.1", "10.200.2.1"
HOST_A, HOST_B = "10.200.1.2", "10.200.2.2"
RECORD = {"Pclass": 3, "Sex": "male", "Age": 22, "SibSp": 1, "Parch": 0,
          "Fare": 7.25, "Embarked": "S", "Name": "Braund, Mr. Owen Harris"}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="needs root and iproute2 to create network namespaces")


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


def ns(name, *args, check=True):
    return sh("ip", "netns", "exec", name, *args, check=check)


def sweep_stale():
    """Removes namespaces left by an earlier run of this test that was killed
    before its teardown (named after a pid that no longer exists)."""
    listed = sh("ip", "netns", "list", check=False).stdout.split("\n")
    for line in listed:
        name = line.split(" ")[0]
        if len(name) > 3 and name[:3] in ("mlc", "mla", "mlb") and name[3:].isdigit():
            if not os.path.exists(f"/proc/{int(name[3:])}") and name[3:] != TAG:
                sh("ip", "netns", "del", name, check=False)


class Topology:
    """The namespaces, veth pairs and processes of one test; teardown()
    removes all of it and is safe to call after a partial setup."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mlops-multihost-")
        self.procs = Procs(self.tmp)  # every process started here, stopped by pid
        self.made = []                # namespaces created so far

    def build(self):
        sweep_stale()
        for name in (NS_CORE, NS_A, NS_B):
            sh("ip", "netns", "add", name)
            self.made.append(name)
            ns(name, "ip", "link", "set", "lo", "up")
        for side, peer_ns, core_ip, host_ip in (("a", NS_A, CORE_A, HOST_A),
                                                ("b", NS_B, CORE_B, HOST_B)):
            core_if, host_if = f"c{side}{TAG}", f"h{side}{TAG}"
            sh("ip", "link", "add", core_if, "netns", NS_CORE, "type", "veth",
               "peer", "name", host_if, "netns", peer_ns)
            ns(NS_CORE, "ip", "addr", "add", f"{core_ip}/24", "dev", core_if)
            ns(NS_CORE, "ip", "link", "set", core_if, "up")
            ns(peer_ns, "ip", "addr", "add", f"{host_ip}/24", "dev", host_if)
            ns(peer_ns, "ip", "link", "set", host_if, "up")

    def start(self, name, namespace, *argv, env=None):
        """argv inside the namespace (`ip netns exec` execs it: same pid);
        env: variables added to ours."""
        return self.procs.start(name, ["ip", "netns", "exec", namespace, *argv],
                                env=dict(os.environ, **(env or {})))

    def log(self, name):
        """The end of the log of the last process started as name."""
        started = [p for p in self.procs.procs if p.name == name]
        return read_log(started[-1], 3000) if started else ""

    def teardown(self):
        self.procs.stop()
        for name in self.made:
            sh("ip", "netns", "del", name, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def mlops(*args, timeout=120):
    """Runs the CLI inside the core namespace (where the broker is 127.0.0.1)."""
    return subprocess.run(["ip", "netns", "exec", NS_CORE, f"{BIN}/mlops", *args],
                          capture_output=True, text=True, timeout=timeout)


def status():
    out = mlops("status", "--json", timeout=20)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def predict():
    out = ns(NS_CORE, "curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}",
             "-X", "POST", "http://127.0.0.1:8000/predict",
             "-H", "Content-Type: application/json", "-d", json.dumps(RECORD), check=False)
    body, _, code = out.stdout.rpartition("\n")
    return int(code or 0), body


def run_record(run_id):
    out = mlops("runs", "--json", "--limit", "20", timeout=20)
    assert out.returncode == 0, out.stderr
    for run in json.loads(out.stdout)["runs"]:
        if run["id"] == run_id:
            return run
    raise AssertionError(f"run {run_id} not listed")


@pytest.fixture
def topo():
    t = Topology()
    try:
        t.build()
        yield t
    finally:
        t.teardown()


def test_multihost_spread_cut_and_rejoin(topo):
    store = os.path.join(topo.tmp, "store")
    # Default 1 s heartbeats (3 s to declare a host lost): a loaded machine
    # must not make a live worker look dead.
    # Other hosts connect: listen on every interface, without keys (a test
    # network of namespaces), which must be said with --insecure.
    topo.start("broker", NS_CORE, f"{BIN}/mlops-broker", "--store", store,
               "--backoff", "200ms", "--listen", "*", "--insecure")
    topo.start("gateway", NS_CORE, f"{BIN}/mlops-gateway", "--port", "8000", "--listen", "*",
               "--insecure")
    w = f"{BIN}/mlops-worker"
    pids = {}
    for stage in ("extract", "train", "infer"):
        args = ["--stage", stage, "--broker", CORE_A]
        if stage == "infer":
            args += ["--gateway", f"tcp://{CORE_A}:5558"]
        # Host A's trainer holds each task for 4 s before computing (heartbeats
        # go on): its forest task is surely in progress when the link is cut.
        env = {"MLOPS_TASK_DELAY_MS": "4000"} if stage == "train" else None
        pids[f"a.{stage}"] = topo.start(f"a.{stage}", NS_A, w, *args, env=env).pid
    for stage in ("preprocess", "evaluate", "load_model", "infer"):
        args = ["--stage", stage, "--broker", CORE_B]
        if stage == "infer":
            args += ["--gateway", f"tcp://{CORE_B}:5558"]
        pids[f"b.{stage}"] = topo.start(f"b.{stage}", NS_B, w, *args).pid

    wait_for(lambda: len(status().get("workers", [])) >= 5, 20, "five stage workers registered",
             step=0.2)

    # First run: only host A trains, so stages are spread over both hosts.
    first = mlops("retrain", "--source", "synthetic:2000:1", "--wait", "--json", timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr + topo.log("broker")
    run1 = run_record(1)
    assert run1["state"] == "succeeded"
    workers_by_stage = {t["stage"]: t["worker"] for t in run1["tasks"]}
    # a task record names its worker by its instance name: the pid is in status
    pid_of = lambda worker: next(w["pid"] for w in status()["workers"] if w["name"] == worker)
    assert pid_of(workers_by_stage["extract"]) == pids["a.extract"]
    assert pid_of(workers_by_stage["preprocess"]) == pids["b.preprocess"]
    assert pid_of(workers_by_stage["train"]) == pids["a.train"]

    # Predictions through the gateway, served by the infer workers on A and B.
    code, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(predict()), 30,
                          "a prediction", step=0.2)
    assert json.loads(body)["model_version"] == 1

    # Second run: host B gets a train worker only once host A holds the
    # forest task, then A's link is cut: the task must move to B.
    retrain = subprocess.Popen(["ip", "netns", "exec", NS_CORE, f"{BIN}/mlops", "retrain",
                                "--source", "synthetic:3000:2", "--wait"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def a_trains_forest():
            for wk in status().get("workers", []):
                if wk["pid"] == pids["a.train"] and "forest" in (wk.get("task_id") or ""):
                    return True
            return False
        wait_for(a_trains_forest, 30, "host A training the forest", step=0.2)
        pids["b.train"] = topo.start("b.train", NS_B, w, "--stage", "train",
                                     "--broker", CORE_B).pid
        ns(NS_A, "ip", "link", "set", f"ha{TAG}", "down")
        out, _ = retrain.communicate(timeout=60)
    finally:
        if retrain.poll() is None:
            retrain.kill()
            retrain.wait()
    assert retrain.returncode == 0, out + topo.log("broker")
    run2 = run_record(2)
    assert run2["state"] == "succeeded"
    forest = [t for t in run2["tasks"] if t["stage"] == "train" and t["family"] == "forest"][0]
    assert forest["attempts"] >= 2, forest
    assert pid_of(forest["worker"]) == pids["b.train"], forest

    # Predictions still answer while host A is away (B's infer worker serves).
    assert predict()[0] == 200

    # Restore the link: host A's workers come back by themselves.
    ns(NS_A, "ip", "link", "set", f"ha{TAG}", "up")
    wait_for(lambda: any(wk["pid"] == pids["a.train"] for wk in status().get("workers", [])), 30,
             "host A's train worker back", step=0.2)
