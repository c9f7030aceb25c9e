#!/usr/bin/python3
"""load_wait.py: what the load_model wait (proto/PROTOCOL.md 6.4) costs a run.

Real processes on loopback: a broker (--margin -1, so every run promotes),
one worker per stage, and 0 or 2 inference workers (no gateway: only what
they tell the broker matters here). For each setting, RUNS retrains; for
each run it takes from the run record the load_model span (dispatch to
settled, so validation plus, with inference workers, the wait until both
report the new version with SERVING) and the whole run (first dispatch to
end). Prints the medians.

    /usr/bin/python3 bench/load_wait.py          RUNS=7 by default; SOURCE=synthetic:891:42
"""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from procs import Broker, Procs, free_endpoint, start_infer, wait_for  # noqa: E402

RUNS = int(os.environ.get("RUNS", "7"))
SOURCE = os.environ.get("SOURCE", "synthetic:891:42")


def measure(n_infer):
    with tempfile.TemporaryDirectory(prefix="mlops-bench-load-wait.") as tmp:
        procs = Procs(tmp)
        try:
            broker = Broker(procs, extra=["--margin", "-1", "--no-sync"])
            broker.all_workers(trains=2)
            for _ in range(n_infer):
                start_infer(procs, free_endpoint(), "--broker", broker.control, "--events", broker.events)
            wait_for(lambda: len(broker.status()["serving"]) == n_infer, what="infer workers reporting")
            load, whole = [], []
            for i in range(RUNS):
                run_id = broker.request("RETRAIN", {"source": SOURCE, "reason": "bench %d" % i})["run_id"]
                run = broker.wait_run(run_id, timeout=120)
                assert run["state"] == "succeeded", run
                task = next(t for t in run["tasks"] if t["stage"] == "load_model")
                load.append(task["ended_ms"] - task["started_ms"])
                whole.append(run["ended_ms"] - run["started_ms"])
                if n_infer:
                    assert run["outcome"].endswith("%d inference workers serve v%d" % (n_infer, run["version"]))
            return statistics.median(load), statistics.median(whole)
        finally:
            procs.stop()


def main():
    print("load_model wait, %d runs each, source %s (medians, ms)" % (RUNS, SOURCE))
    print("%-22s %18s %10s" % ("inference workers", "load_model span", "whole run"))
    for n in (0, 2):
        load, whole = measure(n)
        print("%-22d %18.0f %10.0f" % (n, load, whole))
    print("reproduce: RUNS=%d SOURCE=%s /usr/bin/python3 bench/load_wait.py" % (RUNS, SOURCE))


if __name__ == "__main__":
    main()
