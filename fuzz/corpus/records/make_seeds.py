"""Writes the fuzz_records seeds: records packed by Python's msgpack from
dicts in the key order of PROTOCOL.md section 11, each after a kind byte."""
import os
import msgpack

here = os.path.dirname(os.path.abspath(__file__))


def task(run, stage, family, state):
    tid = "%d-%s" % (run, stage) + ("-" + family if family else "")
    return {"task_id": tid, "stage": stage, "family": family, "state": state,
            "attempts": 1, "started_ms": 1764136800000, "ended_ms": 0,
            "retry_at_ms": 0, "worker": "host:42", "error": ""}


def run(rid, tasks):
    return {"id": rid, "state": "running", "source": "synthetic:1000:7",
            "reason": "manual", "coalesced": 0, "created_ms": 1764136800000,
            "started_ms": 1764136800100, "ended_ms": 0, "dataset_hash": "ab" * 32,
            "version": 0, "promoted": False, "outcome": "", "error": "",
            "tasks": tasks}


version = {"version": 3, "run_id": 7, "dataset_hash": "cd" * 32, "family": "forest",
           "params": '{"trees":100}',
           "metrics": {"accuracy": 0.82, "precision": 0.8, "recall": 0.71, "f1": 0.75,
                       "auc": 0.88, "log_loss": 0.41, "tp": 50, "fp": 12, "tn": 96, "fn": 21},
           "sha256": "ef" * 32, "artifact_len": 123456, "stage": "production",
           "reason": "beats v2", "created_ms": 1764136900000}
audit = {"seq": 1, "ts_ms": 1764136900000, "action": "promote", "version": 3,
         "previous": 2, "reason": "manual"}

seeds = {
    "run-empty": (0, run(1, [])),
    "run-tasks": (0, run(7, [task(7, "extract", "", "done"), task(7, "train", "forest", "running")])),
    "version": (1, version),
    "audit": (2, audit),
}
for name, (kind, rec) in seeds.items():
    with open(os.path.join(here, name + ".msgpack"), "wb") as f:
        f.write(bytes([kind]) + msgpack.packb(rec, use_bin_type=True))
