"""test_serving.py: mlops-gateway over real HTTP (python3-requests), with
inference workers played by a Python fake that speaks MLOPS/1, so every
gateway behaviour is reachable: routing, every error class, deadlines,
re-sending when a worker goes away, slow clients, /health and /metrics.
The real inference worker is tested in test_serving_infer.py."""
import json
import socket
import threading
import time

import pytest
import requests
import zmq

from procs import BIN, Gateway, free_endpoint, free_port, wait_for
from serving_util import PASSENGER, FakeWorker
from wire import pack, unpack


def test_help_and_bad_flags(procs):
    import subprocess
    out = subprocess.run([BIN + "/mlops-gateway", "--help"], capture_output=True, text=True, timeout=5)
    assert out.returncode == 0 and "--backend" in out.stdout and "--deadline" in out.stdout
    bad = subprocess.run([BIN + "/mlops-gateway", "--port", "70000"], capture_output=True, text=True,
                         timeout=5)
    assert bad.returncode == 2 and "--port" in bad.stderr
    bad = subprocess.run([BIN + "/mlops-gateway", "--frobnicate", "1"], capture_output=True, text=True,
                         timeout=5)
    assert bad.returncode == 2 and "unknown flag" in bad.stderr


def test_ports_in_use_are_reported(procs):
    import subprocess
    with socket.socket() as taken:
        port = free_port()
        taken.bind(("127.0.0.1", port))
        taken.listen()
        r = subprocess.run([BIN + "/mlops-gateway", "--port", str(port), "--bind", "127.0.0.1",
                            "--backend", free_endpoint()],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 1 and "cannot listen on 127.0.0.1:%d" % port in r.stderr
        r = subprocess.run([BIN + "/mlops-gateway", "--port", str(free_port()), "--bind", "127.0.0.1",
                            "--backend", "tcp://127.0.0.1:%d" % port], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 1 and "cannot bind the backend socket" in r.stderr
    r = subprocess.run([BIN + "/mlops-gateway", "--bind", "nowhere", "--backend",
                        free_endpoint()], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "not an IPv4 address" in r.stderr


def test_no_worker_is_503_with_reason(procs):
    gw = Gateway(procs)
    h = gw.health()
    assert h.status_code == 503
    assert h.json()["status"] == "unavailable" and "no inference worker" in h.json()["detail"]
    r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    assert r.status_code == 503 and "no inference worker" in r.json()["detail"]


def test_worker_without_model_is_503(procs, workers):
    gw = Gateway(procs)
    workers.append(FakeWorker(gw.backend, version=0))
    wait_for(lambda: gw.health().json()["workers"] == 1, what="worker known")
    h = gw.health()
    assert h.status_code == 503 and "no inference worker has a model" in h.json()["detail"]
    r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    assert r.status_code == 503 and "no model" in r.json()["detail"]


def test_predict_and_batch_round_trip(procs, workers):
    gw = Gateway(procs)
    w = FakeWorker(gw.backend, version=7)
    workers.append(w)
    gw.wait_workers(1, version=7)
    assert gw.health().json() == {"status": "ok", "model_version": 7, "workers": 1, "workers_serving": 1}
    r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == {"prediction": 0, "probability": 0.22, "model_version": 7,
                        "request_id": r.headers["X-Request-Id"]}
    assert w.received[-1] == [PASSENGER]   # the record arrived typed and whole
    batch = {"instances": [dict(PASSENGER, Age=a) for a in (10, 80, None)]}
    r = requests.post(gw.url + "/predict/batch", json=batch, timeout=5)
    assert r.status_code == 200
    assert r.json() == {"predictions": [0, 1, 1], "probabilities": [0.1, 0.8, 0.5], "model_version": 7,
                        "request_id": r.headers["X-Request-Id"]}
    assert w.received[-1][2]["Age"] is None


def test_not_json_is_400_with_position(procs, workers):
    gw = Gateway(procs)
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    r = requests.post(gw.url + "/predict", data=b'{"Pclass": 3,, }', timeout=5)
    assert r.status_code == 400
    assert r.json()["position"] == 13 and "byte 13" in r.json()["detail"]
    r = requests.post(gw.url + "/predict/batch", data=b"", timeout=5)
    assert r.status_code == 400 and r.json()["position"] == 0


def test_wrong_shapes_are_422_with_detail(procs, workers):
    gw = Gateway(procs, "--batch-max", "3")
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    r = requests.post(gw.url + "/predict", json=[PASSENGER], timeout=5)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
    r = requests.post(gw.url + "/predict", json=dict(PASSENGER, Age=[1]), timeout=5)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "Age"]
    r = requests.post(gw.url + "/predict/batch", json={"rows": []}, timeout=5)
    assert r.json()["detail"][0] == {"loc": ["body", "instances"], "msg": "field required",
                                     "type": "value_error"}
    r = requests.post(gw.url + "/predict/batch", json={"instances": []}, timeout=5)
    assert r.status_code == 422 and "at least 1" in r.json()["detail"][0]["msg"]
    r = requests.post(gw.url + "/predict/batch", json={"instances": [PASSENGER] * 4}, timeout=5)
    assert r.status_code == 422 and "more than the limit of 3" in r.json()["detail"][0]["msg"]
    r = requests.post(gw.url + "/predict/batch", json={"instances": [PASSENGER, 5, {"a": {}}]}, timeout=5)
    locs = [d["loc"] for d in r.json()["detail"]]
    assert r.status_code == 422 and locs == [["body", "instances", 1], ["body", "instances", 2, "a"]]


def test_worker_validation_422_is_passed_on(procs, workers):
    gw = Gateway(procs)
    workers.append(FakeWorker(gw.backend, mode="error"))
    gw.wait_workers(1)
    r = requests.post(gw.url + "/predict", json={"bad": 1}, timeout=5)
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "bad"], "msg": "is bad", "type": "value_error"}]
    r = requests.post(gw.url + "/predict/batch", json={"instances": [{"ok": 1}, {"bad": 2}]}, timeout=5)
    assert r.json()["detail"][0]["loc"] == ["body", "instances", 1, "bad"]
    # NaN is a value to validate, not a syntax error
    r = requests.post(gw.url + "/predict", data=b'{"bad": NaN}', timeout=5)
    assert r.status_code == 422


def test_nan_reaches_the_worker_as_float(procs, workers):
    gw = Gateway(procs)
    w = FakeWorker(gw.backend)
    workers.append(w)
    gw.wait_workers(1)
    requests.post(gw.url + "/predict", data=b'{"Fare": NaN, "Age": -Infinity}', timeout=5)
    rec = w.received[-1][0]
    assert rec["Fare"] != rec["Fare"] and rec["Age"] == float("-inf")


def test_body_limits_are_413(procs, workers):
    gw = Gateway(procs, "--body-max", "200", "--batch-body-max", "1000")
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    big = json.dumps(dict(PASSENGER, Name="x" * 300))
    r = requests.post(gw.url + "/predict", data=big, timeout=5)
    assert r.status_code == 413 and "over the limit of 200 bytes" in r.json()["detail"]

    def chunks():
        for _ in range(20):
            yield b'{"instances": [' + b" " * 100
    r = requests.post(gw.url + "/predict/batch", data=chunks(), timeout=5)   # chunked: no length
    assert r.status_code == 413
    r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    assert r.status_code == 200


def test_large_headers_fit_and_huge_ones_are_431(procs, workers):
    """Headers live in libmicrohttpd's per-connection pool (16 KiB): 12 KB of
    them still fit beside a batch body; more is refused with 431, and the
    gateway goes on."""
    gw = Gateway(procs)
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    batch = {"instances": [PASSENGER] * 100}
    r = requests.post(gw.url + "/predict/batch", json=batch, headers={"X-Big": "a" * 12000}, timeout=5)
    assert r.status_code == 200 and len(r.json()["predictions"]) == 100
    try:
        r = requests.post(gw.url + "/predict", json=PASSENGER, headers={"X-Big": "a" * 20000}, timeout=5)
        assert r.status_code == 431
    except requests.ConnectionError:
        pass   # the 431 went out, then the close reset the rest of our request: TCP's way
    r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    assert r.status_code == 200


def test_wrong_method_and_path(procs, workers):
    gw = Gateway(procs)
    r = requests.get(gw.url + "/predict", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "POST" and "POST" in r.json()["detail"]
    r = requests.post(gw.url + "/health", json={}, timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    r = requests.get(gw.url + "/nope", timeout=5)
    assert r.status_code == 404 and "/predict" in r.json()["detail"]
    r = requests.post(gw.url + "/predict/", json=PASSENGER, timeout=5)
    assert r.status_code == 404


def test_deadline_is_504(procs, workers):
    gw = Gateway(procs, "--deadline", "300ms")
    workers.append(FakeWorker(gw.backend, mode="silent"))
    gw.wait_workers(1)
    t = time.time()
    r = requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    assert r.status_code == 504 and "300 ms" in r.json()["detail"]
    assert time.time() - t >= 0.3


def _answered_by(procs, workers, mode, path, body):
    """The gateway (deadline 1 s) and its answer to one request served by a
    FakeWorker in mode."""
    gw = Gateway(procs, "--deadline", "1s")
    workers.append(FakeWorker(gw.backend, mode=mode))
    gw.wait_workers(1)
    return gw, requests.post(gw.url + path, json=body, timeout=5)


def test_inconsistent_predictions_are_502_or_dropped(procs, workers):
    """PROTOCOL.md, PREDICTION: an answer whose lengths disagree with the
    request, or with a probability outside [0, 1], is the worker's fault
    (502, naming it); one whose arrays disagree with each other does not
    decode and is dropped like any bad frame (the request ends in 504)."""
    # echo: probability = Age / 100
    gw, r = _answered_by(procs, workers, "echo", "/predict", dict(PASSENGER, Age=150))
    assert r.status_code == 502
    assert r.json()["detail"] == "the inference worker answered probabilities[0] = 1.5, outside [0, 1]"
    batch = {"instances": [dict(PASSENGER, Age=10), dict(PASSENGER, Age=-20)]}
    r = requests.post(gw.url + "/predict/batch", json=batch, timeout=5)
    assert r.status_code == 502
    assert r.json()["detail"] == "the inference worker answered probabilities[1] = -0.2, outside [0, 1]"
    batch = {"instances": [PASSENGER, PASSENGER]}
    _, r = _answered_by(procs, workers, "short", "/predict/batch", batch)
    assert r.status_code == 502
    assert r.json()["detail"] == "the inference worker answered 1 predictions for 2 records"
    gw, r = _answered_by(procs, workers, "uneven", "/predict/batch", batch)
    assert r.status_code == 504
    assert "mlops_gateway_bad_frames_total 1" in requests.get(gw.url + "/metrics", timeout=5).text


def test_a_frame_over_the_backend_limit_is_never_read(procs, workers):
    """The backend socket's ZMQ_MAXMSGSIZE (gateway/backend.c: the largest
    PREDICTION the protocol allows, 100000 x (100 + 3) x 9 bytes, plus 1 MiB):
    ZeroMQ drops the sender's connection before the gateway decodes anything."""
    from zmq.utils.monitor import recv_monitor_message
    gw = Gateway(procs)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    monitor = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
    sock.connect(gw.backend)
    events = []
    while zmq.EVENT_CONNECTED not in events and monitor.poll(10000):
        events.append(recv_monitor_message(monitor)["event"])
    assert zmq.EVENT_CONNECTED in events
    sock.send(b"\x00" * (100000 * 103 * 9 + (1 << 20) + 1))
    assert monitor.poll(10000), "the gateway kept a connection that sent too large a frame"
    assert recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED
    sock.disable_monitor()
    monitor.close()
    sock.close()
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    assert requests.post(gw.url + "/predict", json=PASSENGER, timeout=5).status_code == 200
    assert "mlops_gateway_bad_frames_total 0" in requests.get(gw.url + "/metrics", timeout=5).text


def test_requests_of_a_vanished_worker_go_to_another(procs, workers):
    gw = Gateway(procs)
    silent = FakeWorker(gw.backend, version=1, mode="silent", host="silent")
    workers.append(silent)
    gw.wait_workers(1)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        requests.post(gw.url + "/predict", json=PASSENGER, timeout=10))) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(silent.received) == 4, what="requests at the silent worker")
    good = FakeWorker(gw.backend, version=1, host="good")
    workers.append(good)
    gw.wait_workers(2)
    silent.close()          # its socket closes with 4 requests in flight
    for t in threads:
        t.join(10)
    assert [r.status_code for r in results] == [200] * 4
    assert len(good.received) == 4
    metrics = requests.get(gw.url + "/metrics", timeout=5).text
    assert "mlops_gateway_resent_total 4" in metrics


def test_stop_answers_requests_in_flight(procs, workers):
    import signal
    gw = Gateway(procs)
    w = FakeWorker(gw.backend, mode="slow")
    workers.append(w)
    gw.wait_workers(1)
    results = []
    t = threading.Thread(target=lambda: results.append(
        requests.post(gw.url + "/predict", json=PASSENGER, timeout=10)))
    t.start()
    wait_for(lambda: len(w.received) == 1, what="request at the worker")
    gw.proc.send_signal(signal.SIGTERM)   # a rolling restart: the answer still comes
    t.join(10)
    assert results and results[0].status_code == 200
    assert gw.proc.wait(5) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(gw.url + "/health", timeout=2)


def test_unknown_worker_is_told_to_ready(procs):
    import zmq
    gw = Gateway(procs)
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(gw.backend)
    try:
        s.send(pack("HEARTBEAT", {"task_id": "", "model_version": 1}))
        assert s.poll(3000)
        command, body = unpack(s.recv())
        assert command == "DISCONNECT" and "READY" in body["reason"]
        s.send(pack("READY", {"stage": "train", "host": "h", "pid": 1, "model_version": 0}))
        assert s.poll(3000)
        command, body = unpack(s.recv())
        assert command == "DISCONNECT" and "not train" in body["reason"]
        s.send(b"\x93garbage")   # malformed: dropped, gateway carries on
        assert gw.health().status_code == 503
    finally:
        s.close()
        ctx.term()


def test_slow_client_is_dropped(procs, workers):
    gw = Gateway(procs, "--client-timeout", "1s")
    workers.append(FakeWorker(gw.backend))
    gw.wait_workers(1)
    slow = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    slow.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"Pcl")
    # while it dawdles, others are served
    assert requests.post(gw.url + "/predict", json=PASSENGER, timeout=5).status_code == 200
    t = time.time()
    assert slow.recv(100) == b""   # closed by the gateway
    assert 0.5 < time.time() - t < 4
    slow.close()


def test_metrics_text(procs, workers):
    gw = Gateway(procs)
    workers.append(FakeWorker(gw.backend, version=4, host="metrics-host"))
    gw.wait_workers(1)
    for _ in range(3):
        requests.post(gw.url + "/predict", json=PASSENGER, timeout=5)
    requests.post(gw.url + "/predict/batch", json={"instances": [PASSENGER] * 5}, timeout=5)
    requests.get(gw.url + "/nope", timeout=5)
    r = requests.get(gw.url + "/metrics", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert 'mlops_gateway_requests_total{endpoint="/predict",status="200"} 3' in text
    assert 'mlops_gateway_requests_total{endpoint="/predict/batch",status="200"} 1' in text
    assert 'mlops_gateway_requests_total{endpoint="other",status="404"} 1' in text
    assert 'mlops_gateway_request_duration_seconds_count{endpoint="/predict"} 3' in text
    assert "mlops_gateway_model_version 4" in text and "mlops_gateway_workers 1" in text
    assert 'mlops_infer_records_total{worker="metrics-host:' in text
    line = [l for l in text.splitlines() if l.startswith("mlops_infer_records_total")][0]
    assert line.endswith(" 8")
