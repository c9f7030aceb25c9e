"""procs.py: the one place the multi-process tests (tests/test_*.py, the
fault suite, bench/) get free TCP ports and start, wait for and stop the
processes they run, and the one wrapper of each of our servers: the argv
of a broker, a stage or infer worker and a gateway (broker_argv, ...), and
Broker and Gateway, a real process on free loopback ports with the calls a
test makes on it. MLOPS/1 itself is tests/wire.py.

Ports. Every port comes from one generator per Python process: it walks up
from a random start *below* the kernel's ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range), skipping ports something holds.
Below that range no outgoing connection anywhere on the machine is ever
given the port as its source between our check and the child's bind, and
a client reconnecting to a port nobody listens on yet cannot connect to
itself (Linux's TCP simultaneous open, which happens when the source port
it draws equals the destination port); walking instead of drawing means two
picks in one test run never collide. Binding port 0 does neither: it hands
out ephemeral ports, which is what the tests did before (rare flakes under
load). A random start keeps two test runs at once (several helpers share the
machine) apart. `python3 tests/procs.py N` prints N ports for shell scripts.

Processes. Procs holds every process a test starts and stops only those, by
pid: SIGTERM, a grace period, then SIGKILL. Each child writes its output to
its own log file in the test's temporary directory.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import time

import wire

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("MLOPS_BIN", os.path.join(REPO, "bin"))
TITANIC = os.environ.get("MLOPS_TITANIC") or os.path.normpath(   # may be absent: then skip
    os.path.join(REPO, "..", "shared", "data", "titanic.csv"))
STAGES = ["extract", "preprocess", "train", "evaluate", "load_model"]
HEARTBEAT = "200ms"             # stage workers and brokers: a dead peer is seen quickly
PORT_LOW = 10000                # below: well-known services and the like
EPHEMERAL_LOW_DEFAULT = 32768   # Linux's default when /proc says nothing
STOP_GRACE_SEC = 5.0            # SIGTERM to SIGKILL

_rng = random.Random()          # seeded from the OS: separate runs start apart
_next_port = None               # where the walk goes on


def exe(name):
    """The path of one of our binaries (mlops, mlops-broker, ...)."""
    return os.path.join(BIN, name)


def ephemeral_low():
    """The first port of the kernel's ephemeral (outgoing) range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_LOW_DEFAULT


def _port_is_free(port):
    """True when nothing listens on or is bound to the port (any address).
    SO_REUSEADDR as the servers use it: a TIME_WAIT leftover is no obstacle."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port_run(count):
    """The first of `count` consecutive free ports below the ephemeral range,
    never handed out before by this process (until the walk wraps around,
    some 20,000 ports later). RuntimeError when none is free."""
    global _next_port
    high = ephemeral_low()
    if high - PORT_LOW < count:
        raise RuntimeError("no room for %d ports between %d and the ephemeral range at %d"
                           % (count, PORT_LOW, high))
    if _next_port is None:
        _next_port = _rng.randrange(PORT_LOW, high - count + 1)
    for _ in range(high - PORT_LOW):
        base = _next_port if _next_port + count <= high else PORT_LOW
        _next_port = base + count
        if all(_port_is_free(p) for p in range(base, base + count)):
            return base
    raise RuntimeError("no run of %d free ports below %d" % (count, high))


def free_port():
    """One free port (see free_port_run)."""
    return free_port_run(1)


def free_endpoint():
    """tcp://127.0.0.1:PORT on a free port."""
    return "tcp://127.0.0.1:%d" % free_port()


def bind_free(sock, tries=20):
    """Binds a ZeroMQ socket of ours to a free loopback port; returns the port.
    (pyzmq's bind_to_random_port draws from 49152 up: the ephemeral range.)"""
    import zmq
    for _ in range(tries):
        port = free_port()
        try:
            sock.bind("tcp://127.0.0.1:%d" % port)
            return port
        except zmq.ZMQError:
            continue
    raise RuntimeError("no free port to bind after %d tries" % tries)


def wait_for(cond, timeout=20.0, what="condition", step=0.05):
    """cond()'s first true value, polled every `step` seconds; AssertionError
    after `timeout`. An OSError from cond (a refused connection; requests'
    errors are OSErrors) counts as not yet, and the last one is named."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            value = cond()
            if value:
                return value
        except OSError as e:
            last = e
        time.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s%s" % (
        timeout, what, "" if last is None else " (last error: %r)" % last))


def wait_until(cond, timeout, step=0.1):
    """cond()'s first true value within timeout seconds, else None."""
    end = time.time() + timeout
    while time.time() < end:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return None


def spawn(argv, log_path, env=None):
    """Starts argv with stdout and stderr appended to log_path; env is the
    child's whole environment (default: ours). Returns the Popen, which
    carries .log_path."""
    with open(log_path, "ab") as log:
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    p.log_path = log_path
    return p


def stop_all(popens, sig=signal.SIGTERM, grace=STOP_GRACE_SEC):
    """Sends sig (and SIGCONT, for a process a test froze) to each process of
    ours still running, waits up to `grace` seconds for all of them, then
    SIGKILLs the rest. By pid only; safe to call again."""
    for p in popens:
        if p.poll() is None:
            p.send_signal(sig)
            if sig != signal.SIGKILL:
                p.send_signal(signal.SIGCONT)   # one a test froze (SIGSTOP) must hear it
    deadline = time.time() + grace
    for p in popens:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def read_log(p, tail_chars=None):
    """What a spawned process has written so far (the last tail_chars)."""
    try:
        with open(p.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return text if tail_chars is None else text[-tail_chars:]


class Procs:
    """Every process one test starts; stop() ends them all, and only them."""

    def __init__(self, tmp):
        self.tmp = str(tmp)     # logs go here, one file per process
        self.procs = []         # Popen objects, in start order

    def start(self, name, argv, env=None):
        """Starts argv (env: the whole environment, default ours), logging to
        TMP/NAME-N.log; returns the Popen with .name and .log_path."""
        p = spawn(argv, os.path.join(self.tmp, "%s-%d.log" % (name, len(self.procs))), env)
        p.name = name
        self.procs.append(p)
        return p

    def log(self, p):
        return read_log(p)

    def kill(self, p):
        """SIGKILLs one of ours and reaps it."""
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait(10)

    def stop(self):
        stop_all(self.procs)


# --- our servers -------------------------------------------------------------

def broker_argv(store, work, control, events, *extra, heartbeat=HEARTBEAT, bin_dir=BIN):
    """mlops-broker in store on the three endpoints, short heartbeats and
    retry back-off (a test waits for neither); extra flags win (last given)."""
    return [os.path.join(bin_dir, "mlops-broker"), "--store", store, "--work", work,
            "--control", control, "--events", events, "--heartbeat", heartbeat,
            "--backoff", "100ms", *extra]


def worker_argv(stage, broker, *extra, heartbeat=HEARTBEAT, bin_dir=BIN):
    """A stage worker of `stage` on the broker's work endpoint. Extract
    workers read files anywhere (--data-root /): tests put their CSVs in
    temporary directories; the roots' rules have their own tests."""
    roots = ["--data-root", "/"] if stage == "extract" else []
    return [os.path.join(bin_dir, "mlops-worker"), "--stage", stage, "--broker", broker,
            "--heartbeat", heartbeat, *roots, *extra]


def infer_argv(backend, *extra, bin_dir=BIN):
    """An inference worker on a gateway's backend endpoint (its broker, events
    and model come in extra; default heartbeat)."""
    return [os.path.join(bin_dir, "mlops-worker"), "--stage", "infer", "--gateway", backend, *extra]


def gateway_argv(port, backend, *extra, bin_dir=BIN):
    """A gateway serving HTTP on 127.0.0.1:port, its workers on backend."""
    return [os.path.join(bin_dir, "mlops-gateway"), "--port", str(port), "--bind", "127.0.0.1",
            "--backend", backend, *extra]


def start_infer(procs, backend, *extra, env=None):
    """An inference worker started by procs (see infer_argv)."""
    return procs.start("infer", infer_argv(backend, *extra), env=env)


class Broker:
    """A real mlops-broker on free loopback ports in its own store (default
    TMP/store): work on W, control on W + 1 and events on W + 2 (control
    then events: PROTOCOL.md's layout, which an infer worker given only
    --broker relies on), and its data service on W + 4, where a stage
    worker given only --broker looks for it.
    wait: return once it answers STATUS (not for a CURVE broker, which
    answers only clients with an allowed key)."""

    def __init__(self, procs, extra=(), store=None, env=None, wait=True):
        self.procs = procs
        self.store = store or os.path.join(procs.tmp, "store")
        self.extra = list(extra)    # flags after ours
        self.env = env              # the child's whole environment (default ours)
        port = free_port_run(5)     # W + 3 stays free, as the gateway's backend by default
        self.work = "tcp://127.0.0.1:%d" % port
        self.control = "tcp://127.0.0.1:%d" % (port + 1)
        self.events = "tcp://127.0.0.1:%d" % (port + 2)
        self.data = "tcp://127.0.0.1:%d" % (port + 4)
        self.start(wait)

    def start(self, wait=True):
        """Starts it (again, after kill(): same ports, same store)."""
        self.proc = self.procs.start("broker", broker_argv(
            self.store, self.work, self.control, self.events, *self.extra), env=self.env)
        if wait:
            wait_for(lambda: self.reply("STATUS", {}, timeout_ms=300), what="broker up")

    def kill(self):
        self.procs.kill(self.proc)

    def worker(self, stage, env=None, extra=()):
        """A stage worker, its blob cache in TMP/cache (one per test, shared
        by its workers as on one host); env: variables added to ours."""
        return self.procs.start("worker-" + stage, worker_argv(
            stage, self.work, "--cache-dir", os.path.join(self.procs.tmp, "cache"), *extra),
            env=dict(os.environ, **env) if env else None)

    def all_workers(self, trains=2, env=None):
        """One worker per stage and `trains` train workers, once all are known."""
        out = []
        for stage in STAGES:
            for _ in range(trains if stage == "train" else 1):
                out.append(self.worker(stage, env))
        wait_for(lambda: len(self.status()["workers"]) == len(out), what="workers ready")
        return out

    def reply(self, command, body, timeout_ms=wire.REPLY_TIMEOUT_MS):
        """The REPLY body to one control request, or None on silence."""
        return wire.control_request(self.control, command, body, timeout_ms)

    def request(self, command, body, timeout_ms=wire.REPLY_TIMEOUT_MS):
        """The data of a control request that must succeed."""
        return wire.data(self.reply(command, body, timeout_ms), command)

    def status(self):
        return self.request("STATUS", {})

    def runs(self, limit=50):
        return self.request("RUNS", {"limit": limit})["runs"]

    def run(self, run_id):
        """The record of run_id, or None."""
        return next((r for r in self.runs() if r["id"] == run_id), None)

    def models(self):
        return self.request("MODELS", {})

    def wait_run(self, run_id, timeout=30.0):
        """The record of run_id once it has ended."""
        def ended():
            r = self.run(run_id)
            return r if r and r["state"] in ("succeeded", "failed") else None
        return wait_for(ended, timeout=timeout, what="run %d to end" % run_id)

    def cli(self, *args, timeout=60, env=None):
        """`mlops ARGS` against this broker, finished: a CompletedProcess."""
        return subprocess.run([exe("mlops"), *args, "--control", self.control, "--events",
                               self.events], capture_output=True, text=True, timeout=timeout,
                              env=env)


class Gateway:
    """A real mlops-gateway on free ports (or the given ones, to restart one
    in place), once it answers /health."""

    def __init__(self, procs, *extra, port=None, backend_port=None):
        import requests
        self.port = port or free_port()
        self.backend_port = backend_port or free_port()
        self.backend = "tcp://127.0.0.1:%d" % self.backend_port
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = procs.start("gateway", gateway_argv(self.port, self.backend, *extra))
        wait_for(lambda: requests.get(self.url + "/health", timeout=1).status_code in (200, 503),
                 what="gateway up")

    def health(self):
        import requests
        return requests.get(self.url + "/health", timeout=2)

    def wait_workers(self, n, version=None, timeout=10.0):
        """Waits until n workers serve (version, when given)."""
        def ok():
            h = self.health().json()
            return h.get("workers_serving", 0) >= n and (version is None or h["model_version"] == version)
        wait_for(ok, timeout, "%d workers serving" % n)


def children_of(pid):
    """Pids whose parent is pid (from /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def alive(pid):
    """True while pid runs (a zombie is not running)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def survivors(pids):
    """[(pid, command line)] of the pids still running, for an assertion
    message that says which one outlived its parent."""
    out = []
    for pid in pids:
        if alive(pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                cmd = "?"
            out.append((pid, cmd))
    return out


def kill_pids(pids):
    """SIGKILLs each pid still running (children of a process of ours that
    outlived it); gone ones are skipped."""
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    # for shell scripts: `read -r A B C < <(python3 tests/procs.py 3)`; with
    # --run, N consecutive ports (their first printed)
    args = sys.argv[1:]
    if args[:1] == ["--run"]:
        print(free_port_run(int(args[1])))
    else:
        print(" ".join(str(free_port()) for _ in range(int(args[0]) if args else 1)))
