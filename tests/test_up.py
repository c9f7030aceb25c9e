"""test_up.py: `mlops up` as a new user runs it: a whole stack comes up on a
new store, trains the first model by itself, prints a curl line that works,
restarts a child that dies, and on SIGINT / SIGTERM stops every child.

Each test picks free ports (the HTTP port and four consecutive broker /
backend ports) and a fresh store, and kills only the processes it started.
"""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from procs import BIN, children_of, free_port, free_port_run, kill_pids, survivors

READY_TIMEOUT_SEC = 90  # generous: the machine may be loaded


class Up:
    """A running `mlops up` whose output is collected by a thread."""

    def __init__(self, *extra, ipc=False):
        self.tmp = tempfile.mkdtemp(prefix="mlops-up-")
        self.base = free_port_run(6)  # broker x3, backend, data, then HTTP: never overlapping
        self.port = self.base + 5
        base = [] if ipc else ["--base-port", str(self.base)]   # ipc: the default
        self.proc = subprocess.Popen(
            [f"{BIN}/mlops", "up", "--store", os.path.join(self.tmp, "store"),
             "--port", str(self.port), *base, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self):
        return "\n".join(self.lines)

    def wait_for(self, pattern, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in list(self.lines):
                m = re.search(pattern, line)
                if m:
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + self.text()[-4000:])

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)

    def destroy(self, sig=signal.SIGKILL):
        """Stops `mlops up` with sig, then SIGKILLs any child of it (ours,
        by pid) that outlived it; for fixture finalizers."""
        kids = children_of(self.proc.pid)
        self.stop(sig)
        kill_pids(kids)


@pytest.fixture
def up_stack():
    stacks = []

    def start(*extra, ipc=False):
        u = Up(*extra, ipc=ipc)
        stacks.append(u)
        return u
    yield start
    for u in stacks:
        u.destroy()


def test_up_trains_serves_and_stops_everything(up_stack):
    up = up_stack("--infer-workers", "2", "--train-workers", "2")
    up.wait_for(r"ready, a model is being served", READY_TIMEOUT_SEC)
    curl_line = up.wait_for(r"^\s+(curl -s -X POST .*/predict .*)$", 5).group(1)
    assert f"localhost:{up.port}" in curl_line
    out = subprocess.run(shlex.split(curl_line), capture_output=True, text=True, timeout=20)
    answer = json.loads(out.stdout)
    assert answer["prediction"] in (0, 1) and 0 <= answer["probability"] <= 1
    assert answer["model_version"] == 1

    kids = children_of(up.proc.pid)
    assert len(kids) >= 9  # broker, 6 stage workers, gateway, 2 infer (retrain may have ended)
    up.stop(signal.SIGINT)
    assert up.proc.returncode == 0
    assert "all processes stopped" in up.text()
    assert survivors(kids) == [], up.text()[-3000:]


def _argv(pid):
    """The command line of process pid, as a list of str."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")[:-1]


def test_up_restarts_a_child_that_dies_and_stops_on_sigterm(up_stack):
    up = up_stack("--infer-workers", "1", "--train-workers", "1")
    up.wait_for(r"ready, a model is being served", READY_TIMEOUT_SEC)
    kids = children_of(up.proc.pid)
    victim = None
    for k in kids:
        argv = _argv(k)
        if "--stage" in argv and argv[argv.index("--stage") + 1] == "train":
            victim = k
    assert victim, "no train worker among the children"
    os.kill(victim, signal.SIGKILL)
    up.wait_for(r"train\.1 killed by signal 9 .*restarting in", 15)
    up.wait_for(r"train\.1 restarted \(pid \d+", 15)
    up.stop(signal.SIGTERM)
    assert up.proc.returncode == 0
    after = children_of(up.proc.pid)
    assert after == []
    assert survivors(kids) == [], up.text()[-3000:]


def test_up_reuses_an_existing_store_without_retraining(up_stack):
    up = up_stack("--infer-workers", "1", "--train-workers", "1")
    up.wait_for(r"ready, a model is being served", READY_TIMEOUT_SEC)
    store = os.path.join(up.tmp, "store")
    up.stop(signal.SIGINT)
    again = Up("--store", store)  # the later --store wins over Up's own
    try:
        again.wait_for(r"existing store", 10)
        again.wait_for(r"ready, a model is being served", READY_TIMEOUT_SEC)
        assert "triggering the first retrain" not in again.text()
    finally:
        kids = children_of(again.proc.pid)
        again.stop(signal.SIGINT)
        assert survivors(kids) == [], again.text()[-3000:]


def test_up_names_a_port_in_use():
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        port = free_port()
        holder.bind(("0.0.0.0", port))
        holder.listen(1)
        out = subprocess.run([f"{BIN}/mlops", "up", "--port", str(port),
                              "--base-port", str(free_port_run(5)), "--store",
                              tempfile.mkdtemp(prefix="mlops-up-")],
                             capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"port {port} (HTTP) is already in use" in lines[0]
    assert "--port" in lines[0]


@pytest.mark.parametrize("args,message", [
    (["--port", "70000"], "--port 70000 is not a TCP port"),
    (["--port", "abc"], "--port wants a number, got 'abc'"),
    (["--train-workers", "0"], "--train-workers must be 1..16"),
    (["--base-port", "65534"], "leaves no room"),
    (["extra"], "unexpected argument 'extra'"),
    (["--task", "ordinal"], "--task 'ordinal' is not auto, binary, multiclass or regression"),
    (["--promote-via", "canary:0%:1m"],
     "--promote-via 'canary:0%:1m': canary percentage '0%' is not a number in (0, 100]"),
    (["--promote-via", "shadow"], "--promote-via 'shadow': expected direct or canary:P%:DURATION"),
    (["--feedback-max-bytes", "12"], "--feedback-max-bytes: expected a size of at least 1K"),
    (["--feedback-max-bytes", "lots"], "got 'lots'"),
])
def test_up_refuses_bad_flags(args, message):
    out = subprocess.run([f"{BIN}/mlops", "up", *args], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert message in out.stderr


def test_up_help_lists_every_flag():
    out = subprocess.run([f"{BIN}/mlops", "up", "--help"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0
    for flag in ("--store", "--port", "--source", "--train-workers", "--infer-workers",
                 "--base-port", "--bin", "--task", "--promote-via"):
        assert flag in out.stdout


def test_up_passes_the_task_type_to_the_broker(up_stack):
    """--task regression on the synthetic 0/1 Survived: the version served is
    a regression (r2, rmse, mae in `mlops models`), so the broker got it."""
    up = up_stack("--infer-workers", "1", "--train-workers", "1", "--task", "regression")
    up.wait_for(r"ready, a model is being served", READY_TIMEOUT_SEC)
    out = subprocess.run([f"{BIN}/mlops", "models", "--broker", f"127.0.0.1:{up.base + 1}"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.strip().startswith("v1"))
    assert "production" in row and "r2 " in row and "rmse " in row, out.stdout


def test_up_passes_promote_via_to_the_broker(up_stack):
    """--promote-via reaches the broker's command line as given, and the
    broker takes it: the first version, with nothing in production to
    compare with, is promoted directly and served."""
    up = up_stack("--infer-workers", "1", "--train-workers", "1", "--promote-via", "canary:10%:1h")
    up.wait_for(r"ready, a model is being served", READY_TIMEOUT_SEC)
    brokers = [a for a in map(_argv, children_of(up.proc.pid)) if a[0].endswith("/mlops-broker")]
    assert len(brokers) == 1, brokers
    argv = brokers[0]
    assert argv[argv.index("--promote-via") + 1] == "canary:10%:1h", argv
    assert "broker exited" not in up.text()
def test_up_passes_the_feedback_cap_to_the_broker(up_stack):
    """--feedback-max-bytes 8K reaches the broker: `mlops feedback` says its
    cap is 8192 bytes (asked as soon as the broker answers)."""
    up = up_stack("--infer-workers", "1", "--train-workers", "1", "--feedback-max-bytes", "8K")
    deadline = time.time() + READY_TIMEOUT_SEC
    while True:
        out = subprocess.run([f"{BIN}/mlops", "feedback", "--json", "--timeout", "1s", "--broker",
                              f"127.0.0.1:{up.base + 1}"], capture_output=True, text=True, timeout=20)
        if out.returncode == 0 or time.time() > deadline or up.proc.poll() is not None:
            break
        time.sleep(0.2)
    assert out.returncode == 0, out.stderr + up.text()[-2000:]
    assert json.loads(out.stdout)["max_bytes"] == 8192
    help_text = subprocess.run([f"{BIN}/mlops", "up", "--help"], capture_output=True, text=True,
                               timeout=10).stdout
    assert "--feedback-max-bytes SIZE" in help_text


def test_up_kills_a_child_that_ignores_sigterm(tmp_path):
    """A child that ignores SIGTERM and prints nothing must not hang the stop:
    after the grace period it is SIGKILLed and `mlops up` exits."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("mlops-broker", "mlops-worker", "mlops-gateway", "mlops"):
        script = fake / name
        # exec keeps the ignored SIGTERM, so the sleep itself ignores it
        script.write_text("#!/bin/sh\ntrap '' TERM\nexec sleep 600\n")
        script.chmod(0o755)
    base = free_port_run(6)
    up = subprocess.Popen([f"{BIN}/mlops", "up", "--bin", str(fake), "--store",
                           str(tmp_path / "store"), "--port", str(base + 5),
                           "--base-port", str(base), "--infer-workers", "1",
                           "--train-workers", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 10
        while len(children_of(up.pid)) < 8 and time.time() < deadline:
            time.sleep(0.1)
        kids = children_of(up.pid)
        assert len(kids) >= 8
        up.send_signal(signal.SIGTERM)
        out, _ = up.communicate(timeout=30)  # grace is 5 s, then SIGKILL
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 0
    assert "did not stop in time, killing it" in out
    assert "all processes stopped" in out
    assert survivors(kids) == [], out[-2000:]


def _listening_tcp(pids):
    """(address, port) of every TCP socket the pids listen on, from /proc."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            pass
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:   # LISTEN
                    addr, port = cols[1].split(":")
                    found.append((addr, int(port, 16)))
    return found


def test_up_listens_on_loopback_http_only(up_stack):
    """Issue 15, point 1: on defaults `mlops up` opens no TCP port but HTTP and
    the broker's metrics on 127.0.0.1; its ZeroMQ sockets are ipc files in the 0700 store, and the
    banner says how to reach the broker and what is reachable."""
    up = up_stack("--infer-workers", "1", "--train-workers", "1", ipc=True)
    up.wait_for(r"ready, a model is being served", READY_TIMEOUT_SEC)
    store = os.path.join(up.tmp, "store")
    assert os.stat(store).st_mode & 0o777 == 0o700
    for name in ("work", "control", "events", "backend"):
        assert os.path.exists(os.path.join(store, name + ".sock")), name
    metrics = int(up.wait_for(r"broker\s+http://127\.0\.0\.1:(\d+)/metrics", 5).group(1))
    listening = _listening_tcp(children_of(up.proc.pid))
    #  127.0.0.1 (little-endian hex): the gateway's HTTP and the broker's metrics
    assert sorted(listening) == sorted([("0100007F", up.port), ("0100007F", metrics)]), listening
    line = up.wait_for(r"retrain:\s+(\S+/mlops retrain --broker (\S+) --wait)", 5)
    assert line.group(2) == "ipc://" + os.path.realpath(store)
    out = subprocess.run(shlex.split(line.group(1).replace("--wait", "")) + ["--source", "synthetic:300:2"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "run 2" in out.stdout, out.stdout + out.stderr
    up.wait_for(r"reachable:\s+HTTP on 127.0.0.1:%d only; broker and backend as ipc sockets" % up.port, 5)


def test_up_gives_extract_the_directory_of_a_csv_source(up_stack, tmp_path):
    """--source csv:PATH+feedback names the same file as PATH: the extract
    worker is started with --data-root its directory (the prefix and the
    suffix are the source grammar's, proto/source.h), so the first retrain
    may read it."""
    csv = tmp_path / "rows.csv"
    csv.write_text("Pclass,Sex,Age,Fare,Survived\n" + "".join(
        "%d,%s,%d,%d.5,%d\n" % (1 + i % 3, ("male", "female")[i % 2], 20 + i % 40, 7 + i, i % 2)
        for i in range(60)))
    up = up_stack("--infer-workers", "1", "--train-workers", "1", "--source", "csv:%s+feedback" % csv)
    deadline = time.time() + READY_TIMEOUT_SEC
    extract = []
    while not extract and time.time() < deadline and up.proc.poll() is None:
        extract = [a for a in map(_argv, children_of(up.proc.pid))
                   if a and a[0].endswith("/mlops-worker") and "extract" in a]
        time.sleep(0.2)
    assert extract, up.text()[-2000:]
    argv = extract[0]
    assert argv[argv.index("--data-root") + 1] == str(tmp_path), argv
