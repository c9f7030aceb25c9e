"""test_interop_msg.py: a Python peer written from proto/PROTOCOL.md alone
(tests/wire.py, the packer every Python test uses) against the C codec
(proto/msg.c), through build/asan/tests/test_msg:

- Python's canonical encoding of a sample of every command is byte for byte
  what the C encoder writes (test_msg --dump-samples);
- the C decoder reads what Python writes, also in the liberal forms the spec
  allows (keys in any order, optional keys left out, wider int encodings,
  float 32), and fills the documented defaults (test_msg --decode HEX);
- the C decoder refuses broken messages naming the key.

The test against a real broker lives with the broker's tests.
"""
import json
import os
import subprocess

import msgpack
import pytest

from procs import REPO, bind_free
from wire import pack, unpack

TEST_MSG = os.path.join(REPO, "build", "asan", "tests", "test_msg")

# --- from PROTOCOL.md section 5: every key in table order, with the default
# of each optional key (None marks a required one).
SPEC = {
    "READY": [("stage", None), ("host", None), ("pid", None), ("model_version", 0)],
    "HEARTBEAT": [("task_id", ""), ("model_version", 0)],
    "TASK": [("task_id", None), ("run_id", None), ("stage", None), ("attempt", None), ("input", None)],
    "RESULT": [("task_id", None), ("run_id", None), ("ok", None), ("error", ""), ("output", b""),
               ("started_ms", None), ("ended_ms", None)],
    "DISCONNECT": [("reason", "")],
    "RETRAIN": [("source", ""), ("reason", "")],
    "STATUS": [],
    "RUNS": [("limit", 0)],
    "MODELS": [],
    "PROMOTE": [("version", None), ("reason", "")],
    "ROLLBACK": [("reason", "")],
    "GET_MODEL": [("version", 0)],
    "REPLY": [("ok", None), ("error", ""), ("data", None), ("code", "")],
    "EVENT": [("kind", None), ("run_id", 0), ("stage", ""), ("state", ""), ("version", 0),
              ("message", ""), ("ts_ms", None)],
    "PREDICT": [("req_id", None), ("records", None)],
    "PREDICTION": [("req_id", None), ("model_version", None), ("predictions", None),
                   ("probabilities", None)],
    "ERROR": [("req_id", None), ("status", None), ("message", None), ("detail", [])],
    "SERVING": [("host", None), ("pid", None), ("model_version", None), ("interval_ms", 0)],
}

# The same samples test_msg.c encodes, written here from the spec.
SAMPLES = {
    "READY": {"stage": "train", "host": "node-1", "pid": 4242, "model_version": 0},
    "HEARTBEAT": {"task_id": "7-train-forest", "model_version": 3},
    "TASK": {"task_id": "7-train-forest", "run_id": 7, "stage": "train", "attempt": 2,
             "input": bytes(i % 251 for i in range(300))},
    "RESULT": {"task_id": "7-train-forest", "run_id": 7, "ok": True, "error": "",
               "output": b"\x01\x02\x03", "started_ms": 1764130000000, "ended_ms": 1764130004321},
    "DISCONNECT": {"reason": "shutting down"},
    "RETRAIN": {"source": "synthetic:2000:7", "reason": "from python"},
    "STATUS": {},
    "RUNS": {"limit": 5},
    "MODELS": {},
    "PROMOTE": {"version": 3, "reason": "better auc"},
    "ROLLBACK": {"reason": "regression"},
    "GET_MODEL": {"version": 0},
    "REPLY": {"ok": True, "error": "", "data": {"run_id": 8, "coalesced": False, "state": "queued"},
              "code": ""},
    "EVENT": {"kind": "run", "run_id": 8, "stage": "", "state": "running", "version": 0,
              "message": "started", "ts_ms": 1764130000123},
    "PREDICT": {"req_id": 2**63 + 5, "records": [
        {"Pclass": 3, "Sex": "male", "Age": 22.5, "SibSp": -1, "Embarked": None, "Alive": True,
         "Big": 10**15},
        {"Name": "Braund, Mr. Owen Harris (\u00e9t\u00e9 1912)", "Fare": 7.25}]},
    "PREDICTION": {"req_id": 77, "model_version": 3, "predictions": [0, 1], "probabilities": [0.11, 0.93]},
    "ERROR": {"req_id": 78, "status": 422, "message": "invalid record", "detail": [
        {"index": 0, "field": "Age", "msg": "must be a number"},
        {"index": -1, "field": "", "msg": "unknown field Cabin"}]},
    "SERVING": {"host": "node-2", "pid": 5151, "model_version": 3, "interval_ms": 1000},
}


def canonical(command, body):
    """body re-ordered as the spec's table, optional keys filled in."""
    out = {}
    for key, default in SPEC[command]:
        out[key] = body.get(key, default)
    return out


def need_binary():
    if not os.access(TEST_MSG, os.X_OK):
        pytest.fail(f"{TEST_MSG} is missing: build it first (make build/asan/tests/test_msg, or make test)")


def c_samples():
    need_binary()
    out = subprocess.run([TEST_MSG, "--dump-samples"], capture_output=True, text=True, timeout=30, check=True)
    return {name: bytes.fromhex(hexs) for name, hexs in (line.split() for line in out.stdout.splitlines())}


def c_decode(frame):
    """(decoded JSON, None) or (None, error line) from the C decoder."""
    need_binary()
    out = subprocess.run([TEST_MSG, "--decode", frame.hex()], capture_output=True, text=True, timeout=30)
    if out.returncode == 0:
        return json.loads(out.stdout), None
    assert out.returncode == 1, out.stderr
    return None, out.stdout.strip()


def as_dumped(command, body):
    """What proto_msg_dump prints for a message with this (full) body."""
    out = {}
    for key, value in body.items():
        if command == "REPLY" and key == "data":
            value = msgpack.packb(value, use_bin_type=True).hex()
        elif isinstance(value, bytes):
            value = value.hex()
        elif key == "records":
            value = [[[name, kind_of(v), v if isinstance(v, str) else (0 if v is None else float(v))]
                      for name, v in rec.items()] for rec in value]
        out[key] = value
    return {"cmd": command, "body": out}


def kind_of(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "str"


def test_python_encoding_matches_c_byte_for_byte():
    c = c_samples()
    assert sorted(c) == sorted(SPEC), "test_msg --dump-samples must cover every command"
    for command, body in SAMPLES.items():
        assert list(body) == [k for k, _ in SPEC[command]], f"{command}: sample not in table order"
        py = pack(command, body)
        assert py == c[command], f"{command}:\n python {py.hex()}\n C      {c[command].hex()}"


def test_c_decodes_python_samples():
    for command, body in SAMPLES.items():
        got, err = c_decode(pack(command, body))
        assert err is None, f"{command}: {err}"
        assert got == as_dumped(command, canonical(command, body)), command


def test_c_decodes_liberal_forms_with_defaults():
    # optional keys left out, keys in reverse order
    for command, body in SAMPLES.items():
        required = {k: v for k, v in body.items() if dict(SPEC[command])[k] is None}
        backwards = dict(reversed(list(required.items())))
        got, err = c_decode(pack(command, backwards))
        assert err is None, f"{command}: {err}"
        assert got == as_dumped(command, canonical(command, required)), command

    # wider int encodings and float 32 are the same values
    wide = b"\x93\xcf" + (1).to_bytes(8, "big") + msgpack.packb("RUNS") + b"\x81" + \
        msgpack.packb("limit") + b"\xd2" + (5).to_bytes(4, "big")
    got, err = c_decode(wide)
    assert err is None, err
    assert got["body"]["limit"] == 5
    single = msgpack.packb([1, "PREDICTION", {"req_id": 1, "model_version": 2, "predictions": [1],
                                              "probabilities": [0.25]}], use_single_float=True)
    assert b"\xca" in single
    got, err = c_decode(single)
    assert err is None, err
    assert got["body"]["probabilities"] == [0.25]


def test_reply_code_is_additive():
    """REPLY's code (after MLOPS/1's first REPLY): a refusal carries it and
    the C decoder reads it; a REPLY without it (an older broker) decodes
    with code "" and so does one from a client that never heard of it."""
    refusal = {"ok": False, "error": "version 3 is already in production", "data": None,
               "code": "conflict"}
    got, err = c_decode(pack("REPLY", refusal))
    assert err is None, err
    assert got == as_dumped("REPLY", refusal)
    old = {"ok": False, "error": "no version 9", "data": None}
    got, err = c_decode(pack("REPLY", old))
    assert err is None, err
    assert got["body"]["code"] == "" and got["body"]["error"] == "no version 9"
    # a code this peer does not know still decodes: the receiver treats it as "internal"
    got, err = c_decode(pack("REPLY", dict(refusal, code="on_fire")))
    assert err is None and got["body"]["code"] == "on_fire", err
    got, err = c_decode(pack("REPLY", dict(refusal, code=7)))
    assert got is None and "REPLY: code: expected str, got int" in err, err


def test_c_refuses_what_the_spec_forbids_naming_the_key():
    cases = [
        (pack("RETRAIN", {"sourse": "x"}), 'RETRAIN: unknown key "sourse" at byte 11'),
        (pack("PROMOTE", {"reason": "x"}), 'PROMOTE: missing required key "version"'),
        (pack("RUNS", {"limit": -1}), "RUNS: limit: -1 is below 0"),
        (pack("RUNS", {"limit": "5"}), "RUNS: limit: expected int, got str"),
        (pack("PREDICT", {"req_id": 1, "records": [{"Age": 3}, {"Age": {"years": 3}}]}),
         "PREDICT: records[1].Age: a record value must be nil, bool, int, float or str, got map"),
        (pack("TASK", {"task_id": "t", "run_id": 1, "stage": "s", "attempt": 1, "input": "not bin"}),
         "TASK: input: expected bin, got str"),
        (msgpack.packb([3, "STATUS", {}]), "version 3"),
        (msgpack.packb([1, "READY", {"stage": "train", "host": "h", "pid": 1, "name": "w"}]),
         'READY: key "name" at byte 33 needs version 2 (the envelope says 1)'),
        (msgpack.packb([1, "LOGS", {"run_id": 1}]), 'command "LOGS" at byte 2 needs version 2'),
        (msgpack.packb([1, "STATU", {}]), 'unknown command "STATU"'),
        (msgpack.packb([1, "STATUS"]), "2 elements, expected 3"),
        (pack("STATUS", {}) + b"\xc0", "trailing bytes"),
        (pack("RETRAIN", {"source": "a\x00b"}), "RETRAIN: source: str at byte 18 has a NUL byte at byte 20"),
        (pack("SERVING", {"host": "h", "pid": 1}), 'SERVING: missing required key "model_version"'),
        (pack("SERVING", {"host": "h", "pid": 1, "model_version": -2}), "SERVING: model_version: -2 is below 0"),
        (pack("SERVING", {"host": "h", "pid": 1, "model_version": 2, "interval_ms": 1.5}),
         "SERVING: interval_ms: expected int, got float"),
        (pack("SERVING", {"host": "h", "pid": 1, "model_version": 2, "version": 2}),
         'SERVING: unknown key "version"'),
    ]
    for frame, needle in cases:
        got, err = c_decode(frame)
        assert got is None, f"decoded {frame.hex()}: {got}"
        assert needle in err, f"{err!r} lacks {needle!r}"


def protocol_examples():
    """The ```python blocks of PROTOCOL.md section 9, in order."""
    text = open(os.path.join(REPO, "proto", "PROTOCOL.md"), encoding="utf-8").read()
    section = text.split("## 9. Examples in Python", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in section.split("```python\n")[1:]]


def test_protocol_example_runs_against_a_stub_broker():
    """The spec's retrain + status example, run as written against a stub
    ROUTER that checks each request with the C decoder and answers with the
    REPLY data shapes of section 5.2."""
    import threading
    import zmq

    example = protocol_examples()[0]
    assert "RETRAIN" in example and "STATUS" in example
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = bind_free(router)
    seen, errors = [], []
    answers = {
        "RETRAIN": {"run_id": 4, "coalesced": False, "state": "queued"},
        "STATUS": {"active_run": 3, "queued": 1, "next_schedule_ms": 0, "production_version": 2,
                   "workers": [{"stage": "train", "host": "h1", "pid": 10, "state": "busy",
                                "task_id": "3-train-forest", "last_seen_ms": 1764130000000}]},
    }

    def serve():
        try:
            for _ in range(2):
                if not router.poll(10000):
                    errors.append("no request within 10 s")
                    return
                identity, empty, payload = router.recv_multipart()  # a REQ client
                got, err = c_decode(payload)
                if err:
                    errors.append(err)
                    return
                seen.append(got["cmd"])
                reply = pack("REPLY", {"ok": True, "error": "", "data": answers[got["cmd"]]})
                router.send_multipart([identity, empty, reply])
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    code = example.replace("tcp://127.0.0.1:5556", f"tcp://127.0.0.1:{port}")
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=30)
    thread.join(15)
    router.close()
    ctx.term()
    assert not errors, errors
    assert out.returncode == 0, out.stderr
    assert seen == ["RETRAIN", "STATUS"]
    assert "run 4 new queued" in out.stdout
    assert "active run 3 production 2" in out.stdout
    assert "h1:10 busy 3-train-forest" in out.stdout


def test_protocol_examples_compile():
    for block in protocol_examples():
        compile(block, "PROTOCOL.md", "exec")


def test_wire_unpack_checks_the_envelope():
    """tests/wire.py's unpack reads what pack writes and refuses a frame that
    is not an MLOPS/1 or MLOPS/2 envelope, saying what it got."""
    assert unpack(pack("STATUS", {})) == ("STATUS", {})
    assert unpack(pack("LOGS", {"run_id": 1}, version=2)) == ("LOGS", {"run_id": 1})
    for frame, needle in [(msgpack.packb([1, "STATUS"]), "not a 3-element array"),
                          (msgpack.packb([3, "STATUS", {}]), "not an MLOPS/1 or MLOPS/2 envelope"),
                          (msgpack.packb([1, b"STATUS", {}]), "not an MLOPS/1 or MLOPS/2 envelope"),
                          (msgpack.packb([1, "STATUS", []]), "not an MLOPS/1 or MLOPS/2 envelope")]:
        with pytest.raises(ValueError, match=needle):
            unpack(frame)


def test_data_service_example_runs_against_a_broker(procs):
    """PROTOCOL.md section 15's example, run as written (DATA set to the
    broker's data endpoint) against a real mlops-broker: it prints STORED,
    then the bytes it fetched back."""
    from procs import Broker

    text = open(os.path.join(REPO, "proto", "PROTOCOL.md"), encoding="utf-8").read()
    section = text.split("## 15. Data service", 1)[1].split("\n## ", 1)[0]
    blocks = [block.split("```", 1)[0] for block in section.split("```python\n")[1:]]
    assert len(blocks) == 1
    broker = Broker(procs)
    code = "DATA = %r\n%s" % (broker.data, blocks[0])
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "STORED\nb'hello'\n"


def test_protocol_events_example_runs_against_a_stub_publisher():
    """Section 9's events example, run as written against a stub PUB that
    publishes a run's events (topic `run`, then a `model` event it must
    skip) until the example stops at the run's end."""
    import time
    import zmq

    example = protocol_examples()[1]
    assert "SUBSCRIBE" in example
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = bind_free(pub)
    code = example.replace("tcp://127.0.0.1:5557", f"tcp://127.0.0.1:{port}")
    proc = subprocess.Popen(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, text=True)
    events = [("model", {"kind": "model", "state": "production", "version": 3, "ts_ms": 1}),
              ("run", {"kind": "run", "run_id": 7, "state": "running", "message": "go", "ts_ms": 2}),
              ("run", {"kind": "run", "run_id": 7, "state": "succeeded", "message": "promoted v3",
                       "ts_ms": 3})]
    end = time.time() + 20
    while proc.poll() is None and time.time() < end:   # a SUB joins late: publish until it ends
        for topic, body in events:
            pub.send_multipart([topic.encode(), pack("EVENT", body)])
        time.sleep(0.05)
    timed_out = proc.poll() is None
    if timed_out:
        proc.kill()
    out = proc.communicate(timeout=5)[0]
    pub.close()
    ctx.term()
    assert not timed_out and proc.returncode == 0
    lines = out.splitlines()
    assert lines[-1] == "7 succeeded promoted v3"
    assert set(lines) <= {"7 running go", "7 succeeded promoted v3"}
