"""test_security.py: the refusals of issue 15 that need real processes.

Loopback unless told otherwise (point 1): a broker or gateway asked to
listen beyond loopback without authentication refuses to start and says what
to add; --insecure starts it with a warning. Limits (point 6): a RETRAIN whose
source is over its limit is refused `invalid` naming the limit, never
truncated. Data roots (point 4): a source outside the extract worker's roots
fails naming the rule, and its contents never reach the run record.
"""
import os
import subprocess

from procs import BIN, Broker, free_port, wait_for


def _run(*argv, env=None):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})


def test_broker_refuses_open_listen_without_curve(tmp_path):
    out = _run(f"{BIN}/mlops-broker", "--store", str(tmp_path / "s"), "--listen", "0.0.0.0")
    assert out.returncode == 2
    assert ("--work tcp://0.0.0.0:5555 is reachable from other hosts without CURVE keys: "
            "set MLOPS_CURVE_SERVER_CERT and MLOPS_CURVE_CLIENTS_DIR") in out.stderr
    assert "or pass --insecure" in out.stderr
    assert not (tmp_path / "s").exists()    # refused before anything was opened


def test_gateway_refuses_open_http_without_token():
    out = _run(f"{BIN}/mlops-gateway", "--port", str(free_port()), "--bind", "0.0.0.0",
               env={"MLOPS_ADMIN_TOKEN": ""})
    assert out.returncode == 2
    assert "--bind 0.0.0.0 is reachable from other hosts without an admin token: " \
           "give --admin-token TOKEN or MLOPS_ADMIN_TOKEN" in out.stderr
    out = _run(f"{BIN}/mlops-gateway", "--port", str(free_port()), "--listen", "0.0.0.0",
               "--admin-token", "t")
    assert out.returncode == 2 and "--backend tcp://0.0.0.0:5558 is reachable" in out.stderr


def test_insecure_starts_with_a_warning(procs, tmp_path):
    port = free_port()
    p = procs.start("broker", [f"{BIN}/mlops-broker", "--store", str(tmp_path / "s"), "--insecure",
                               "--work", "tcp://0.0.0.0:%d" % port,
                               "--control", "tcp://127.0.0.1:%d" % free_port(),
                               "--events", "tcp://127.0.0.1:%d" % free_port()])
    wait_for(lambda: "listening work=" in procs.log(p), what="broker started")
    assert "warning" in procs.log(p) and "--insecure: --work tcp://0.0.0.0:%d is reachable" % port \
        in procs.log(p)


def test_retrain_source_over_its_limit_is_refused(procs):
    broker = Broker(procs)
    body = broker.reply("RETRAIN", {"source": "/data/" + "a" * 300, "reason": ""})
    assert body["ok"] is False and body["code"] == "invalid"
    assert "RETRAIN: source: 306 bytes, at most 255 allowed" in body["error"]
    assert broker.runs() == []      # no run, no truncated source


def test_source_outside_the_data_roots_is_refused(procs, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("TOPSECRET,TOPSECRET\n1,2\n")
    root = tmp_path / "root"
    root.mkdir()
    broker = Broker(procs, extra=["--max-attempts", "1"])
    procs.start("worker-extract", [f"{BIN}/mlops-worker", "--stage", "extract", "--broker",
                                   broker.work, "--data-root", str(root)])
    wait_for(lambda: len(broker.status()["workers"]) == 1, what="extract worker ready")
    out = broker.cli("retrain", "--source", str(secret), "--wait")
    assert out.returncode == 1
    run = broker.run(1)
    assert "is outside this worker's data roots (--data-root): refused" in run["error"]
    assert "TOPSECRET" not in run["error"]
