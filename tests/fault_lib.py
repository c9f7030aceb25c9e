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

Bounded: every loop has a count and a deadline; stop() SIGKILLs every pid
we started, and callers call it in a finally block.
"""
import hashlib
import os
import random
import signal
import socket
import subprocess
import threading
import time

import msgpack
import requests
import zmq

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("MLOPS_BIN", os.path.join(REPO, "bin"))
PASSENGER = {"Pclass": 3, "Sex": "male", "Age": 22, "SibSp": 1, "Parch": 0, "Fare": 7.25,
             "Embarked": "S", "Name": "Braund, Mr. Owen Harris"}
HEARTBEAT_MSEC = 200          # every process: short heartbeats so rounds are quick
LIVENESS = 3                  # the protocol's liveness: dead after 3 silent intervals
RECONNECT_FIRST_MSEC = 1000   # a worker's first reconnect back-off (workers/agent.c, infer.c)
# Grace after a kill/restart of the gateway (or of the last infer worker) during
# which failures are expected: the infer workers notice a silent gateway after one
# liveness period (3 x 200 ms), wait their first back-off (1 s) before reopening,
# and a restarted process needs a moment to start on a loaded machine (0.9 s).
GRACE_SEC = (LIVENESS * HEARTBEAT_MSEC + RECONNECT_FIRST_MSEC) / 1000.0 + 0.9
STAGE_SLOTS = ["extract", "preprocess", "train-1", "train-2", "evaluate", "load_model"]
KINDS = ["broker", "stage", "infer", "gateway"]
ENDED = ("succeeded", "failed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control_request(endpoint, command, body, timeout_ms=3000):
    """One control request on a fresh DEALER (PROTOCOL.md 5.2): the REPLY's
    body, or None when no answer came within timeout_ms."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(msgpack.packb([1, command, body], use_bin_type=True))
        if not sock.poll(timeout_ms):
            return None
        version, name, reply = msgpack.unpackb(sock.recv(), raw=False)
        if version != 1 or name != "REPLY":
            raise RuntimeError("unexpected answer %r version %r to %s" % (name, version, command))
        return reply
    finally:
        sock.close()


class Slot:
    """One process of the stack: its argv, its current Popen, its life spans."""

    def __init__(self, name, kind, argv, logdir):
        self.name, self.kind, self.argv = name, kind, argv
        self.log_path = os.path.join(logdir, name + ".log")
        self.proc = None
        self.spans = []          # [start_t, end_t or None, how it ended]

    def start(self, now):
        with open(self.log_path, "ab") as log:
            log.write(b"=== started by fault_lib at %.3f\n" % now)
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        self.spans.append([now, None, None])

    def kill(self, now, how="SIGKILL"):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
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
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""


class Stack:
    """The whole stack, every process started here and killed by pid."""

    def __init__(self, tmp, bin_dir=BIN, sync=True):
        self.tmp = tmp
        self.t0 = time.time()
        self.store = os.path.join(tmp, "store")
        p = [free_port() for _ in range(5)]
        self.work, self.control, self.events, self.backend = (
            "tcp://127.0.0.1:%d" % x for x in p[:4])
        self.http_port = p[4]
        self.url = "http://127.0.0.1:%d" % self.http_port
        hb = "%dms" % HEARTBEAT_MSEC
        broker = [bin_dir + "/mlops-broker", "--store", self.store, "--work", self.work,
                  "--control", self.control, "--events", self.events, "--heartbeat", hb,
                  "--backoff", "100ms", "--source", "synthetic:2000"]
        if not sync:
            broker.append("--no-sync")
        self.slots = [Slot("broker", "broker", broker, tmp)]
        for name in STAGE_SLOTS:
            self.slots.append(Slot(name, "stage", [
                bin_dir + "/mlops-worker", "--stage", name.split("-")[0], "--broker", self.work,
                "--heartbeat", hb], tmp))
        self.slots.append(Slot("gateway", "gateway", [
            bin_dir + "/mlops-gateway", "--port", str(self.http_port), "--bind", "127.0.0.1",
            "--backend", self.backend, "--heartbeat", str(HEARTBEAT_MSEC)], tmp))
        for i in (1, 2):
            self.slots.append(Slot("infer-%d" % i, "infer", [
                bin_dir + "/mlops-worker", "--stage", "infer", "--gateway", self.backend,
                "--broker", self.control, "--events", self.events,
                "--heartbeat", str(HEARTBEAT_MSEC)], tmp))
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
        self.timeline.append((t, slot.name, "kill"))

    def start_all(self):
        for s in self.slots:
            self.start(s)

    def stop(self):
        """SIGKILLs every process we started (by pid); safe to call twice."""
        for s in self.slots:
            if s.proc and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGKILL)
        for s in self.slots:
            if s.proc:
                try:
                    s.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass

    def request(self, command, body, timeout_ms=3000):
        return control_request(self.control, command, body, timeout_ms)

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


def wait_until(cond, timeout, step=0.1):
    """cond()'s first true value within timeout seconds, else None."""
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


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


def down_intervals(stack, kind, grace):
    """Intervals when no process of this kind was up: for each slot its dead
    spans [kill, restart + grace], intersected across the slots of the kind."""
    per_slot = []
    for s in stack.of_kind(kind):
        dead, spans = [], s.spans
        for i, (start, end, _) in enumerate(spans):
            if end is None:
                continue
            back = spans[i + 1][0] + grace if i + 1 < len(spans) else float("inf")
            dead.append((end, back))
        per_slot.append(dead)
    common = per_slot[0]
    for other in per_slot[1:]:
        common = [(max(a, c), min(b, d)) for a, b in common for c, d in other
                  if max(a, c) < min(b, d)]
    return common


class FaultRun:
    """One fault suite run: set up, rounds, settle, checks and figures."""

    def __init__(self, tmp, rounds, seed, round_sec=3.0, settle_sec=180.0, bin_dir=BIN,
                 say=print, sync=True):
        self.rounds, self.seed, self.round_sec, self.settle_sec = rounds, seed, round_sec, settle_sec
        self.rng = random.Random(seed)
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

    def trigger(self, rnd):
        source = "synthetic:2000:%d" % (self.seed * 1000 + len(self.triggers))
        reply = self.stack.request("RETRAIN", {"source": source, "reason": "fault round %d" % rnd},
                                   3000)
        self.triggers.append((self.stack.now(), rnd, reply))

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
        budget = self.rounds * (self.round_sec + 12) + 30
        self.predictor = Predictor(st, max_requests=int(budget / 0.02), deadline_sec=budget)
        self.predictor.start()
        for rnd, victim in enumerate(self.pick_victims(), 1):
            start = time.time()
            for _ in range(self.rng.randint(1, 3)):   # bursts: a queued run coalesces
                self.trigger(rnd)
            time.sleep(self.rng.uniform(0, self.round_sec / 3))
            st.kill(victim)
            self.kills[victim.kind] += 1
            time.sleep(self.rng.uniform(0.1, 1.5))
            st.start(victim)
            if victim.kind == "broker":   # a later round's kill must not find it still binding
                wait_until(lambda: st.request("STATUS", {}, 500), 30)
            elif victim.kind == "gateway":
                wait_until(lambda: st.health()[0] is not None, 30)
            st.timeline.append((st.now(), victim.name, "up"))
            self.note_crashes()
            self.say("round %d/%d: killed %s, restarted after %.2f s" % (
                rnd, self.rounds, victim.name, st.slot(victim.name).spans[-1][0]
                - st.slot(victim.name).spans[-2][1]))
            time.sleep(max(0.0, self.round_sec - (time.time() - start)))
        # predictions go on for a while after the last restart, then stop
        time.sleep(GRACE_SEC + 1)
        self.predictor.halt.set()
        self.predictor.join(30)

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
        self.explained, self.unexplained = [], []
        down = down_intervals(self.stack, "gateway", GRACE_SEC) + down_intervals(
            self.stack, "infer", GRACE_SEC)
        for t0, t1, status, reason in self.predictor.results:
            if status is not None and 200 <= status < 300:
                continue
            hit = any(t0 < b and t1 > a for a, b in down)
            (self.explained if hit else self.unexplained).append((t0, t1, status, reason))
        self.checks["predictions_fail_only_when_down"] = (
            not self.unexplained, "%d failures outside the down windows (+%.1f s grace): %s" % (
                len(self.unexplained), GRACE_SEC, "; ".join(
                    "t=%.2f-%.2f %s %s" % f for f in self.unexplained[:10])))

    # --- figures --------------------------------------------------------------
    def figures(self):
        out = []
        results = self.predictor.results if self.predictor else []
        ok = sum(1 for r in results if r[2] is not None and 200 <= r[2] < 300)
        out.append("fault suite: rounds %d, seed %d, %.1f s per round, grace %.1f s" % (
            self.rounds, self.seed, self.round_sec, GRACE_SEC))
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
        for r in self.runs:
            if r["state"] == "failed":
                out.append("  run %d failed: %s" % (r["id"], r["error"]))
        if self.models:
            out.append("versions: %d, production v%d" % (len(self.models["versions"]),
                                                          self.models["production"]))
        out.append("requests: %d, 2xx %d, failed %d (%d inside down windows, %d outside)" % (
            len(results), ok, len(results) - ok, len(getattr(self, "explained", [])),
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

    def timeline_text(self):
        return "\n".join("%8.3f %-10s %s" % e for e in sorted(self.stack.timeline))
