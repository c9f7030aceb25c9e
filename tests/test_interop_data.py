"""test_interop_data.py: a Python peer of the data service written from
proto/PROTOCOL.md section 15 alone, against a real mlops-broker: the
section's example (PUT then GET), a blob of several chunks with a window of
GETs in flight, and the refusals a client meets (an unknown hash, bytes that
do not hash to their name, which leave nothing behind, another version)."""
import hashlib
import re

import msgpack
import zmq

from procs import Broker, read_log, wait_for

CHUNK = 1 << 20


def head(cmd, name, offset=0, size=0, total=0, v=1):
    return msgpack.packb({"v": v, "cmd": cmd, "hash": name, "offset": offset, "size": size,
                          "total": total, "code": "", "error": ""})


def data_socket(broker):
    """A DEALER on the data endpoint the broker's listening line names."""
    line = wait_for(lambda: re.search(r"data=(\S+)", read_log(broker.proc)), what="data endpoint")
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.connect(line.group(1))
    return s


def answer(s):
    frames = s.recv_multipart()
    return msgpack.unpackb(frames[0]), frames[1:]


def test_example_put_then_get(procs):
    s = data_socket(Broker(procs))
    blob = b"hello"
    name = hashlib.sha256(blob).hexdigest()
    s.send_multipart([head("PUT", name, size=len(blob), total=len(blob)), blob])
    assert answer(s)[0]["cmd"] == "STORED"
    s.send_multipart([head("GET", name, size=len(blob))])
    h, chunk = answer(s)
    assert (h["cmd"], h["total"], chunk) == ("CHUNK", 5, [b"hello"])


def test_window_of_chunks(procs):
    s = data_socket(Broker(procs))
    blob = bytes(range(256)) * (3 * CHUNK // 256 + 17)
    name = hashlib.sha256(blob).hexdigest()
    offsets = list(range(0, len(blob), CHUNK))
    for off in offsets:   # the whole upload in flight at once: 4 chunks, within the window
        part = blob[off:off + CHUNK]
        s.send_multipart([head("PUT", name, off, len(part), len(blob)), part])
    cmds = [answer(s)[0]["cmd"] for _ in offsets]
    assert cmds == ["ACK"] * (len(offsets) - 1) + ["STORED"]
    for off in offsets:
        s.send_multipart([head("GET", name, off, min(CHUNK, len(blob) - off))])
    back = b"".join(answer(s)[1][0] for _ in offsets)
    assert back == blob


def test_refusals(procs):
    s = data_socket(Broker(procs))
    name = hashlib.sha256(b"other").hexdigest()
    s.send_multipart([head("GET", name)])
    h, _ = answer(s)
    assert (h["cmd"], h["code"]) == ("ERROR", "not_found")
    s.send_multipart([head("PUT", name, size=5, total=5), b"forge"])
    h, _ = answer(s)
    assert (h["code"], "have sha256" in h["error"]) == ("mismatch", True)
    s.send_multipart([head("GET", name)])
    assert answer(s)[0]["code"] == "not_found"   # nothing half-visible
    s.send_multipart([head("GET", name, v=2)])
    h, _ = answer(s)
    assert h["code"] == "invalid" and "this peer speaks 1" in h["error"]
