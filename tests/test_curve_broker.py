"""test_curve_broker.py: the broker with CURVE on (common/curve.h), through
real processes on loopback.

Keys come from `mlops keygen` into a fresh temp dir. The broker's work,
control and events sockets are CURVE servers that accept only the public
keys in MLOPS_CURVE_CLIENTS_DIR; the stage workers and the CLI are CURVE
clients from MLOPS_CURVE_CLIENT_CERT + MLOPS_CURVE_SERVER_KEY. A refused
client gets silence (no error frame exists in CURVE), so "refused" is checked
as "no answer while an allowed client, asked the same way, gets one".
"""
import os
import re
import shutil
import subprocess

import pytest
import zmq

import wire
from procs import BIN, STAGES, Broker, read_log, wait_for, worker_argv
from test_canary_broker import side

CURVE_VARS = ("MLOPS_CURVE_SERVER_CERT", "MLOPS_CURVE_CLIENTS_DIR",
              "MLOPS_CURVE_CLIENT_CERT", "MLOPS_CURVE_SERVER_KEY")
SOURCE = "synthetic:600:3"


def keygen(dir_, name):
    out = subprocess.run([BIN + "/mlops", "keygen", "--dir", dir_, name],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return os.path.join(dir_, name + ".cert")


def cert_key(path, which):
    """The Z85 public-key or secret-key of a zcert file."""
    with open(path) as f:
        m = re.search(r'%s = "(.{40})"' % which, f.read())
    assert m, "no %s in %s" % (which, path)
    return m.group(1).encode()


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in CURVE_VARS}
    env.update(extra)
    return env


class Keys:
    """A server pair, an allowed-clients dir and named client pairs kept
    outside it until allow() copies their public cert in."""

    def __init__(self, tmp):
        self.dir = os.path.join(str(tmp), "keys")
        self.allowed = os.path.join(str(tmp), "allowed")
        os.makedirs(self.dir)
        os.makedirs(self.allowed)
        self.server = keygen(self.dir, "server")

    def client(self, name, allowed=True):
        cert = keygen(self.dir, name)
        if allowed:
            self.allow(name)
        return cert

    def allow(self, name):
        shutil.copy(os.path.join(self.dir, name + ".cert"), self.allowed)

    def revoke(self, name):
        os.unlink(os.path.join(self.allowed, name + ".cert"))

    def server_env(self):
        return clean_env(MLOPS_CURVE_SERVER_CERT=self.server, MLOPS_CURVE_CLIENTS_DIR=self.allowed)

    def client_env(self, name):
        return clean_env(MLOPS_CURVE_CLIENT_CERT=os.path.join(self.dir, name + ".cert"),
                         MLOPS_CURVE_SERVER_KEY=self.server)


class CurveBroker(Broker):
    """A real broker with CURVE on when keys are given (off without), whose
    own requests (status, runs, ... of procs.Broker) go as the client "cli";
    the *_as calls take the client key to use, None for a plain client."""

    def __init__(self, procs, keys):
        self.keys = keys
        self.key = "cli" if keys else None
        super().__init__(procs, env=keys.server_env() if keys else clean_env())

    def log(self):
        return read_log(self.proc)

    def client_env(self, key):
        return self.keys.client_env(key) if key else clean_env()

    def worker_as(self, stage, key):
        return self.procs.start("worker-%s-%s" % (stage, key), worker_argv(stage, self.work),
                                env=self.client_env(key))

    def cli_as(self, key, *args, timeout=60):
        return self.cli(*args, timeout=timeout, env=self.client_env(key))

    def socket(self, kind, key, endpoint):
        """A pyzmq socket, a CURVE client with key's pair when key is given."""
        sock = zmq.Context.instance().socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if key:
            secret = os.path.join(self.keys.dir, key + ".cert_secret")
            sock.curve_publickey = cert_key(secret, "public-key")
            sock.curve_secretkey = cert_key(secret, "secret-key")
            sock.curve_serverkey = cert_key(self.keys.server, "public-key")
        sock.connect(endpoint)
        return sock

    def reply_as(self, key, command, body, timeout_ms=1500, version=wire.VERSION):
        """The REPLY body from a fresh REQ socket, or None on silence."""
        sock = self.socket(zmq.REQ, key, self.control)
        try:
            return wire.exchange(sock, wire.pack(command, body, version=version), timeout_ms)
        finally:
            sock.close()

    def reply(self, command, body, timeout_ms=3000):
        return self.reply_as(self.key, command, body, timeout_ms)

    def stages(self):
        return sorted(w["stage"] for w in self.status()["workers"])


@pytest.fixture
def keys(tmp_path):
    k = Keys(tmp_path)
    k.client("worker")
    k.client("cli")
    k.client("stranger", allowed=False)
    return k


@pytest.fixture
def broker(procs, keys):
    return CurveBroker(procs, keys)


def test_allowed_workers_register_and_a_retrain_succeeds(broker):
    assert "curve=on" in broker.log()
    for stage in STAGES:
        broker.worker_as(stage, "worker")
    wait_for(lambda: broker.stages() == sorted(STAGES), what="five workers registered")
    out = broker.cli_as("cli", "retrain", "--source", SOURCE, "--wait", "--timeout", "20s")
    assert out.returncode == 0, out.stdout + out.stderr + broker.log()
    assert "run 1 succeeded" in out.stdout, out.stdout


def test_a_worker_with_an_unknown_key_never_registers_until_its_key_is_added(broker, keys):
    stranger = broker.worker_as("train", "stranger")
    broker.worker_as("extract", "worker")   #  the control: an allowed one does
    wait_for(lambda: "extract" in broker.stages(), what="allowed worker registered")
    #  several heartbeat periods (200 ms) and a reconnect (600 ms) later the
    #  stranger is still absent
    with pytest.raises(AssertionError):
        wait_for(lambda: "train" in broker.stages(), timeout=2.0, what="stranger")
    assert stranger.poll() is None   #  it is alive, only refused
    keys.allow("stranger")           #  no restart: the next handshake counts
    wait_for(lambda: "train" in broker.stages(), timeout=20, what="stranger admitted")


def test_the_cli_without_an_allowed_key_cannot_trigger_a_retrain(broker):
    for who in (None, "stranger"):
        out = broker.cli_as(who, "retrain", "--source", SOURCE, "--timeout", "1s")
        assert out.returncode != 0
        assert "no answer from the broker" in out.stderr, out.stderr
        assert "CURVE" in out.stderr, out.stderr
    assert broker.reply_as("cli", "RUNS", {})["data"]["runs"] == []   #  nothing was triggered


def test_a_raw_client_without_curve_gets_nothing(broker):
    assert broker.reply_as(None, "STATUS", {}) is None
    assert broker.reply_as("stranger", "STATUS", {}) is None
    assert broker.reply_as("cli", "STATUS", {})["ok"]


def test_a_pyzmq_client_with_an_allowed_key_triggers_a_retrain_and_sees_events(broker):
    for stage in STAGES:
        broker.worker_as(stage, "worker")
    wait_for(lambda: len(broker.status()["workers"]) == 5, what="workers registered")
    allowed = broker.socket(zmq.SUB, "cli", broker.events)
    plain = broker.socket(zmq.SUB, None, broker.events)
    stranger = broker.socket(zmq.SUB, "stranger", broker.events)
    try:
        for s in (allowed, plain, stranger):
            s.setsockopt(zmq.SUBSCRIBE, b"")
        #  the allowed subscriber is connected once it hears an event; the
        #  first run's events prove it
        reply = broker.reply_as("cli", "RETRAIN", {"source": SOURCE, "reason": "pyzmq"})
        assert reply["ok"], reply
        run_id = reply["data"]["run_id"]
        seen = []

        def run_ended():
            while allowed.poll(100):
                topic, body = allowed.recv_multipart()
                seen.append(wire.unpack(body)[1])
            return any(e.get("kind") == "run" and e.get("run_id") == run_id
                       and e.get("state") in ("succeeded", "failed") for e in seen)
        wait_for(run_ended, timeout=30, what="the run's end on the allowed subscriber")
        assert any(e.get("state") == "succeeded" for e in seen if e.get("kind") == "run"), seen
        assert plain.poll(0) == 0 and stranger.poll(0) == 0
    finally:
        for s in (allowed, plain, stranger):
            s.close()


def test_a_removed_key_keeps_new_connections_out(broker, keys):
    assert broker.reply_as("worker", "STATUS", {})["ok"]
    keys.revoke("worker")
    assert broker.reply_as("worker", "STATUS", {}) is None
    assert broker.reply_as("cli", "STATUS", {})["ok"]   #  the others are unaffected


def test_without_keys_everything_works_as_before(procs):
    b = CurveBroker(procs, None)
    assert "curve=off" in b.log()
    for stage in STAGES:
        b.worker_as(stage, None)
    wait_for(lambda: len(b.status()["workers"]) == 5, what="workers registered")
    out = b.cli_as(None, "retrain", "--source", SOURCE, "--wait", "--timeout", "20s")
    assert out.returncode == 0, out.stdout + out.stderr


def keygen_role(keys, name, *roles):
    """`mlops keygen --role R...`: the pair in keys.dir, its public cert
    granted each role in keys.allowed (README, Security)."""
    args = [a for r in roles for a in ("--role", r)]
    return subprocess.run([BIN + "/mlops", "keygen", "--dir", keys.dir, "--clients", keys.allowed,
                           *args, name], capture_output=True, text=True, timeout=10)


def test_keygen_role_writes_the_layout_the_broker_enforces(procs, tmp_path):
    keys = Keys(tmp_path / "roles")
    for name, role in (("cli", "read"), ("dash", "read"), ("ops", "admin")):
        out = keygen_role(keys, name, role)
        assert out.returncode == 0, out.stderr
        assert "granted %s: %s/%s/%s.cert" % (role, keys.allowed, role, name) in out.stdout
        assert os.path.isfile(os.path.join(keys.allowed, role, name + ".cert"))
    bad = keygen_role(keys, "x", "root")
    assert bad.returncode == 2 and "--role: 'root' is not a role" in bad.stderr
    assert not os.path.exists(os.path.join(keys.dir, "x.cert"))   # nothing written
    again = keygen_role(keys, "dash", "read")
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    broker = CurveBroker(procs, keys)
    assert broker.reply_as("dash", "STATUS", {})["ok"]
    refused = broker.reply_as("dash", "RETRAIN", {"source": SOURCE})
    assert refused["code"] == "invalid" and "it needs the role admin" in refused["error"], refused
    assert broker.reply_as("ops", "RETRAIN", {"source": SOURCE})["ok"]


def test_a_canary_report_needs_a_role_that_may_change(procs, tmp_path):
    """A CANARY carrying a gateway's counters feeds the canary's decision:
    a read key is refused it, naming the role, and the report is not
    counted; the same key asking without a report is answered (mlops
    canary); a gateway key may report (broker/control.c, s_allowed)."""
    keys = Keys(tmp_path / "roles")
    for name, role in (("cli", "read"), ("dash", "read"), ("gw", "gateway")):   # cli: the fixture's own
        out = keygen_role(keys, name, role)
        assert out.returncode == 0, out.stderr
    broker = CurveBroker(procs, keys)
    counters = {"version": 2, "prod": side(10), "cand": side(10), "compared": 0, "agreed": 0,
                "skipped": 0}
    report = {"gateway": "gw-1", "report": counters}
    refused = broker.reply_as("dash", "CANARY", report, version=2)
    assert refused is not None and not refused["ok"], refused
    assert refused["code"] == "invalid", refused
    assert "CANARY is not allowed for this key: it needs the role admin" in refused["error"], refused
    answered = broker.reply_as("dash", "CANARY", {}, version=2)
    assert wire.data(answered, "CANARY")["rollout"] == "none"
    assert wire.data(broker.reply_as("gw", "CANARY", report, version=2), "CANARY")["rollout"] == "none"
    assert "control: CANARY refused: the key has no role that may send it" in broker.log()


def test_feedback_rows_need_a_role_that_may_change_the_counts_only_read(procs, tmp_path):
    """FEEDBACK with rows writes the feedback set: a read key is refused it,
    naming the role; the same key asking for the counts (no rows, as
    `mlops feedback` does) is answered (broker/control.c, s_allowed)."""
    keys = Keys(tmp_path / "roles")
    for name, role in (("cli", "read"), ("dash", "read")):   # cli: the fixture's own
        out = keygen_role(keys, name, role)
        assert out.returncode == 0, out.stderr
    broker = CurveBroker(procs, keys)
    refused = broker.reply_as("dash", "FEEDBACK", {"rows": b"\x90"}, version=2)
    assert refused is not None and not refused["ok"], refused
    assert "FEEDBACK is not allowed for this key: it needs the role admin" in refused["error"], refused
    counts = wire.data(broker.reply_as("dash", "FEEDBACK", {}, version=2), "FEEDBACK")
    assert counts["rows"] == 0, counts
