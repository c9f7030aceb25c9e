#!/usr/bin/python3
"""drift_live.py: the drift watch through the real stack (a broker with
--drift-threshold, one stage worker per stage, a gateway and an inference
worker reporting at its default interval, v1 trained on the Titanic file
and served; --margin 1, so no retrain is promoted and v1 is watched
throughout). Two measurements, printed with how to reproduce them:

- false alarms: WINDOWS windows of in-distribution traffic (rows drawn with
  replacement from the Titanic file, the issue's "rows sampled from the
  training data"), each of exactly --drift-min-rows rows, the noisiest
  window that can decide. Each window starts on an empty window (a broker
  restart empties it: broker/drift_watch.c) and every SERVING report is a
  check. Counts the retrains started (must be 0) and the largest field
  distance seen per window.
- shift to retrain: --drift-min-rows in-distribution rows, then shifted
  rows (Fare x3 + 30, Pclass 1, Sex female: tests/drift_stack.py) at RATE
  rows/s in requests of 50; the time from the first shifted request to the
  run's trigger time (its created_ms) and to the run showing in RUNS, and
  the shifted rows sent by then. REPEATS times, one broker restart apart.

    /usr/bin/python3 bench/drift_live.py    (THRESHOLD=0.15 MIN_ROWS=1000 WINDOWS=20
                                             REPEATS=5 RATE=1000 REPORT=1s)
"""
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import drift_stack  # noqa: E402
from drift_stack import drift, drift_runs, post, shifted, titanic_records, window_rows  # noqa: E402
from procs import Procs, wait_for  # noqa: E402

THRESHOLD = float(os.environ.get("THRESHOLD", "0.15"))
MIN_ROWS = int(os.environ.get("MIN_ROWS", "1000"))
WINDOWS = int(os.environ.get("WINDOWS", "20"))
REPEATS = int(os.environ.get("REPEATS", "5"))
RATE = int(os.environ.get("RATE", "1000"))
REPORT = os.environ.get("REPORT", "1s")
CHUNK = 50   # rows per request while shifting


def restart(broker):
    """An empty window, the cooldown reset: a broker restart (same store)."""
    broker.kill()
    broker.start()
    wait_for(lambda: drift(broker)["versions"] == [], what="empty windows")


def false_alarms(broker, gw, rng, records):
    worst = []
    for _ in range(WINDOWS):
        restart(broker)
        post(gw, [rng.choice(records) for _ in range(MIN_ROWS)])
        wait_for(lambda: window_rows(broker, 1) == MIN_ROWS, timeout=60, what="a window counted")
        worst.append(max(f["js"] for f in drift(broker)["versions"][0]["fields"]))
    return len(drift_runs(broker)), worst


def shift_once(broker, gw, rng, records):
    """Seconds from the first shifted request to the run's trigger time and
    to RUNS showing it, and the shifted rows sent until then."""
    restart(broker)
    post(gw, [rng.choice(records) for _ in range(MIN_ROWS)])
    wait_for(lambda: window_rows(broker, 1) == MIN_ROWS, timeout=60, what="the calm rows counted")
    before = len(drift_runs(broker))
    t0, wall0, sent = time.monotonic(), time.time(), 0
    while len(drift_runs(broker)) == before:
        post(gw, [shifted(rng.choice(records)) for _ in range(CHUNK)], chunk=CHUNK)
        sent += CHUNK
        time.sleep(max(0.0, t0 + sent / RATE - time.monotonic()))
        if time.monotonic() - t0 > 120:
            raise RuntimeError("no drift retrain within 120 s")
    seen = time.monotonic() - t0
    run = drift_runs(broker)[0]
    # every row counted and the run ended before the next restart: a report
    # sent while the broker is away waits in the worker's socket and would
    # land in the next window
    wait_for(lambda: window_rows(broker, 1) == MIN_ROWS + sent, timeout=60, what="the shifted rows counted")
    broker.wait_run(run["id"], timeout=120)
    return run["created_ms"] / 1000.0 - wall0, seen, sent, run["reason"]


def main():
    with tempfile.TemporaryDirectory(prefix="mlops-bench-drift.") as tmp:
        procs = Procs(tmp)
        try:
            broker, gw = drift_stack.watched_stack(procs, MIN_ROWS, THRESHOLD, "--drift-cooldown", "1h",
                                                   "--no-sync", report=REPORT)
            rng = random.Random(19)
            records = titanic_records()
            runs, worst = false_alarms(broker, gw, rng, records)
            print("false alarms through the stack: %d retrains in %d windows of %d in-distribution rows "
                  "(threshold %.2f); largest field distance per window: median %.3f, max %.3f"
                  % (runs, WINDOWS, MIN_ROWS, THRESHOLD, statistics.median(worst), max(worst)))
            shifts = [shift_once(broker, gw, rng, records) for _ in range(REPEATS)]
            for trig, seen, sent, reason in shifts:
                print("  shift: triggered %.2f s, in RUNS %.2f s, %d shifted rows sent; %s"
                      % (trig, seen, sent, reason))
            print("shift to retrain (median of %d, %d rows/s, --report %s): triggered %.2f s, in RUNS %.2f s"
                  % (REPEATS, RATE, REPORT, statistics.median(s[0] for s in shifts),
                     statistics.median(s[1] for s in shifts)))
        finally:
            procs.stop()
    print("reproduce: THRESHOLD=%g MIN_ROWS=%d WINDOWS=%d REPEATS=%d RATE=%d REPORT=%s "
          "/usr/bin/python3 bench/drift_live.py" % (THRESHOLD, MIN_ROWS, WINDOWS, REPEATS, RATE, REPORT))


if __name__ == "__main__":
    main()
