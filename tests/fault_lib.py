"""fault_lib.py: the fault suite of issue 7 (item 4), shared by the local tool
tests/fault_suite.py and its short CI form tests/test_fault.py.

A whole stack on 127.0.0.1 with free ports (broker, one stage worker per
stage and two train workers, a gateway, two infer workers), each process
started here so we hold every pid, in a fresh store. For N rounds it
triggers retrains (raw pyzmq per proto/PROTOCOL.md) and sends predictions
from a client thread while SIGKILLing one random process and restarting it
after a random short delay; a timeline records who was alive when. Then it
lets everything settle and checks the invariants (see FaultRun.check):
every run ended with a reason, none lost, one production version, versions
1..n, artifacts match their sha256, the store reopens, predictions failed
only while no gateway or no infer worker was up, no process died by itself.

"While no gateway was up" is from the SIGKILL until the restarted gateway
answers HTTP, plus the back-off an infer worker may still be waiting out by
PROTOCOL.md section 7 (reconnect_wait_bound) and SLACK_SEC; for the infer
workers, from the last one's kill until INFER_GRACE_SEC after a restart.
Failures while the whole machine was frozen (StallWatch) are counted apart.

Bounded: every loop has a count and a deadline; stop() SIGKILLs every pid
we started, and callers call it in a finally block.
"""
import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time

import requests
import zmq

import wire
from procs import (BIN, broker_argv, free_port, free_port_run, gateway_argv, infer_argv, read_log, spawn, stop_all,
                   wait_until, worker_argv)
from serving_util import PASSENGER

HEARTBEAT_MSEC = 200          # every process: short heartbeats so rounds are quick
LIVENESS = 3                  # the protocol's liveness: dead after 3 silent intervals
RECONNECT_FIRST_MSEC = 1000   # a worker's first reconnect back-off (workers/agent.c, infer.c)
RECONNECT_MAX_MSEC = 32000    # its longest back-off (PROTOCOL.md section 7)
LIVENESS_SEC = LIVENESS * HEARTBEAT_MSEC / 1000.0
# The gateway and the infer workers call a peer dead only after 3 silent
# intervals of at least the protocol's 1000 ms, whatever --heartbeat says
# (gateway/gateway.c, workers/infer.c): 3 s.
SERVING_LIVENESS_SEC = LIVENESS * max(HEARTBEAT_MSEC, 1000) / 1000.0
# Grace after an infer worker's restart during which failures are expected if it
# was the last one: it must start on a loaded machine (0.9 s), fetch the model
# with GET_MODEL (its feed retries after 1 s when the broker is slow) and send
# READY with it, which a heartbeat round (0.6 s) covers.
INFER_GRACE_SEC = 0.9 + RECONNECT_FIRST_MSEC / 1000.0 + LIVENESS_SEC
# Slack after the back-off bound below: ZeroMQ's reconnect interval (100 ms), the
# READY round trip and scheduling on a loaded machine.
SLACK_SEC = 0.5


def reconnect_wait_bound(outage_sec):
    """The longest an infer worker following PROTOCOL.md section 7 can still be
    waiting out its back-off when the gateway returns after outage_sec: it finds
    the gateway silent one liveness period (SERVING_LIVENESS_SEC) after the
    kill, closes its socket, reopens after 1 s, doubling after each further
    silent liveness period up to 32 s. The back-off in force at the return
    bounds the wait (before the first close ZeroMQ reconnects by itself)."""
    t, b = SERVING_LIVENESS_SEC, RECONNECT_FIRST_MSEC / 1000.0
    for _ in range(64):
        if t + b + SERVING_LIVENESS_SEC >= outage_sec:
            return b
        t += b + SERVING_LIVENESS_SEC
        b = min(2 * b, RECONNECT_MAX_MSEC / 1000.0)
    return b


STAGE_SLOTS = ["extract", "preprocess", "train-1", "train-2", "evaluate", "load_model"]
KINDS = ["broker", "stage", "infer", "gateway"]
ENDED = ("succeeded", "failed")


class Slot:
    """One process of the stack: its argv, its current Popen, its life spans."""

    def __init__(self, name, kind, argv, logdir):
        self.name, self.kind, self.argv = name, kind, argv
        self.log_path = os.path.join(logdir, name + ".log")
        self.proc = None
        self.spans = []          # [start_t, end_t or None, how it ended, up_t or None]
        self.exit_latency = []   # seconds from SIGKILL to the exit we saw

    def start(self, now):
        with open(self.log_path, "ab") as log:
            log.write(b"=== started by fault_lib at %.3f\n" % now)
        self.proc = spawn(self.argv, self.log_path)
        self.spans.append([now, None, None, None])

    def kill(self, now, how="SIGKILL"):
        sent = time.time()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.exit_latency.append(time.time() - sent)
        if self.spans and self.spans[-1][1] is None:
            self.spans[-1][1], self.spans[-1][2] = now, how

    def died_by_itself(self):
        """The exit code when the process ended without us killing it."""
        if self.proc and self.spans and self.spans[-1][1] is None:
            rc = self.proc.poll()
            if rc is not None:
                return rc
        return None

    def log_tail(self, n=15):
        return "\n".join(read_log(self.proc).splitlines()[-n:]) if self.proc else ""


class Stack:
    """The whole stack, every process started here and killed by pid."""

    def __init__(self, tmp, bin_dir=BIN, sync=True):
        self.tmp = tmp
        self.t0 = time.time()
        self.store = os.path.join(tmp, "store")
        base = free_port_run(5)   # work, control, events, backend, then the broker's data (W + 4)
        self.work, self.control, self.events, self.backend = (
            "tcp://127.0.0.1:%d" % (base + i) for i in range(4))
        self.http_port = free_port()
        self.url = "http://127.0.0.1:%d" % self.http_port
        hb = "%dms" % HEARTBEAT_MSEC
        broker = broker_argv(self.store, self.work, self.control, self.events,
                             "--source", "synthetic:2000", *([] if sync else ["--no-sync"]),
                             heartbeat=hb, bin_dir=bin_dir)
        self.slots = [Slot("broker", "broker", broker, tmp)]
        for name in STAGE_SLOTS:
            self.slots.append(Slot(name, "stage", worker_argv(
                name.split("-")[0], self.work, heartbeat=hb, bin_dir=bin_dir), tmp))
        self.slots.append(Slot("gateway", "gateway", gateway_argv(
            self.http_port, self.backend, "--heartbeat", hb, bin_dir=bin_dir), tmp))
        for i in (1, 2):
            self.slots.append(Slot("infer-%d" % i, "infer", infer_argv(
                self.backend, "--broker", self.control, "--events", self.events, "--heartbeat", hb,
                bin_dir=bin_dir), tmp))
        self.timeline = []       # (t, slot name, "start" | "kill" | "ready" | ...)

    def now(self):
        return time.time() - self.t0

    def slot(self, name):
        return next(s for s in self.slots if s.name == name)

    def of_kind(self, kind):
        return [s for s in self.slots if s.kind == kind]

    def start(self, slot):
        t = self.now()
        slot.start(t)
        self.timeline.append((t, slot.name, "start"))

    def kill(self, slot):
        t = self.now()
        slot.kill(t)
        self.timeline.append((t, slot.name, "kill (exit seen after %.3f s)" % slot.exit_latency[-1]))

    def mark_up(self, slot):
        """Notes that the slot's current process answers (gateway: HTTP)."""
        t = self.now()
        slot.spans[-1][3] = t
        self.timeline.append((t, slot.name, "up"))

    def start_all(self):
        for s in self.slots:
            self.start(s)

    def stop(self):
        """SIGKILLs every process we started (by pid); safe to call twice."""
        stop_all([s.proc for s in self.slots if s.proc], sig=signal.SIGKILL)

    def request(self, command, body, timeout_ms=3000):
        """The REPLY body from a fresh DEALER, or None on silence."""
        return wire.control_request(self.control, command, body, timeout_ms, kind=zmq.DEALER)

    def data(self, command, body, timeout_ms=10000):
        """The REPLY data of a request that must succeed."""
        r = self.request(command, body, timeout_ms)
        if r is None:
            raise AssertionError("no REPLY to %s within %d ms" % (command, timeout_ms))
        if not r["ok"]:
            raise AssertionError("%s refused: %s" % (command, r["error"]))
        return r["data"]

    def health(self):
        try:
            r = requests.get(self.url + "/health", timeout=2)
            return r.status_code, r.json()
        except (requests.RequestException, ValueError):
            return None, None

    def unexpected_exits(self):
        """[(slot, exit code)] of processes that ended without our SIGKILL."""
        out = []
        for s in self.slots:
            rc = s.died_by_itself()
            if rc is not None:
                out.append((s, rc))
                s.spans[-1][1], s.spans[-1][2] = self.now(), "exit %d" % rc
                self.timeline.append((self.now(), s.name, "died exit %d" % rc))
        return out


class Predictor(threading.Thread):
    """POSTs /predict continuously (bounded by count and deadline) and records
    (t0, t1, status or None, reason) for each request."""

    def __init__(self, stack, max_requests, deadline_sec, gap_sec=0.02):
        super().__init__(daemon=True)
        self.stack, self.max_requests, self.gap = stack, max_requests, gap_sec
        self.deadline = time.time() + deadline_sec
        self.halt = threading.Event()
        self.results = []

    def run(self):
        session = requests.Session()
        while (not self.halt.is_set() and len(self.results) < self.max_requests
               and time.time() < self.deadline):
            t0 = self.stack.now()
            try:
                r = session.post(self.stack.url + "/predict", json=PASSENGER, timeout=15)
                status, reason = r.status_code, ""
                if not 200 <= status < 300:
                    try:
                        reason = str(r.json().get("detail", r.text))[:120]
                    except ValueError:
                        reason = r.text[:120]
            except requests.RequestException as e:
                status, reason = None, type(e).__name__
                session.close()
                session = requests.Session()
            self.results.append((t0, self.stack.now(), status, reason))
            time.sleep(self.gap)
        session.close()


class StallWatch(threading.Thread):
    """Notes when this process was not scheduled for longer than one liveness
    period: on a loaded machine every process freezes at once now and then
    (seen: 2 s with load 8 on 2 cores), and then every peer rightly looks dead
    to every other after 3 x 200 ms. Such windows are reported apart."""

    def __init__(self, stack, step_sec=0.05):
        super().__init__(daemon=True)
        self.stack, self.step = stack, step_sec
        self.halt = threading.Event()
        self.stalls = []         # (start t, end t) in the stack's clock

    def run(self):
        last = time.monotonic()
        while not self.halt.wait(self.step):
            now = time.monotonic()
            if now - last - self.step > LIVENESS_SEC:
                end = self.stack.now()
                self.stalls.append((end - (now - last - self.step), end))
            last = now


def down_intervals(stack, kind, grace):
    """Intervals when no process of this kind was up: for each slot its dead
    spans [kill, back + grace(outage)], intersected across the slots of the
    kind. back is when the restarted process answered (when we saw it: the
    gateway) or was started (the others); grace(outage) is a number or a
    function of the outage's length in seconds."""
    per_slot = []
    for s in stack.of_kind(kind):
        dead, spans = [], s.spans
        for i, (start, end, _, _) in enumerate(spans):
            if end is None:
                continue
            if i + 1 < len(spans):
                back = spans[i + 1][3] if spans[i + 1][3] is not None else spans[i + 1][0]
                dead.append((end, back + (grace(back - end) if callable(grace) else grace)))
            else:
                dead.append((end, float("inf")))
        per_slot.append(dead)
    common = per_slot[0]
    for other in per_slot[1:]:
        common = [(max(a, c), min(b, d)) for a, b in common for c, d in other
                  if max(a, c) < min(b, d)]
    return common


def gateway_grace(outage_sec):
    """Grace after the gateway answers again: the infer workers' back-off in
    force (reconnect_wait_bound) and the slack."""
    return reconnect_wait_bound(outage_sec) + SLACK_SEC


class FaultRun:
    """One fault suite run: set up, rounds, settle, checks and figures."""

    def __init__(self, tmp, rounds, seed, round_sec=3.0, settle_sec=180.0, bin_dir=BIN,
                 say=print, sync=True, max_down_sec=1.5, double=0.0):
        self.rounds, self.seed, self.round_sec, self.settle_sec = rounds, seed, round_sec, settle_sec
        self.rng = random.Random(seed)
        self.bin_dir = bin_dir
        self.max_down_sec = max_down_sec
        self.double = double     # chance that a round kills a second process too
        self.say = say
        self.stack = Stack(tmp, bin_dir, sync)
        self.triggers = []       # (t, round, reply or None)
        self.kills = {k: 0 for k in KINDS}
        self.crashes = []        # (slot name, exit code, log tail)
        self.predictor = None
        self.checks = {}         # name -> (ok, detail)
        self.runs, self.models = [], None

    # --- phases -----------------------------------------------------------
    def setup(self):
        st = self.stack
        st.start_all()
        if not wait_until(lambda: st.request("STATUS", {}, 500), 60):
            raise AssertionError("broker did not answer STATUS within 60 s\n" + st.slots[0].log_tail())
        if not wait_until(lambda: len(st.data("STATUS", {})["workers"]) == len(STAGE_SLOTS), 60):
            raise AssertionError("stage workers did not register within 60 s")
        self.trigger(0)
        first = self.triggers[0][2]
        if not first or not first["ok"]:
            raise AssertionError("first RETRAIN refused or unanswered: %r" % (first,))
        run_id = first["data"]["run_id"]
        run = wait_until(lambda: self.run_ended(run_id), 120, 0.3)
        if not run or run["state"] != "succeeded":
            raise AssertionError("first run did not succeed within 120 s: %r" % (run,))
        ok = wait_until(lambda: (lambda c, h: c == 200 and h.get("workers_serving") == 2)(
            *st.health()), 60)
        if not ok:
            raise AssertionError("gateway not serving with 2 infer workers within 60 s: %r"
                                 % (st.health(),))
        st.timeline.append((st.now(), "stack", "ready"))

    def run_ended(self, run_id):
        r = self.stack.request("RUNS", {"limit": 1000}, 2000)
        if not r or not r["ok"]:
            return None
        for run in r["data"]["runs"]:
            if run["id"] == run_id and run["state"] in ENDED:
                return run
        return None

    def trigger(self, rnd, timeout_ms=3000, cli=False):
        """One RETRAIN, raw pyzmq or (cli) `mlops retrain --json`; records the
        REPLY as {"ok", "error", "data"}, or None when none came in time."""
        source = "synthetic:2000:%d" % (self.seed * 1000 + len(self.triggers))
        reason = "fault round %d" % rnd
        t = self.stack.now()
        if cli:
            reply = self.cli_retrain(source, reason, timeout_ms)
        else:
            reply = self.stack.request("RETRAIN", {"source": source, "reason": reason}, timeout_ms)
        self.triggers.append((t, rnd, reply))

    def cli_retrain(self, source, reason, timeout_ms):
        st = self.stack
        try:
            p = subprocess.run([self.bin_dir + "/mlops", "retrain", "--control", st.control,
                                "--events", st.events, "--source", source, "--reason", reason,
                                "--json", "--timeout", "%dms" % timeout_ms],
                               capture_output=True, text=True, timeout=timeout_ms / 1000 + 10)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode == 0:
            return {"ok": True, "error": "", "data": json.loads(p.stdout)}
        if "no answer" in p.stderr:
            return None
        return {"ok": False, "error": "mlops retrain exit %d: %s" % (p.returncode, p.stderr.strip()),
                "data": None}

    def pick_victims(self):
        """Kinds in shuffled cycles so every 4 rounds kill each kind once."""
        kinds = []
        while len(kinds) < self.rounds:
            cycle = list(KINDS)
            self.rng.shuffle(cycle)
            kinds += cycle
        return [self.rng.choice(self.stack.of_kind(k)) for k in kinds[:self.rounds]]

    def play(self):
        st = self.stack
        budget = self.rounds * (self.round_sec + 2 * self.max_down_sec + 12) + 30
        self.predictor = Predictor(st, max_requests=int(budget / 0.02), deadline_sec=budget)
        self.predictor.start()
        self.stallwatch = StallWatch(st)
        self.stallwatch.start()
        for rnd, victim in enumerate(self.pick_victims(), 1):
            start = time.time()
            for _ in range(self.rng.randint(1, 3)):   # bursts: a queued run coalesces
                self.trigger(rnd, cli=self.rng.random() < 0.25)
            # mostly while the run just triggered is in hand (a run of synthetic:2000
            # takes 0.2 to 1 s here), sometimes later
            time.sleep(self.rng.uniform(0, 0.4) if self.rng.random() < 0.7
                       else self.rng.uniform(1.0, self.round_sec / 2))
            victims = [victim]
            if self.rng.random() < self.double:   # a second process at the same moment
                victims.append(self.rng.choice([s for s in st.slots if s is not victim]))
            self.fault(rnd, victims)
            time.sleep(max(0.0, self.round_sec - (time.time() - start)))
        # predictions go on for a while after the last restart, then stop
        time.sleep(INFER_GRACE_SEC + 1)
        self.predictor.halt.set()
        self.predictor.join(30)
        self.stallwatch.halt.set()
        self.stallwatch.join(5)

    def fault(self, rnd, victims):
        """SIGKILLs the victims, restarts them one by one after random delays."""
        st = self.stack
        for v in victims:
            st.kill(v)
            self.kills[v.kind] += 1
        late = None
        if any(v.kind == "broker" for v in victims) and self.rng.random() < 0.5:
            # a trigger sent while the broker is away: ZeroMQ holds it until the
            # restarted broker accepts the connection, which must answer it
            late = threading.Thread(target=self.trigger, args=(rnd, 5000), daemon=True)
            late.start()
        for v in self.rng.sample(victims, len(victims)):
            time.sleep(self.rng.uniform(0.1, self.max_down_sec))
            st.start(v)
            if v.kind == "broker":   # a later kill must not find it still binding
                if wait_until(lambda: st.request("STATUS", {}, 500), 30):
                    st.mark_up(v)
            elif v.kind == "gateway":
                if wait_until(lambda: st.health()[0] is not None, 30, 0.02):
                    st.mark_up(v)
        if late:
            late.join(10)
        self.note_crashes()
        self.say("round %d/%d: %s" % (rnd, self.rounds, ", ".join(
            "killed %s, restarted after %.2f s" % (v.name, v.spans[-1][0] - v.spans[-2][1])
            for v in victims)))

    def note_crashes(self):
        for slot, rc in self.stack.unexpected_exits():
            self.crashes.append((slot.name, rc, slot.log_tail()))
            self.stack.start(slot)   # keep the stack whole; the crash is reported

    def settle(self):
        """Waits until no run is queued or running; returns the runs."""
        st = self.stack

        def settled():
            self.note_crashes()
            r = st.request("RUNS", {"limit": 1000}, 2000)
            if not r or not r["ok"]:
                return None
            runs = r["data"]["runs"]
            return runs if all(x["state"] in ENDED for x in runs) else None
        runs = wait_until(settled, self.settle_sec, 0.5)
        self.settled = runs is not None
        self.runs = runs if runs is not None else st.data("RUNS", {"limit": 1000})["runs"]
        self.models = st.data("MODELS", {})
        return self.runs

    # --- checks -------------------------------------------------------------
    def check(self):
        self.note_crashes()
        self.check_runs()
        self.check_versions()
        self.check_artifacts()
        self.check_serving_converged()
        self.check_store_reopens()
        self.check_predictions()
        self.checks["no_crash"] = (not self.crashes, "; ".join(
            "%s exit %d:\n%s" % c for c in self.crashes))
        return self.checks

    def check_runs(self):
        runs = {r["id"]: r for r in self.runs}
        stuck = [(r["id"], r["state"]) for r in self.runs if r["state"] not in ENDED]
        self.checks["runs_settled"] = (self.settled and not stuck,
                                       "stuck after %.0f s: %r" % (self.settle_sec, stuck))
        no_reason = [r["id"] for r in self.runs if r["state"] == "failed" and not r["error"]]
        self.checks["failed_runs_have_reason"] = (not no_reason, "failed without error: %r" % no_reason)
        replies = [t[2] for t in self.triggers]
        answered = [r["data"] for r in replies if r and r["ok"]]
        refused = [r["error"] for r in replies if r and not r["ok"]]
        unanswered = sum(1 for r in replies if r is None)
        lost = sorted({a["run_id"] for a in answered} - set(runs))
        self.checks["no_run_lost"] = (not lost, "run ids a RETRAIN reply gave but RUNS lacks: %r" % lost)
        # coalescing: a run's record counts the triggers folded into it beyond the
        # first; the answered ones are known, an unanswered one may have landed too
        problems, slack = [], unanswered
        for rid, run in runs.items():
            mine = [a for a in answered if a["run_id"] == rid]
            creators = [a for a in mine if not a["coalesced"]]
            if len(creators) > 1:
                problems.append("run %d created by %d triggers" % (rid, len(creators)))
            extra = run["coalesced"] + 1 - len(mine)
            if extra < 0:
                problems.append("run %d: %d replies but coalesced=%d" % (rid, len(mine), run["coalesced"]))
            slack -= max(extra, 0)
        if slack < 0:
            problems.append("%d triggers unaccounted for: runs count more triggers than were sent"
                            " (%d unanswered)" % (-slack, unanswered))
        self.checks["coalesced_accounted"] = (not problems and not refused,
                                              "; ".join(problems + ["refused: %s" % e for e in refused]))
        ids = sorted(runs)
        self.checks["run_ids_contiguous"] = (ids == list(range(1, len(ids) + 1)), "run ids %r" % ids)

    def check_versions(self):
        versions = self.models["versions"]
        prod = [v["version"] for v in versions if v["stage"] == "production"]
        self.checks["one_production"] = (
            len(prod) == 1 and self.models["production"] == prod[0],
            "production stages %r, MODELS.production %r" % (prod, self.models["production"]))
        nums = [v["version"] for v in versions]
        self.checks["versions_1_to_n"] = (sorted(nums) == list(range(1, len(nums) + 1))
                                          and len(set(nums)) == len(nums), "versions %r" % nums)
        limbo = [(v["version"], v["stage"]) for v in versions if v["stage"] in ("staging", "none")]
        self.checks["no_version_in_limbo"] = (not limbo, "versions neither production nor archived"
                                              " after every run ended: %r" % limbo)
        # no PROMOTE or ROLLBACK here: production is the newest run's promotion
        promoted = [r["version"] for r in sorted(self.runs, key=lambda r: r["id"]) if r["promoted"]]
        self.checks["production_is_last_promotion"] = (
            bool(promoted) and promoted[-1] == self.models["production"],
            "production v%r, runs promoted %r" % (self.models["production"], promoted[-5:]))
        by_run = {r["id"]: r for r in self.runs}
        bad = [(v["version"], v["run_id"]) for v in versions
               if v["run_id"] not in by_run or by_run[v["run_id"]]["version"] != v["version"]]
        self.checks["versions_match_runs"] = (not bad, "(version, run) not matching a run's record: %r"
                                              % bad)

    def check_artifacts(self):
        bad = []
        for v in self.models["versions"]:
            got = self.stack.data("GET_MODEL", {"version": v["version"]}, 20000)
            digest = hashlib.sha256(got["artifact"]).hexdigest()
            if not (digest == v["sha256"] == got["sha256"] and len(got["artifact"]) == v["artifact_len"]
                    and got["version"] == v["version"]):
                bad.append("v%d: record %s len %d, reply %s, bytes %s len %d" % (
                    v["version"], v["sha256"], v["artifact_len"], got["sha256"], digest,
                    len(got["artifact"])))
        self.checks["artifacts_sha256"] = (not bad, "; ".join(bad))

    def check_serving_converged(self):
        """After settling, the gateway serves the production version on both infer workers."""
        prod = self.models["production"]
        h = wait_until(lambda: (lambda c, j: j if c == 200 and j.get("workers_serving") == 2
                                and j.get("model_version") == prod else None)(*self.stack.health()), 30)
        self.checks["serving_converged"] = (h is not None, "after 30 s /health says %r, production v%d"
                                            % (self.stack.health(), prod))

    def check_store_reopens(self):
        st, broker = self.stack, self.stack.slot("broker")
        st.kill(broker)
        st.start(broker)
        status = wait_until(lambda: (lambda r: r["data"] if r and r["ok"] else None)(
            st.request("STATUS", {}, 1000)), 60)
        runs = st.data("RUNS", {"limit": 1000})["runs"] if status else None
        models = st.data("MODELS", {}) if status else None
        same = status is not None and runs == self.runs and models == self.models
        self.checks["store_reopens"] = (same and status["production_version"] == self.models["production"],
                                        "STATUS after reopen %r; runs equal %r; models equal %r\n%s" % (
                                            status, runs == self.runs, models == self.models,
                                            broker.log_tail()))

    def check_predictions(self):
        self.explained, self.unexplained, self.in_stall = [], [], []
        down = down_intervals(self.stack, "gateway", gateway_grace) + down_intervals(
            self.stack, "infer", INFER_GRACE_SEC)
        stalls = [(a, b + INFER_GRACE_SEC + SLACK_SEC) for a, b in self.stallwatch.stalls]
        for t0, t1, status, reason in self.predictor.results:
            if status is not None and 200 <= status < 300:
                continue
            f = (t0, t1, status, reason)
            if any(t0 < b and t1 > a for a, b in down):
                self.explained.append(f)
            elif any(t0 < b and t1 > a for a, b in stalls):
                self.in_stall.append(f)
            else:
                self.unexplained.append(f)
        self.checks["predictions_fail_only_when_down"] = (
            not self.unexplained, "%d failures outside the down windows: %s" % (
                len(self.unexplained), "; ".join(
                    "t=%.2f-%.2f %s %s" % f for f in self.unexplained[:10])))

    # --- figures --------------------------------------------------------------
    def figures(self):
        out = []
        results = self.predictor.results if self.predictor else []
        ok = sum(1 for r in results if r[2] is not None and 200 <= r[2] < 300)
        out.append("fault suite: rounds %d, seed %d, %.1f s per round; grace after the gateway"
                   " answers again: back-off bound + %.1f s; after an infer restart: %.1f s" % (
                       self.rounds, self.seed, self.round_sec, SLACK_SEC, INFER_GRACE_SEC))
        lat = sorted(x for s in self.stack.slots for x in s.exit_latency)
        if lat:
            out.append("SIGKILL to exit seen: median %.3f s, max %.3f s (%s)" % (
                lat[len(lat) // 2], lat[-1], max(((x, s.name) for s in self.stack.slots
                                                   for x in s.exit_latency))[1]))
        slow = [r for r in results if r[1] - r[0] > 1.0]
        if slow:
            out.append("requests slower than 1 s: %d, slowest %.2f s at t=%.2f" % (
                len(slow), *max((r[1] - r[0], r[0]) for r in slow)))
        for line in self.gateway_recoveries():
            out.append(line)
        out.append("kills: " + ", ".join("%s %d" % (k, self.kills[k]) for k in KINDS))
        replies = [t[2] for t in self.triggers]
        answered = [r for r in replies if r and r["ok"]]
        out.append("triggers: %d sent, %d answered (%d coalesced), %d unanswered, %d refused" % (
            len(replies), len(answered), sum(1 for r in answered if r["data"]["coalesced"]),
            sum(1 for r in replies if r is None), sum(1 for r in replies if r and not r["ok"])))
        states = {}
        for r in self.runs:
            states[r["state"]] = states.get(r["state"], 0) + 1
        out.append("runs: %d (%s)" % (len(self.runs), ", ".join(
            "%s %d" % kv for kv in sorted(states.items()))))
        took = sorted(r["ended_ms"] - r["created_ms"] for r in self.runs if r["ended_ms"])
        if took:
            out.append("run time from trigger to end: median %d ms, max %d ms" % (
                took[len(took) // 2], took[-1]))
        retried = sum(1 for r in self.runs for t in r["tasks"] if t["attempts"] > 1)
        out.append("tasks dispatched more than once: %d" % retried)
        for r in self.runs:
            if r["state"] == "failed":
                out.append("  run %d failed: %s" % (r["id"], r["error"]))
        if self.models:
            out.append("versions: %d, production v%d" % (len(self.models["versions"]),
                                                          self.models["production"]))
        stalls = self.stallwatch.stalls if getattr(self, "stallwatch", None) else []
        out.append("machine stalls over %.1f s seen by the suite: %d%s" % (
            LIVENESS_SEC, len(stalls), "".join(" [t=%.2f, %.2f s]" % (a, b - a) for a, b in stalls)))
        out.append("requests: %d, 2xx %d, failed %d (%d inside down windows, %d inside machine "
                   "stalls + %.1f s, %d outside)" % (
                       len(results), ok, len(results) - ok, len(getattr(self, "explained", [])),
                       len(getattr(self, "in_stall", [])), INFER_GRACE_SEC + SLACK_SEC,
                       len(getattr(self, "unexplained", []))))
        why = {}
        for r in results:
            if r[2] is None or not 200 <= r[2] < 300:
                key = "%s %s" % (r[2] if r[2] is not None else "no answer", r[3])
                why[key] = why.get(key, 0) + 1
        for k, n in sorted(why.items(), key=lambda kv: -kv[1]):
            out.append("  %5d x %s" % (n, k))
        for name, (good, detail) in sorted(self.checks.items()):
            out.append("check %-32s %s%s" % (name, "ok" if good else "FAILED",
                                             "" if good else ": " + detail))
        return "\n".join(out)

    def gateway_recoveries(self):
        """One line per gateway restart: outage, answer-to-first-2xx time, bound."""
        results = self.predictor.results if self.predictor else []
        lines = []
        spans = self.stack.slot("gateway").spans
        for prev, cur in zip(spans, spans[1:]):
            if prev[2] != "SIGKILL" or cur[3] is None:
                continue
            ok = [r[1] for r in results if r[0] >= cur[3] and r[2] is not None and 200 <= r[2] < 300]
            if ok:
                lines.append("  gateway down %.2f s (kill t=%.2f), first 2xx %.2f s after it answered"
                             " again (window allows %.2f s)" % (cur[3] - prev[1], prev[1],
                                                                min(ok) - cur[3],
                                                                gateway_grace(cur[3] - prev[1])))
        return lines

    def timeline_text(self):
        return "\n".join("%8.3f %-10s %s" % e for e in sorted(self.stack.timeline))
