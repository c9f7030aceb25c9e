"""test_store_limit.py: `mlops-broker --store-size`: a store that reaches its
limit fails the run once (no retry) with a message that says which flag to
raise, logs it once, and the broker keeps serving the next (smaller)
trigger. The disk that refuses writes (ENOSPC, EIO) is tests/test_engine.c's,
injected through store_inject_fault."""
import subprocess

import pytest

from procs import BIN, Broker


def test_full_store_fails_the_run_naming_the_flag_and_broker_goes_on(procs):
    broker = Broker(procs, extra=["--store-size", "4M", "--max-attempts", "1"])
    broker.all_workers(trains=1)
    big = broker.request("RETRAIN", {"source": "synthetic:100000:3", "reason": "too big"})
    run = broker.wait_run(big["run_id"], timeout=60)
    assert run["state"] == "failed"
    assert "full at its maximum size of 4 MiB" in run["error"], run["error"]
    assert "raise --store-size" in run["error"]
    small = broker.request("RETRAIN", {"source": "synthetic:300:3", "reason": "fits"})
    assert broker.wait_run(small["run_id"], timeout=60)["state"] == "succeeded"
    assert broker.models()["production"] == 1


@pytest.mark.parametrize("value", ["12x", "100k", "", "-5G"])
def test_bad_store_size_is_refused(value):
    out = subprocess.run([BIN + "/mlops-broker", "--store-size", value],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "--store-size: expected a size of at least 1M" in out.stderr


def test_full_store_fails_the_run_once_without_retrying(procs):
    # default --max-attempts (3). Since stage outputs travel by reference the
    # first write that meets the limit is the extract worker's upload to the
    # data service, refused with the store's message; the worker reports it
    # as a failed attempt, so the attempts are bounded by --max-attempts (not
    # a loop) and the run fails saying which flag to raise. The broker's own
    # refused writes (fail once, no retry) are test_engine.c's.
    broker = Broker(procs, extra=["--store-size", "4M"])
    broker.all_workers(trains=1)
    big = broker.request("RETRAIN", {"source": "synthetic:100000:3", "reason": "too big"})
    run = broker.wait_run(big["run_id"], timeout=60)
    assert run["state"] == "failed"
    assert "raise --store-size" in run["error"], run["error"]
    assert 1 <= run["tasks"][0]["attempts"] <= 3
    log = procs.log(broker.proc)
    assert log.count("dispatch task=1-extract") == run["tasks"][0]["attempts"], log
    small = broker.request("RETRAIN", {"source": "synthetic:300:3", "reason": "fits"})
    assert broker.wait_run(small["run_id"], timeout=60)["state"] == "succeeded"
