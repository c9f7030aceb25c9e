"""test_feedback_cli.py: `mlops feedback`, the broker's feedback set's
counts as a user reads them: an empty set, then rows stored (one a
duplicate) under a small --feedback-max-bytes so the oldest rotate out, in
the table and in --json (the REPLY data as the broker sent it); --help, a
stray argument and a broker that is away, each with its exit code."""
import json

import zmq

import wire
from procs import Broker

CAP_BYTES = 2048


def store_rows(broker, rows):
    """A FEEDBACK with rows, as a gateway sends them; the broker's answer."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(broker.control)
    try:
        body = {"rows": wire.msgpack.packb(rows, use_bin_type=True)}
        return wire.data(wire.exchange(sock, wire.pack("FEEDBACK", body, version=2)), "FEEDBACK")
    finally:
        sock.close()


def row(i):
    return {"request_id": "req-%d" % i, "index": 0, "version": 1,
            "record": {"Age": 20.0 + i, "Sex": "female", "Pclass": 1}, "label": i % 2, "time_ms": i}


def counts(broker):
    r = broker.cli("feedback", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_empty_set(procs):
    broker = Broker(procs, extra=("--feedback-max-bytes", "2K"))
    r = broker.cli("feedback")
    assert r.returncode == 0, r.stderr
    assert "rows        0\n" in r.stdout and "of a cap of %d" % CAP_BYTES in r.stdout
    j = counts(broker)
    assert j["rows"] == 0 and j["bytes"] == 0 and j["max_bytes"] == CAP_BYTES
    assert j["stored"] == 0 and j["stored_total"] == 0 and j["rotated_total"] == 0


def test_counts_after_rows_duplicates_and_rotation(procs):
    broker = Broker(procs, extra=("--feedback-max-bytes", "2K"))
    for i in range(30):   # one at a time: each row alone is far under the cap
        assert store_rows(broker, [row(i)])["stored"] == 1
    assert store_rows(broker, [row(29)])["duplicate"] == 1
    j = counts(broker)
    assert j["stored_total"] == 30 and j["duplicate_total"] == 1
    assert 0 < j["rows"] < 30 and j["rotated_total"] == 30 - j["rows"]
    assert 0 < j["bytes"] <= CAP_BYTES and j["max_bytes"] == CAP_BYTES
    # asking stores nothing: the counts are the same the second time
    assert counts(broker) == j
    table = broker.cli("feedback").stdout
    assert "rows        %d\n" % j["rows"] in table
    assert "bytes       %d of a cap of %d" % (j["bytes"], CAP_BYTES) in table
    assert "stored      30 rows ever" in table
    assert "duplicates  1 rows refused" in table
    assert "rotated     %d rows dropped" % j["rotated_total"] in table


def test_help_usage_and_no_broker(procs):
    broker = Broker(procs)
    r = broker.cli("feedback", "--help")
    assert r.returncode == 0 and "usage: mlops feedback [--json]" in r.stdout and "--timeout" in r.stdout
    r = broker.cli("feedback", "extra")
    assert r.returncode == 2 and "mlops feedback: unexpected argument 'extra'" in r.stderr
    broker.kill()
    r = broker.cli("feedback", "--timeout", "300ms")
    assert r.returncode == 1 and "mlops feedback: no answer from the broker" in r.stderr
