#!/usr/bin/python3
"""api_latency.py: what the gateway's /api costs, and that a silent broker
does not slow /predict (the control round-trip shares the reactor thread).

Prints latency percentiles of sequential requests over loopback:
  1. GET /api/runs, /api/models, /api/workers against a real broker (empty store)
  2. POST /predict to a fake echo inference worker, alone
  3. the same while 32 /api requests wait on a broker that never answers

Run from the repo root after `make`:  /usr/bin/python3 bench/api_latency.py [N]
"""
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import requests  # noqa: E402
import zmq  # noqa: E402
from procs import Broker, Gateway, Procs, bind_free  # noqa: E402
from serving_util import FakeWorker  # noqa: E402


def percentiles(session, method, url, n, **kw):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = session.request(method, url, timeout=10, **kw)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    times.sort()
    return "p50 %.2f ms  p99 %.2f ms  (n=%d)" % (times[n // 2], times[min(n - 1, n * 99 // 100)], n)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    procs = Procs(tempfile.mkdtemp(prefix="bench-api-"))
    worker = None
    silent = zmq.Context.instance().socket(zmq.ROUTER)
    silent.setsockopt(zmq.LINGER, 0)
    try:
        broker = Broker(procs, ["--no-sync"])
        gw = Gateway(procs, "--broker", broker.control)
        s = requests.Session()
        for path in ("/api/runs", "/api/models", "/api/workers"):
            percentiles(s, "GET", gw.url + path, 20)   # warm up (broker connected)
            print("%-28s %s" % ("GET " + path, percentiles(s, "GET", gw.url + path, n)))
        silent_port = bind_free(silent)
        gw2 = Gateway(procs, "--broker", "tcp://127.0.0.1:%d" % silent_port, "--broker-timeout", "10m")
        worker = FakeWorker(gw2.backend)
        gw2.wait_workers(1)
        body = {"Pclass": 3, "Sex": "male", "Age": 22}
        percentiles(s, "POST", gw2.url + "/predict", 50, json=body)
        print("%-28s %s" % ("POST /predict", percentiles(s, "POST", gw2.url + "/predict", n, json=body)))
        waiting = [threading.Thread(target=lambda: requests.get(gw2.url + "/api/runs", timeout=30),
                                    daemon=True) for _ in range(32)]
        for t in waiting:
            t.start()
        time.sleep(0.5)
        print("%-28s %s" % ("POST /predict, 32 /api wait",
                            percentiles(s, "POST", gw2.url + "/predict", n, json=body)))
    finally:
        if worker:
            worker.close()
        procs.stop()
        silent.close()


if __name__ == "__main__":
    main()
