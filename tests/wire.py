"""wire.py: MLOPS/1 as a Python peer speaks it, written from
proto/PROTOCOL.md; the one packer and unpacker of the Python tests, the
fault suite and bench/.

A payload is one frame holding one msgpack array [version, command, body]
(section 4): version 1, the command's upper-case name, a map with str keys.
Packed with use_bin_type so str stays str and bytes become bin; with the
body's keys in the order of the command's table this is the C encoder's
canonical byte string (section 5.5). Unpacking checks the envelope (array of
three, version 1, str command, map body) and nothing of the body: the tests
check bodies themselves, and the C decoder is the strict one.

A control request (sections 3, 5.2 and 6.3) is one payload on a REQ socket,
or on a DEALER without the empty delimiter, answered by one REPLY.
"""
import msgpack
import zmq

VERSION = 1                 # MLOPS/1: what pack writes unless told otherwise
VERSIONS = (1, 2)           # what unpack reads (MLOPS/2 adds LOGS and a few keys, section 4.1)
REPLY_TIMEOUT_MS = 5000     # how long a control client waits by default


def pack(command, body, version=VERSION):
    """The payload of one message: bytes for one frame. A message that uses
    anything MLOPS/2 added (LOGS, READY.name, ...) needs version=2."""
    return msgpack.packb([version, command, body], use_bin_type=True)


def unpack(frame):
    """(command, body) of one payload. ValueError when the frame is not an
    MLOPS/1 envelope (msgpack's own errors for bytes that are not msgpack)."""
    message = msgpack.unpackb(frame, raw=False)
    if not isinstance(message, list) or len(message) != 3:
        raise ValueError("not a 3-element array: %r" % (message,))
    version, command, body = message
    if version not in VERSIONS or not isinstance(command, str) or not isinstance(body, dict):
        raise ValueError("not an MLOPS/1 or MLOPS/2 envelope: %r" % (message,))
    return command, body


def exchange(sock, payload, timeout_ms=REPLY_TIMEOUT_MS):
    """Sends payload (bytes) on a control socket and returns the REPLY's body,
    or None when nothing came within timeout_ms (the broker may be away, or
    refuse a CURVE client in silence). AssertionError for any other answer."""
    sock.send(payload)
    if not sock.poll(timeout_ms):
        return None
    command, body = unpack(sock.recv())
    assert command == "REPLY", "answer %s, not REPLY: %r" % (command, body)
    return body


def request(sock, command, body, timeout_ms=REPLY_TIMEOUT_MS):
    """exchange() of one packed request."""
    return exchange(sock, pack(command, body), timeout_ms)


def control_request(endpoint, command, body, timeout_ms=REPLY_TIMEOUT_MS, kind=zmq.REQ):
    """One request on a fresh socket of `kind` (REQ, or DEALER) connected to
    endpoint, closed after: the REPLY's body, or None on silence."""
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        return request(sock, command, body, timeout_ms)
    finally:
        sock.close()


def data(reply, command):
    """The data of a REPLY that must have succeeded (AssertionError naming
    the command and the broker's error otherwise)."""
    assert reply is not None, "no REPLY to %s" % command
    assert reply["ok"], "%s refused: %s" % (command, reply["error"])
    return reply["data"]
