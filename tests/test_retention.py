"""test_retention.py: a real mlops-broker's --trigger-min-interval (a second
RETRAIN of one source within the interval is refused `unavailable`, naming
the limit; another source is not) and --keep-runs (after three runs the
store holds the newest one). The rules in detail: tests/test_engine.c and
tests/test_throttle.c."""
from procs import Broker


def test_trigger_min_interval_refuses_the_same_source(procs):
    broker = Broker(procs, extra=["--trigger-min-interval", "1h"])
    first = broker.reply("RETRAIN", {"source": "synthetic:300:1", "reason": "a"})
    assert first["ok"], first
    again = broker.reply("RETRAIN", {"source": "synthetic:300:1", "reason": "b"})
    assert not again["ok"] and again["code"] == "unavailable", again
    assert "source synthetic:300:1 was triggered less than 1h ago (--trigger-min-interval)" in again["error"]
    other = broker.reply("RETRAIN", {"source": "synthetic:300:2", "reason": "c"})
    assert other["ok"], other
    assert len(broker.runs()) == 2


def test_keep_runs_removes_older_ended_runs(procs):
    broker = Broker(procs, extra=["--keep-runs", "1"])
    broker.all_workers(trains=1)
    for seed in (1, 2, 3):
        run = broker.request("RETRAIN", {"source": "synthetic:300:%d" % seed, "reason": "r"})
        assert broker.wait_run(run["run_id"], timeout=60)["state"] == "succeeded"
    assert [r["id"] for r in broker.runs()] == [3]
    assert broker.models()["production"] >= 1
    assert "retention runs_removed=1" in procs.log(broker.proc)
