"""test_retrain_source.py: the broker refuses a RETRAIN whose source breaks the
grammar (proto/source.h) before any run starts: REPLY code `invalid`, the
rule named, no run recorded; a good source of each kind is taken. Also
through the CLI and with an empty source, which means the broker's --source.
"""

from procs import Broker, read_log


def retrain(broker, source):
    return broker.reply("RETRAIN", {"source": source, "reason": "test"})


def test_bad_sources_are_refused_before_any_run(procs):
    broker = Broker(procs)
    cases = [
        ("synthetic:9", "RETRAIN: synthetic: rows 9 outside 10..10000000"),
        ("synthetic:20000000", "RETRAIN: synthetic: rows 20000000 outside 10..10000000"),
        ("synthetic:lots", "RETRAIN: synthetic: rows 'lots' is not a number"),
        ("synthetic:100:x", "RETRAIN: synthetic: seed 'x' is not a number"),
        ("synthetic:1:2:3", "RETRAIN: synthetic: too many parts (synthetic[:ROWS[:SEED]])"),
        ("dataset:abc", "RETRAIN: dataset: 'abc' is not a dataset hash (64 lower-case hex digits)"),
        ("data/a\tb.csv", "RETRAIN: source: byte 6 is a control character"),
    ]
    for source, message in cases:
        reply = retrain(broker, source)
        assert reply is not None and not reply["ok"], (source, reply)
        assert reply["code"] == "invalid" and reply["error"] == message, (source, reply)
    assert broker.runs() == []
    assert "control: RETRAIN refused: synthetic: rows 9 outside 10..10000000 source=synthetic:9" \
        in read_log(broker.proc)
    # each kind that parses starts (or joins) a run: the check is syntax only
    for source in ("synthetic:50:1", "no/such/file.csv", "dataset:" + "ab" * 32):
        reply = retrain(broker, source)
        assert reply["ok"], (source, reply)
    assert len(broker.runs()) >= 1


def test_the_broker_default_source_is_checked_too(procs):
    broker = Broker(procs, extra=["--source", "synthetic:5"])
    reply = retrain(broker, "")
    assert not reply["ok"] and reply["code"] == "invalid"
    assert reply["error"] == "RETRAIN: synthetic: rows 5 outside 10..10000000"
    out = broker.cli("retrain", "--source", "synthetic:0")
    assert out.returncode != 0 and "rows 0 outside 10..10000000" in out.stderr, out
    assert broker.runs() == []
