#!/usr/bin/env bash
# run.sh: runs every benchmark: each bench/*.sh driver (except this one),
# then each build/release/bench/bench_* binary that no driver mentions by
# name (those take no arguments). `make bench` builds and calls this.
set -u
cd "$(dirname "$0")/.."
rc=0
for s in bench/*.sh; do
    [ "$(basename "$s")" = run.sh ] && continue
    echo "=== $s"
    bash "$s" || rc=1
done
for b in build/release/bench/bench_*; do
    [ -x "$b" ] || continue
    name=$(basename "$b")
    grep -lq -- "$name" bench/*.sh 2>/dev/null && grep -l -- "$name" bench/*.sh | grep -vq run.sh && continue
    echo "=== $b"
    "$b" || rc=1
done
exit $rc
