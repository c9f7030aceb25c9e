"""test_broker_metrics.py: `mlops-broker --metrics ADDR:PORT` (broker/exporter.h)
through real processes on loopback:

- after a run, a scrape of GET /metrics parses as the Prometheus text format
  (a small parser below: every sample belongs to a family with HELP and TYPE,
  histogram buckets are cumulative and end in +Inf = _count) and its values
  say what happened: the run succeeded, each stage's tasks were dispatched
  and done, nothing is queued, the workers are idle, the store is in use;
- a metrics port already in use fails the broker at start, naming the flag.
"""
import re
import socket
import subprocess

import requests

from procs import Broker, broker_argv, free_endpoint, free_port, wait_for

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
SUFFIXES = ("_bucket", "_sum", "_count")


def parse(text):
    """{(name, frozenset(labels.items())): value} of an exposition, checking
    the format as it goes (AssertionError naming the line)."""
    types, helps, samples = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
        else:
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            name, labels = m.group(1), dict(LABEL.findall(m.group(3) or ""))
            family = name
            for suffix in SUFFIXES:
                if name.endswith(suffix) and name[:-len(suffix)] in types:
                    family = name[:-len(suffix)]
            assert family in types and family in helps, "no TYPE/HELP for %r" % line
            if types[family] == "counter":
                assert name.endswith("_total"), line
            key = (name, frozenset(labels.items()))
            assert key not in samples, "repeated sample %r" % line
            samples[key] = float(m.group(4).replace("+Inf", "inf"))
    s_check_histograms(types, samples)
    return samples


def s_check_histograms(types, samples):
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), value in samples.items():
            if name == family + "_bucket":
                rest = frozenset(kv for kv in labels if kv[0] != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((float(le.replace("+Inf", "inf")), value))
        assert series, "histogram %s has no buckets" % family
        for rest, buckets in series.items():
            counts = [v for _, v in sorted(buckets)]
            assert counts == sorted(counts), "%s buckets not cumulative" % family
            assert sorted(buckets)[-1][0] == float("inf")
            assert counts[-1] == samples[(family + "_count", rest)]


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def test_scrape_after_a_run(procs):
    port = free_port()
    broker = Broker(procs, extra=["--metrics", "127.0.0.1:%d" % port])
    broker.all_workers(trains=2)
    run_id = broker.request("RETRAIN", {"source": "synthetic:300:3"})["run_id"]
    assert broker.wait_run(run_id, timeout=60)["state"] == "succeeded"
    url = "http://127.0.0.1:%d/metrics" % port

    def scraped():
        r = requests.get(url, timeout=5)
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        s = parse(r.text)
        return s if value(s, "mlops_runs_total", state="succeeded") == 1 else None
    s = wait_for(scraped, what="the run in the metrics")
    assert value(s, "mlops_runs_total", state="failed") == 0
    assert value(s, "mlops_runs_promoted_total") == 1
    assert value(s, "mlops_run_duration_seconds_count") == 1
    for stage in ("extract", "preprocess", "evaluate", "load_model"):
        assert value(s, "mlops_tasks_dispatched_total", stage=stage) == 1
        assert value(s, "mlops_task_duration_seconds_count", stage=stage) == 1
        assert value(s, "mlops_tasks_queued", stage=stage) == 0
    assert value(s, "mlops_tasks_dispatched_total", stage="train") == 2
    assert value(s, "mlops_tasks_failed_total", stage="train") == 0
    assert value(s, "mlops_workers", stage="train", state="idle") == 2
    assert value(s, "mlops_workers", stage="train", state="busy") == 0
    assert value(s, "mlops_workers", stage="infer", state="serving") == 0
    assert value(s, "mlops_load_waits_total", verdict="none") == 1
    assert 0 < value(s, "mlops_store_used_bytes") <= value(s, "mlops_store_map_bytes")
    assert value(s, "mlops_active_run") == 0
    assert requests.get("http://127.0.0.1:%d/other" % port, timeout=5).status_code == 404


def test_metrics_port_in_use_fails_at_start(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        argv = broker_argv(str(tmp_path / "store"), free_endpoint(), free_endpoint(), free_endpoint(),
                           "--metrics", "127.0.0.1:%d" % port)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "--metrics 127.0.0.1:%d: cannot listen: Address already in use" % port in p.stderr


def test_bad_metrics_spec_fails_at_start(tmp_path):
    argv = broker_argv(str(tmp_path / "store"), free_endpoint(), free_endpoint(), free_endpoint(),
                       "--metrics", "9100")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "--metrics '9100': expected ADDR:PORT" in p.stderr
