#!/usr/bin/python3
"""fault_suite.py: the fault suite of issue 7, run locally.

    /usr/bin/python3 tests/fault_suite.py --rounds 20 [--seed S] [--duration-per-round SEC]

Starts a whole stack on 127.0.0.1 (free ports, a fresh temp store), then for
each round triggers retrains and sends predictions while it SIGKILLs one
random process (broker, a stage worker, an infer worker or the gateway) and
restarts it after 0.1..1.5 s. Then it lets the stack settle, checks the
invariants (tests/fault_lib.py, FaultRun.check) and prints the figures.
Exit status 0 when every check passed, 1 otherwise; the logs of every
process stay in the printed directory with --keep or on failure.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_lib  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="kill/restart rounds (default 20)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    ap.add_argument("--duration-per-round", type=float, default=3.0, metavar="SEC",
                    help="length of a round in seconds (default 3)")
    ap.add_argument("--settle", type=float, default=180.0, metavar="SEC",
                    help="how long runs may take to end after the rounds (default 180)")
    ap.add_argument("--max-down", type=float, default=1.5, metavar="SEC",
                    help="longest wait before restarting a killed process (default 1.5)")
    ap.add_argument("--double", type=float, default=0.0, metavar="P",
                    help="chance that a round kills a second random process too (default 0)")
    ap.add_argument("--no-sync", action="store_true", help="start the broker with --no-sync")
    ap.add_argument("--bin", default=fault_lib.BIN, help="directory of the mlops binaries")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, store)")
    ap.add_argument("--timeline", action="store_true", help="print the process timeline")
    args = ap.parse_args()
    if args.rounds < 1 or args.rounds > 10000 or args.duration_per_round < 1.6:
        ap.error("--rounds must be 1..10000 and --duration-per-round at least 1.6 s")
    if not 0.1 < args.max_down <= 60 or not 0 <= args.double <= 1:
        ap.error("--max-down must be over 0.1 and at most 60 s, --double 0..1")
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    tmp = tempfile.mkdtemp(prefix="mlops-fault-")
    print("seed %d, logs and store in %s" % (seed, tmp), flush=True)
    run = fault_lib.FaultRun(tmp, args.rounds, seed, args.duration_per_round, args.settle,
                             args.bin, say=lambda s: print(s, flush=True), sync=not args.no_sync,
                             max_down_sec=args.max_down, double=args.double)
    good = False
    try:
        run.setup()
        run.play()
        run.settle()
        checks = run.check()
        good = all(ok for ok, _ in checks.values())
    finally:
        run.stack.stop()
        figures = run.figures()
        print(figures)
        timeline = "timeline (seconds since start):\n" + run.timeline_text()
        if args.timeline or not good:
            print(timeline)
        with open(os.path.join(tmp, "report.txt"), "w") as f:
            f.write(figures + "\n" + timeline + "\nrequests (t0, t1, status, reason):\n")
            for r in run.predictor.results if run.predictor else []:
                f.write("%8.3f %8.3f %s %s\n" % r)
        print("reproduce: /usr/bin/python3 tests/fault_suite.py --rounds %d --seed %d "
              "--duration-per-round %g --max-down %g --double %g" % (
                  args.rounds, seed, args.duration_per_round, args.max_down, args.double))
        if good and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("logs and store kept in %s" % tmp)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
