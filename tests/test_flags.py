"""test_flags.py: every duration flag of every binary reads a DURATION the
same way (common/duration.h): a number and a unit (ms, s, m, h, d); a bare
number, a wrong unit, zero, a negative or an out-of-range value is a usage
error (exit 2) whose message names the flag and the text given; each
binary's --help states the rule.

A value is shown to be accepted by putting --help after it: every binary
parses its flags in order, so it prints its help and exits 0 only when the
value before it was taken. No process here outlives its subprocess.run.
"""
import subprocess

import pytest

from procs import exe, free_endpoint

RULE = "DURATION is a number with a unit"
GATEWAY = ["mlops-gateway"]
INFER = ["mlops-worker", "--stage", "infer"]
STAGE = ["mlops-worker", "--stage", "train"]
BROKER = ["mlops-broker"]
CLI = ["mlops", "status"]

# (command, flag, a good value, its lower bound, its upper bound or None)
FLAGS = [
    (BROKER, "--heartbeat", "200ms", "10ms", "10m"),
    (BROKER, "--backoff", "100ms", None, None),
    (BROKER, "--timeout", "2m", None, None),
    (BROKER, "--timeout-max", "6h", None, None),
    (BROKER, "--schedule", "24h", None, None),
    (BROKER, "--load-wait", "2s", None, None),
    (STAGE, "--heartbeat", "1.5s", "10ms", "10m"),
    (INFER, "--heartbeat", "200ms", "10ms", "10m"),
    (INFER, "--report", "20s", "10ms", "1m"),
    (GATEWAY, "--heartbeat", "250ms", "10ms", "10m"),
    (GATEWAY, "--deadline", "300ms", "1ms", "1h"),
    (GATEWAY, "--broker-timeout", "3s", "1ms", "1h"),
    (GATEWAY, "--client-timeout", "10s", "1s", "1d"),
    (CLI, "--timeout", "5s", None, None),
]
IDS = ["%s %s" % (" ".join(c), f) for c, f, *_ in FLAGS]


def run(command, *args):
    return subprocess.run([exe(command[0]), *command[1:], *args], capture_output=True, text=True,
                          timeout=10)


@pytest.mark.parametrize("command,flag,good,low,high", FLAGS, ids=IDS)
def test_a_value_with_a_unit_is_taken(command, flag, good, low, high):
    out = run(command, flag, good, "--help")
    assert out.returncode == 0, out.stderr
    assert flag + " DURATION" in out.stdout or (flag == "--timeout" and "[STAGE=]DURATION" in out.stdout)
    assert RULE in out.stdout and "a bare number is refused" in out.stdout


@pytest.mark.parametrize("command,flag,good,low,high", FLAGS, ids=IDS)
@pytest.mark.parametrize("bad,says", [
    ("200", "has no unit: write 200ms or 200s"),
    ("1.5", "has no unit: write 1.5ms or 1.5s"),
    ("2 s", "bad duration unit in '2 s'"),
    ("5w", "bad duration unit in '5w'"),
    ("soon", "bad duration 'soon'"),
    ("-3s", "bad duration '-3s'"),
    ("0s", "bad duration '0s'"),
    ("", "empty duration"),
    ("1000000d", "is over 100 years"),
])
def test_a_bad_value_is_a_usage_error_naming_flag_and_value(command, flag, good, low, high, bad, says):
    out = run(command, flag, bad, "--help")
    assert out.returncode == 2, (out.returncode, out.stdout)
    first = out.stderr.splitlines()[0]
    assert first.startswith("%s: %s: " % (command[0], flag)), first
    assert says in first, first


def _below(text):
    """A value just under a bound: 10ms -> 9ms, 1s -> 999ms, 1ms -> 0.5ms."""
    return {"10ms": "9ms", "1ms": "0.5ms", "1s": "999ms"}[text]


def _above(text):
    return {"1m": "61s", "10m": "601s", "1h": "61m", "1d": "25h"}[text]


@pytest.mark.parametrize("command,flag,good,low,high", [f for f in FLAGS if f[3]],
                         ids=[i for i, f in zip(IDS, FLAGS) if f[3]])
def test_out_of_range_names_the_range(command, flag, good, low, high):
    for value in (_below(low), _above(high)):
        out = run(command, flag, value, "--help")
        assert out.returncode == 2, value
        first = out.stderr.splitlines()[0]
        if value == "0.5ms":   # under 1 ms is no duration at all
            assert "is under 1 ms" in first, first
        else:
            assert "%s: '%s' is out of range %s..%s" % (flag, value, low, high) in first, first
    for value in (low, high):   # the bounds themselves are taken
        assert run(command, flag, value, "--help").returncode == 0, (flag, value)


def test_client_timeout_is_whole_seconds():
    out = run(GATEWAY, "--client-timeout", "1500ms", "--help")
    assert out.returncode == 2
    assert "--client-timeout: '1500ms' is not a whole number of seconds" in out.stderr
    assert run(GATEWAY, "--client-timeout", "2000ms", "--help").returncode == 0


def test_load_wait_zero_means_do_not_wait():
    # the one bare number any flag takes: 0, where it means "off" (--help says so)
    out = run(BROKER, "--load-wait", "0", "--help")
    assert out.returncode == 0 and "0 = do" in out.stdout


def test_the_cli_waits_as_long_as_its_timeout_says():
    endpoint = free_endpoint()   # nobody listens there
    out = subprocess.run([exe("mlops"), "status", "--control", endpoint, "--timeout", "300ms"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 1 and "within 300 ms" in out.stderr, out.stderr


def test_other_number_flags_name_the_value():
    out = run(STAGE, "--liveness", "x")
    assert out.returncode == 2 and "--liveness wants a whole number in 1..1000, not 'x'" in out.stderr
    out = run(INFER, "--model-version", "-1")
    assert out.returncode == 2 and "--model-version wants a whole number" in out.stderr
    assert "not '-1'" in out.stderr
    out = run(STAGE, "--heartbeat", "1s", "extra")
    assert out.returncode == 2 and "unexpected argument 'extra'" in out.stderr
