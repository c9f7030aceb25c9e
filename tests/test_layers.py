"""test_layers.py: the layering of README's layout table holds at build time.

Each directory compiles with the include path of its layer (the Makefile's
INC_<dir>), so a header of a layer above, or beside, is not found. These
tests compile one-line probes with each directory's real flags: the allowed
arrows build, the forbidden ones fail with "No such file" for that header.
"""
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (directory, header it must NOT see): one forbidden arrow per pair
FORBIDDEN = [
    ("common", "msg.h"), ("common", "model.h"), ("common", "store.h"),
    ("proto", "model.h"), ("proto", "store.h"), ("proto", "gateway.h"),
    ("ml", "store.h"), ("ml", "agent.h"), ("ml", "gateway.h"),
    ("gateway", "store.h"), ("gateway", "broker.h"), ("gateway", "model.h"),
    ("broker", "gateway.h"), ("broker", "model.h"), ("broker", "agent.h"),
    ("workers", "store.h"), ("workers", "gateway.h"),
    ("cli", "store.h"), ("cli", "agent.h"), ("cli", "gateway.h"),
]
# (directory, header it must see)
ALLOWED = [
    ("common", "err.h"), ("proto", "err.h"), ("proto", "msg.h"),
    ("ml", "table.h"), ("ml", "model.h"), ("workers", "model.h"),
    ("workers", "agent.h"), ("broker", "msg.h"), ("broker", "store.h"),
    ("gateway", "msg.h"), ("gateway", "router.h"), ("cli", "model.h"),
]


def _includes(directory):
    out = subprocess.run(["make", "-s", "includes-" + directory], cwd=REPO,
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def _compile(directory, header, tmp_path):
    probe = tmp_path / "probe.c"
    probe.write_text('#include "%s"\n' % header)
    cflags = subprocess.run(["pkg-config", "--cflags", "libczmq", "msgpack",
                             "lmdb", "libmicrohttpd", "jansson"],
                            capture_output=True, text=True).stdout.split()
    return subprocess.run(
        ["cc", "-std=c11", "-D_GNU_SOURCE", "-fsyntax-only",
         *_includes(directory), *cflags, str(probe)],
        cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("directory,header", FORBIDDEN)
def test_forbidden_arrow_fails_to_build(directory, header, tmp_path):
    r = _compile(directory, header, tmp_path)
    assert r.returncode != 0
    assert "%s: No such file" % header in r.stderr


@pytest.mark.parametrize("directory,header", ALLOWED)
def test_allowed_arrow_builds(directory, header, tmp_path):
    r = _compile(directory, header, tmp_path)
    assert r.returncode == 0, r.stderr
