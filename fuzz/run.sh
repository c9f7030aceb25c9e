#!/usr/bin/env bash
# run.sh: runs each libFuzzer binary given as an argument (build/fuzz/bin/fuzz_NAME)
# for FUZZ_SECONDS (default 60) on a scratch copy of its seed corpus
# fuzz/corpus/NAME, with leak detection on, and prints one line per target
# with the number of executions. Exit 1 on any crash, leak, timeout or OOM;
# the reproducer is left in fuzz/out/NAME-* and the log in fuzz/out/NAME.log.
#   make fuzz FUZZ_SECONDS=600            (builds, then runs every target)
#   FUZZ_SECONDS=600 fuzz/run.sh build/fuzz/bin/fuzz_msg
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
if [ $# -eq 0 ]; then
    echo "usage: FUZZ_SECONDS=N fuzz/run.sh build/fuzz/bin/fuzz_NAME..." >&2
    exit 2
fi
mkdir -p fuzz/out
status=0
for bin in "$@"; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    if [ ! -x "$bin" ]; then
        echo "fuzz $name: $bin is not built (make fuzz-build)"
        status=1
        continue
    fi
    work=$(mktemp -d)
    seeds=0
    if [ -d "fuzz/corpus/$name" ]; then
        cp -r "fuzz/corpus/$name/." "$work/"
        seeds=$(find "$work" -type f | wc -l)
    fi
    log="fuzz/out/$name.log"
    rm -f "fuzz/out/$name-"*
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$bin" "$work" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="fuzz/out/$name-" >"$log" 2>&1
    rc=$?
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
    found=$(find "$work" -type f | wc -l)
    rm -rf "$work"
    if [ $rc -eq 0 ]; then
        echo "fuzz $name: ok, ${execs:-?} executions in ${secs}s, corpus $seeds -> $found inputs"
    else
        echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} executions; log $log"
        grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20
        status=1
    fi
done
exit $status
