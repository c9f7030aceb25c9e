"""test_c_runner.py: the command line every C unit test binary takes
(tests/testing.h): -l lists the test names and runs nothing, -t NAME (any
number of times) runs only those, an unknown name or a -t without one is
exit 2 naming the problem. Driven through build/asan/tests/test_testing."""
import os
import subprocess

import pytest

from procs import REPO

BINARY = os.path.join(REPO, "build", "asan", "tests", "test_testing")
NAMES = ["test_tmpdir_is_fresh_and_private", "test_tmpdir_refuses_a_short_buffer",
         "test_rmtree_removes_everything_but_follows_no_link", "test_rmtree_of_a_missing_path_is_enoent"]


def run(*args):
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"{BINARY} is missing: build it first (make {os.path.relpath(BINARY, REPO)})")
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30)


def test_list_prints_every_name_and_runs_nothing():
    out = run("-l")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == NAMES


def test_t_runs_only_the_named_tests_in_source_order():
    out = run("-t", NAMES[3], "-t", NAMES[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["ok   " + NAMES[1], "ok   " + NAMES[3],
                                       "test_testing: 2 passed, 0 failed"]


def test_unknown_name_is_exit_2_naming_it():
    out = run("-t", "test_nope")
    assert out.returncode == 2
    assert out.stdout == ""
    assert "test_testing: no test named 'test_nope' (-l lists them)" in out.stderr
    mixed = run("-t", NAMES[0], "-t", "test_nope")
    assert mixed.returncode == 2 and "ok   " + NAMES[0] in mixed.stdout
    assert "'test_nope'" in mixed.stderr


def test_t_without_a_name_is_a_usage_error():
    out = run("-t")
    assert out.returncode == 2 and "-t takes one test name" in out.stderr


def test_without_options_everything_runs():
    out = run()
    assert out.returncode == 0
    assert out.stdout.splitlines()[-1] == "test_testing: 4 passed, 0 failed"
