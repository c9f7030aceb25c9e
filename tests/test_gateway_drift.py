"""test_gateway_drift.py: the broker's drift gauges on the gateway's
/metrics (gateway/drift_gauges.c), with real processes: they appear once a
version's window has rows, with the broker's own names, labels and values;
they go when the broker stops answering; a scripted broker's refusal or
unreadable answer shows none (the latter logged) and the gateway carries
on; a gateway without --broker has none."""
import os
import random

import pytest
import requests

import drift_stack
from drift_stack import drift, post, shifted, titanic_records, window_rows
from procs import TITANIC, Gateway, read_log, wait_for
from test_api import NO_POLL, scripted  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(not os.path.exists(TITANIC), reason="no Titanic file")

MIN_ROWS = 400
POLL_SEC = 5            # DRIFT_GAUGES_POLL_MSEC


def drift_lines(gw):
    """The gateway's drift samples: {name{labels}: value}, and the HELP lines."""
    text = requests.get(gw.url + "/metrics", timeout=5).text
    samples, helps = {}, []
    for line in text.splitlines():
        if line.startswith("# HELP mlops_feature_") or line.startswith("# HELP mlops_drift_"):
            helps.append(line.split()[2])
        elif line.startswith(("mlops_feature_drift{", "mlops_feature_psi{", "mlops_drift_window_rows{")):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples, helps


def test_gauges_follow_the_brokers_windows_and_go_with_the_broker(procs):
    broker, gw = drift_stack.watched_stack(procs, MIN_ROWS, "0.2", "--drift-cooldown", "1h",
                                           gateway=("--broker-timeout", "500ms"))
    rng = random.Random(7)
    records = titanic_records()
    moved = [shifted(rng.choice(records)) for _ in range(2 * MIN_ROWS)]
    post(gw, moved)
    wait_for(lambda: window_rows(broker, 1) == len(moved), what="the shifted rows counted")
    rows = 'mlops_drift_window_rows{version="1"}'
    wait_for(lambda: drift_lines(gw)[0].get(rows) == len(moved), timeout=4 * POLL_SEC,
             what="the drift gauges on the gateway's /metrics")
    samples, helps = drift_lines(gw)
    assert helps == ["mlops_feature_drift", "mlops_feature_psi", "mlops_drift_window_rows"]
    fields = drift(broker)["versions"][0]["fields"]
    assert len(samples) == 2 * len(fields) + 1, samples
    for f in fields:   # the broker's values, as its exporter prints them
        assert samples['mlops_feature_drift{version="1",field="%s"}' % f["name"]] == round(f["js"], 6)
        assert samples['mlops_feature_psi{version="1",field="%s"}' % f["name"]] == round(f["psi"], 6)
    assert samples['mlops_feature_drift{version="1",field="Fare"}'] >= 0.2
    assert samples['mlops_feature_drift{version="1",field="Embarked"}'] < 0.2

    # a silent broker: the next poll gets no answer and the gauges go
    broker.kill()
    wait_for(lambda: drift_lines(gw) == ({}, []), timeout=4 * POLL_SEC,
             what="the drift gauges gone with the broker")
    assert requests.get(gw.url + "/metrics", timeout=5).status_code == 200


def test_a_gateway_without_broker_shows_no_drift(procs):
    gw = Gateway(procs)
    text = requests.get(gw.url + "/metrics", timeout=5).text
    assert "mlops_gateway_requests_total" in text
    assert "mlops_feature_drift" not in text and "mlops_drift_window_rows" not in text


def test_a_refused_or_unreadable_answer_shows_none(procs, scripted):  # noqa: F811
    refused = {"ok": False, "error": "DRIFT is not a control command", "data": None, "code": "invalid"}
    unreadable = {"ok": True, "error": "", "data": {"threshold": "high"}, "code": ""}
    b = scripted([refused, unreadable])
    gw = Gateway(procs, "--broker", b.endpoint, *NO_POLL)
    assert drift_lines(gw) == ({}, [])   # the first scrape starts the polls
    wait_for(lambda: len(b.got) == 1, what="the first DRIFT")
    assert b.got[0] == ("DRIFT", {})
    wait_for(lambda: drift_lines(gw) == ({}, []) and len(b.got) == 2, timeout=4 * POLL_SEC,
             what="the second DRIFT")
    wait_for(lambda: "the broker's DRIFT answer is unreadable" in read_log(gw.proc),
             what="the unreadable answer logged")
    assert drift_lines(gw) == ({}, []) and gw.health().status_code in (200, 503)
